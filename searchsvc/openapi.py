"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Limits (page, per_page, query length) and the sort orders come from the
running settings and ``search.SORTS``, so the description follows the code;
tests/test_openapi.py runs Schemathesis against the app to keep it true.
Fields marked optional below are added by later API work (cursor paging,
several passages, wire-copy grouping, explanations) and are described here
so clients can rely on their shape once they appear.
"""
from __future__ import annotations

from searchsvc import __version__
from searchsvc.config import Settings
from searchsvc.search import MISSING, SORTS

NULLABLE_STRING = {"type": ["string", "null"]}
# What search._date_param accepts, but for days a month lacks (2023-02-29: a 400, named)
ISO_DATE_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"


def openapi_spec(settings: Settings) -> dict:
    """The whole document: paths, parameters, response and error shapes."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "searchsvc",
            "version": __version__,
            "description": "Full-text search over news articles. Every error is "
                           "`{\"error\": {\"code\", \"message\"}}`; no response carries a traceback.",
        },
        "paths": {
            "/api/search": {"get": _search_operation(settings)},
            "/api/article/{doc_id}": {"get": _article_operation(settings)},
            "/api/article": {"get": _article_operation(settings, by_query=True)},
            "/api/stats": {"get": _stats_operation()},
            "/api/health": {"get": _health_operation()},
            "/api/openapi.json": {"get": _openapi_operation()},
        },
        "components": {"schemas": _schemas(), "responses": _responses()},
    }


def _param(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


def _search_operation(settings: Settings) -> dict:
    return {
        "operationId": "search",
        "summary": "Search the articles",
        "description": "Ranked, highlighted results with exact totals and facet counts. "
                       "The empty query lists the newest articles first.",
        "parameters": [
            _param("q", "The query: words, \"phrases\", -excluded, OR, field:word, prefix*. "
                        "Empty: newest first.",
                   {"type": "string", "maxLength": settings.max_query_chars}),
            _param("page", "Page number, from 1.",
                   {"type": "integer", "minimum": 1, "maximum": settings.max_page, "default": 1}),
            _param("per_page", "Hits per page.",
                   {"type": "integer", "minimum": 1, "maximum": settings.max_per_page,
                    "default": settings.per_page}),
            _param("sort", "`relevance`, `date` (newest first)"
                           + (", or `recent` (relevance blended with age)" if "recent" in SORTS else "") + ".",
                   {"type": "string", "enum": list(SORTS), "default": "relevance"}),
            _param("source", "Only articles from these sources (repeatable).",
                   {"type": "array", "items": {"type": "string"}}, style="form", explode=True),
            _param("from", "Published on or after this date (YYYY-MM-DD; YYYY or YYYY-MM: from its first day). "
                           "A day the month does not have is a 400; year 0000 means the earliest date.",
                   {"type": "string", "pattern": ISO_DATE_PATTERN}),
            _param("to", "Published on or before this date (YYYY-MM-DD; YYYY or YYYY-MM: to its last day). "
                         "A day the month does not have is a 400; year 0000 means the earliest date.",
                   {"type": "string", "pattern": ISO_DATE_PATTERN}),
            _param("missing", "Also (or, alone, only) the articles without a value in that facet: `source` "
                              "(no source) or `date` (undated); the facets' `missing` buckets (repeatable).",
                   {"type": "array", "items": {"type": "string", "enum": list(MISSING)}}, style="form", explode=True),
            _param("after", "Cursor from a previous response's `next`: the following page of the same "
                            "query, filters and order (for deep paging; `page` is then ignored).",
                   {"type": "string"}),
            _param("collapse", "Group wire copies of one story under its first hit (`duplicates`).",
                   {"type": "boolean", "default": True}),
            _param("explain", "Add `explain` to each hit: which query words matched where, and how.",
                   {"type": "boolean", "default": False}),
        ],
        "responses": {
            "200": {"description": "One page of results.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    }


def _article_operation(settings: Settings, by_query: bool = False) -> dict:
    """``/api/article/{doc_id}``, or with ``by_query`` ``/api/article?id=`` (any id: one starting with ``/``,
    with ``.`` or ``..`` segments or a newline cannot travel in a path)."""
    where = ({"name": "id", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "The article's id (a hit's `id`), whatever it holds."} if by_query else
             {"name": "doc_id", "in": "path", "required": True, "description": "The article's id (a hit's `id`).",
              "schema": {"type": "string"}})
    return {
        "operationId": "article_by_id" if by_query else "article",
        "summary": "One article as cleaned, with its metadata (the JSON twin of "
                   + ("/article?id=" if by_query else "/article/{doc_id}") + ")",
        "parameters": [
            where,
            _param("q", "A query whose words are marked in `title_html` and `body_html`.",
                   {"type": "string", "maxLength": settings.max_query_chars}),
        ],
        "responses": {
            "200": {"description": "The article.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Article"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "404": {"$ref": "#/components/responses/NotFound"},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    }


def _stats_operation() -> dict:
    return {
        "operationId": "stats",
        "summary": "Documents, stories, sources and years with their counts, last reindex",
        "responses": {
            "200": {"description": "The live index's figures.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stats"}}}},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    }


def _health_operation() -> dict:
    return {
        "operationId": "health",
        "summary": "Whether the index can be searched, and how many documents it holds",
        "responses": {
            "200": {"description": "The index is open.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
            "503": {"description": "There is no index (yet), or it cannot be opened.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
        },
    }


def _openapi_operation() -> dict:
    return {
        "operationId": "openapi",
        "summary": "This description",
        "responses": {
            "200": {"description": "An OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["openapi", "info", "paths"],
                        "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                                       "paths": {"type": "object"}}}}}},
        },
    }


def _schemas() -> dict:
    facet_list = {"type": "array", "items": {"$ref": "#/components/schemas/FacetValue"}}
    return {
        "SearchResponse": {
            "type": "object",
            "required": ["query", "total", "page", "per_page", "pages", "took_ms", "suggestion", "hits", "facets"],
            "properties": {
                "query": {"type": "string"},
                "total": {"type": "integer", "minimum": 0,
                          "description": "Exact number of hits that can be paged through: stories with "
                                         "`collapse=true` (each group of near-duplicates once), else articles. "
                                         "For a query of two or three words, the articles with every word, or, "
                                         "when they do not fill a page, every article with any of the words."},
                "articles": {"type": "integer", "minimum": 0,
                             "description": "Exact number of matching articles; every facet adds up to it."},
                "offset": {"type": "integer", "minimum": 0, "description": "Hits before this page."},
                "sort": {"type": "string", "enum": list(SORTS),
                         "description": "The order of the hits (`date` for the empty query's default)."},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                "pages": {"type": "integer", "minimum": 0},
                "took_ms": {"type": "number", "minimum": 0},
                "suggestion": {**NULLABLE_STRING, "description": "A corrected query (did-you-mean), or null."},
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "facets": {
                    "type": "object",
                    "required": ["source", "year"],
                    "properties": {"source": facet_list, "year": facet_list},
                },
                "next": {**NULLABLE_STRING,
                         "description": "Opaque cursor for the following page (`after=`); null on the last page."},
                "corrected": {"type": "boolean",
                              "description": "True when nothing matched the query and the hits answer `suggestion`."},
                "relaxed": {"type": "boolean",
                            "description": "True when nothing matched the query's operators (a phrase, OR, AND, "
                                           "a field, a prefix) and the hits answer its words instead: every "
                                           "positive word, phrases ranking higher where they occur, exclusions kept."},
                "total_all_words": {
                    "type": ["integer", "null"], "minimum": 0,
                    "description": "Of `total`, how many have every word of the query (counted as `total` is); "
                                   "they come first, in every sort order, and the rest follow, those with most "
                                   "of the words first. Null when the query is not ordered that way (no words, "
                                   "one word, or a longer question ranked by relevance alone)."},
            },
        },
        "Hit": {
            "type": "object",
            "required": ["id", "title", "url", "published", "author", "source", "score", "snippet"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "title_html": {"type": "string",
                               "description": "HTML: the title escaped, with <mark> around the query's words."},
                "url": NULLABLE_STRING,
                "published": {**NULLABLE_STRING, "description": "ISO 8601 in UTC (`Z`), or null."},
                "author": NULLABLE_STRING,
                "source": NULLABLE_STRING,
                "score": {"type": "number"},
                "snippet": {"type": "string",
                            "description": "HTML: the article's text escaped, with <mark> around matched words."},
                "snippets": {"type": "array", "items": {
                    "type": "object", "required": ["text", "offset"],
                    "properties": {"text": {"type": "string"}, "offset": {"type": "integer", "minimum": 0}}}},
                "duplicates": {"type": "array", "items": {
                    "type": "object", "required": ["id", "title", "source", "published"],
                    "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                   "source": NULLABLE_STRING, "published": NULLABLE_STRING}}},
                "explain": {"type": "object", "properties": {"matched": {"type": "array", "items": {
                    "type": "object", "required": ["term", "field", "via"],
                    "properties": {"term": {"type": "string"}, "field": {"type": "string"},
                                   "via": {"type": "string", "enum": ["exact", "stem", "correction"]}}}}}},
            },
        },
        "FacetValue": {
            "type": "object",
            "required": ["value", "count"],
            "properties": {"value": {"type": "string"}, "count": {"type": "integer", "minimum": 0},
                           "missing": {"type": "boolean",
                                       "description": "The articles without a value (`value` is \"\"): "
                                                      "chosen with `missing=source` or `missing=date`."}},
        },
        "Article": {
            "type": "object",
            "required": ["id", "title", "body", "url", "published", "author", "source", "topics"],
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"},
                "body": {"type": "string", "description": "The cleaned text; paragraphs separated by a blank line."},
                "url": NULLABLE_STRING, "published": NULLABLE_STRING, "author": NULLABLE_STRING,
                "source": NULLABLE_STRING, "topics": {"type": "array", "items": {"type": "string"}},
                "title_html": {"type": "string"}, "body_html": {"type": "string"},
                "matches": {"type": "integer", "minimum": 0, "description": "Marked words in `body_html`."},
            },
        },
        "Stats": {
            "type": "object",
            "required": ["documents", "stories", "sources", "years", "last_reindex"],
            "properties": {
                "documents": {"type": "integer", "minimum": 0},
                "stories": {"type": "integer", "minimum": 0, "description": "Near-duplicate groups."},
                "sources": facet_list, "years": facet_list,
                "last_reindex": {**NULLABLE_STRING, "description": "ISO 8601, UTC."},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "documents"],
            "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                           "documents": {"type": "integer", "minimum": 0},
                           "message": {"type": "string"}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string", "description": "Machine-readable, e.g. `bad_page`."},
                               "message": {"type": "string", "description": "Safe to show to a person."}}}},
        },
    }


def _responses() -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "BadRequest": {"description": "A parameter cannot be used as given.", "content": error},
        "Unavailable": {"description": "There is no index (yet), or it cannot be opened.", "content": error},
        "NotFound": {"description": "No article has this id.", "content": error},
    }
