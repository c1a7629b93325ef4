"""The web door: the search page and the JSON API, thin over ``search``.

``create_app(settings)`` follows Flask's application-factory pattern; the
live index handle lives in ``app.extensions["searchsvc"]``. Errors from the
core carry their HTTP status; under ``/api/`` every error is JSON
(``{"error": {"code", "message"}}``) and no response ever carries a traceback.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import orjson
from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest, HTTPException

from searchsvc import __version__
from searchsvc.config import Settings
from searchsvc.errors import BadRequest, IndexUnavailable, SearchsvcError
from searchsvc.openapi import openapi_spec
from searchsvc.highlight import highlight_html
from searchsvc.search import (SORTS, SearchIndex, collection_stats, get_article, request_from_params, search)

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


class OrjsonProvider(DefaultJSONProvider):
    """JSON responses written by orjson: a result page's response in 14 us instead of 47 (a fortieth of a request).

    The same JSON as Flask's provider with ``sort_keys`` off, but non-ASCII
    characters are written as UTF-8 rather than ``\\u`` escapes. Anything
    orjson cannot write goes to Flask's provider.
    """

    sort_keys = False

    def dumps(self, obj, **kwargs) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj).decode("utf-8")
        except TypeError:
            return super().dumps(obj)

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:
            return super().response(obj)
        return self._app.response_class(body, mimetype=self.mimetype)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["SETTINGS"] = settings
    app.extensions["searchsvc"] = SearchIndex(settings)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_error_handler(Exception, handle_error)
    app.wsgi_app = HostCheck(SearchRoute(app, app.wsgi_app))
    app.before_request(refuse_bad_host)
    app.after_request(add_security_headers)
    app.after_request(cache_static)
    app.after_request(relative_redirect)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["human_date"] = human_date
    app.jinja_env.filters["safe_link"] = safe_link
    app.jinja_env.globals["version"] = __version__
    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["sort_labels"] = sort_labels
    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["article_url"] = article_url
    return app


def index() -> SearchIndex:
    return current_app.extensions["searchsvc"]


def settings() -> Settings:
    return current_app.config["SETTINGS"]


# --- pages -------------------------------------------------------------

SORT_LABELS = {"relevance": "Relevance", "date": "Newest", "recent": "Recent and relevant"}
STATIC_MAX_AGE = 365 * 24 * 3600   # versioned asset URLs never change content


@pages.get("/")
def home():
    return render_template("search.html", result=None, req=None, errors={}, view=None, q="")


# A bad parameter's message goes beside the part of the page it belongs to (``errors``);
# the search runs without that parameter, so the page keeps its form, query and filters.
ERROR_PLACES = {"bad_from": "date", "bad_to": "date", "bad_date_range": "date", "query_too_long": "q",
                "bad_sort": "sort", "bad_missing": "filters"}
ERROR_PARAMS = {"bad_date_range": ("from", "to"), "query_too_long": ("q",), "bad_after": ("after", "page")}


@pages.get("/search")
def search_page():
    params = request.args.to_dict(flat=False)
    req, errors = _lenient_request(params)
    q = (params.get("q") or [""])[-1]
    if req is None:  # the query itself cannot be searched: the form only, the message beside the box
        return render_template("search.html", result=None, req=None, errors=errors, view=None, q=q), 400
    result = search(index(), _with_explain(req))
    view = results_view(req, result, _all_sources(req, result), errors, params)
    return render_template("search.html", result=result, req=req, errors=errors, view=view, q=q), \
        400 if errors else 200


def _lenient_request(params: dict) -> tuple:
    """(request, {place: message}): the request without the parameters that cannot be used, and why.

    None for the request when the query itself is the problem.
    """
    errors: dict[str, str] = {}
    params = dict(params)
    for _ in range(len(params) + 1):
        try:
            return request_from_params(params, settings()), errors
        except BadRequest as exc:
            errors.setdefault(ERROR_PLACES.get(exc.code, "page"), str(exc))
            if exc.code == "query_too_long":
                return None, errors
            for name in ERROR_PARAMS.get(exc.code, (exc.code.removeprefix("bad_"),)):
                params.pop(name, None)
    return None, errors


@pages.get("/article/<path:doc_id>")
def article_page(doc_id):
    return _article_page(doc_id)


@pages.get("/article")
def article_by_id():
    """``/article?id=…``: any id, as the index holds it (``article_url`` links here when a path cannot carry it)."""
    return _article_page(request.args.get("id", ""))


def article_url(doc_id: str, q: str | None = None) -> str:
    """The article's page: ``/article/<id>`` while the id reads as a plain path, else ``/article?id=<id>``.

    An id is a record's own (a CMS path, a feed's key) and is kept as it is:
    but a browser drops ``.`` and ``..`` segments from a path, Werkzeug
    merges a doubled or leading slash (redirecting elsewhere), and a path
    rule never matches a newline. A query parameter carries any text
    exactly. static/search.js mirrors this.
    """
    if path_safe(doc_id):
        return url_for("pages.article_page", doc_id=doc_id, q=q or None)
    return url_for("pages.article_by_id", id=doc_id, q=q or None)


UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def path_safe(doc_id: str) -> bool:
    """Whether ``/article/<doc_id>`` reaches this id from any browser.

    Not with an empty, ``.`` or ``..`` segment, nor with a control character.
    """
    return bool(doc_id) and not any(seg in ("", ".", "..") for seg in doc_id.split("/")) \
        and not UNSAFE_IN_PATH.search(doc_id)


def _article_page(doc_id: str):
    article = get_article(index(), doc_id)
    q = request.args.get("q", "")[: settings().max_query_chars]
    body = highlight_html(article.body, q) if q.strip() else None
    marks = body.count("<mark>") if body else 0
    return render_template("article.html", article=article, q=q, marks=marks,
                           body_html=Markup(body) if body else None,
                           title_html=Markup(highlight_html(article.title, q)) if q.strip() else None)


def _with_explain(req):
    """The page shows a small "why" under each hit."""
    return replace(req, explain=True)


def _all_sources(req, result) -> list:
    """Source facet counts without the source filter, so a second source can be added (OR)."""
    if not req.sources and "source" not in req.missing:
        return result.facets.get("source", [])
    unfiltered = search(index(), replace(req, sources=(), missing=tuple(m for m in req.missing if m != "source"),
                                        page=1, per_page=1, after=None, with_snippets=False, explain=False))
    return unfiltered.facets.get("source", [])


def sort_labels() -> list[tuple[str, str]]:
    return [(v, SORT_LABELS.get(v, v.title())) for v in SORTS]


MISSING_LABELS = {"source": "Unknown source", "date": "Undated"}


def results_view(req, result, sources, errors=None, params=None) -> dict:
    """What the summary, filters, sort switch and pager show; static/search.js mirrors it."""
    selected_year = _selected_year(req)
    missing = set(req.missing)
    others = lambda name: [m for m in req.missing if m != name]  # noqa: E731
    active = [(f"Source: {s}", page_url(source=[x for x in req.sources if x != s])) for s in req.sources]
    if "source" in missing:
        active.append(("Source: unknown", page_url(missing=others("source"))))
    if req.date_from or req.date_to:
        label = selected_year or f"{req.date_from or '…'} to {req.date_to or '…'}"
        active.append((f"Date: {label}", page_url(**{"from": None, "to": None})))
    if "date" in missing:
        active.append(("Date: undated", page_url(missing=others("date"))))
    shown = {f.value for f in sources if not f.missing}
    source_items = [
        {"key": f"source:{s}", "value": s, "count": None, "selected": True, "missing": False,
         "url": page_url(source=[x for x in req.sources if x != s])}
        for s in req.sources if s not in shown
    ] + [
        {"key": "missing:source", "value": MISSING_LABELS["source"], "count": f.count, "missing": True,
         "selected": "source" in missing,
         "url": page_url(missing=others("source") if "source" in missing else [*others("source"), "source"])}
        if f.missing else
        {"key": f"source:{f.value}", "value": f.value, "count": f.count, "selected": f.value in req.sources,
         "missing": False,
         "url": page_url(source=[x for x in req.sources if x != f.value] if f.value in req.sources
                         else [*req.sources, f.value])}
        for f in sources
    ]
    year_items = [
        {"key": "missing:date", "value": MISSING_LABELS["date"], "count": f.count, "missing": True,
         "selected": "date" in missing and not (req.date_from or req.date_to),
         "url": page_url(missing=others("date")) if "date" in missing
         else page_url(missing=[*others("date"), "date"], **{"from": None, "to": None})}
        if f.missing else
        {"key": f"year:{f.value}", "value": f.value, "count": f.count, "selected": f.value == selected_year,
         "missing": False,
         "url": page_url(**({"from": None, "to": None} if f.value == selected_year
                            else {"from": f"{f.value}-01-01", "to": f"{f.value}-12-31"}),
                         missing=others("date"))}
        for f in result.facets.get("year", [])
    ]
    sorts = [{"value": v, "label": label, "current": v == result.sort,
              "url": page_url(sort=None if v == "relevance" else v)} for v, label in sort_labels()]
    raw = lambda name: ((params or {}).get(name) or [""])[-1]  # noqa: E731
    return {
        # the words the hits answer: the correction when nothing matched the query itself
        "q": result.suggestion if getattr(result, "corrected", False) else req.q,
        "summary": _summary(req, result),
        "active": active,
        "clear_url": page_url(source=None, missing=None, **{"from": None, "to": None}) if active else None,
        "sources": source_items,
        "years": year_items,
        "sorts": sorts,
        "pager": _pager(result),
        "tiers": result.tiers_note(),
        "past_end": _past_end(req, result),
        "errors": errors or {},
        # the date fields show what was typed, even when it could not be used
        "date_from": req.date_from.isoformat() if req.date_from else raw("from"),
        "date_to": req.date_to.isoformat() if req.date_to else raw("to"),
    }


def _summary(req, result) -> dict:
    """Where this page is and what is counted: "11–20 of 35 stories (38 articles)"."""
    first = result.offset + 1 if result.hits else 0
    return {"first": first, "last": result.offset + len(result.hits), "total": result.total,
            "articles": result.articles if result.total != result.articles else None, "noun": result.counted_noun()}


def _past_end(req, result) -> dict | None:
    """A page number past the last page: which page the results end on, and a link to it."""
    if result.hits or not result.total or request.args.get("after"):
        return None
    last = min(result.pages, settings().max_page)
    return {"page": req.page, "last": last, "url": page_url(page=last if last > 1 else None)}


def _selected_year(req) -> str | None:
    f, t = req.date_from, req.date_to
    if f and t and f.year == t.year and (f.month, f.day, t.month, t.day) == (1, 1, 12, 31):
        return str(f.year)
    return None


def _pager(result) -> dict | None:
    """Previous/next and a window of page numbers; past ``max_page`` the ``next`` cursor leads on."""
    cursor = getattr(result, "next", None)
    in_cursor_mode = bool(request.args.get("after"))
    if in_cursor_mode:
        return {"prev": None, "next": page_url(after=cursor) if cursor else None, "pages": []}
    last = min(result.pages, settings().max_page)
    if result.pages <= 1:
        return None
    nxt = page_url(page=result.page + 1) if result.page < last else (page_url(after=cursor) if cursor else None)
    prev = page_url(page=result.page - 1) if result.page > 1 else None
    numbers = sorted({1, last, *range(max(1, result.page - 2), min(last, result.page + 2) + 1)})
    items, before = [], 0
    for n in numbers:
        if n - before > 1:
            items.append({"gap": True})
        items.append({"number": n, "current": n == result.page, "url": page_url(page=n if n > 1 else None)})
        before = n
    return {"prev": prev, "next": nxt, "pages": items}


def page_url(**changes) -> str:
    """This results page's URL with ``changes`` applied (None removes a parameter).

    Any change other than a page move starts again at the first page.
    """
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == []:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    for key in ("page", "after"):
        if key not in changes:
            args.pop(key, None)
    args = {k: v for k, v in args.items() if k == "q" or any(v)}
    return url_for("pages.search_page", **args)


def asset_url(filename: str) -> str:
    """A static file's URL carrying a hash of its content, so browsers may keep it a year."""
    return url_for("static", filename=filename, v=asset_version(filename))


def asset_version(filename: str) -> str:
    path = Path(current_app.static_folder or "") / filename
    try:
        st = path.stat()
    except OSError:
        return __version__
    return _digest(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def cache_static(response):
    """Versioned assets (``?v=`` matching their content) are cached for a year; others revalidate."""
    if request.endpoint == "static" and response.status_code == 200:
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args.get("v") == asset_version(filename):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = STATIC_MAX_AGE
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
    return response


# --- JSON API -------------------------------------------------------------

@api.get("/search")
def api_search():
    req = request_from_params(request.args.to_dict(flat=False), settings())
    return jsonify(search(index(), req).to_dict())


@api.get("/openapi.json")
def api_openapi():
    """The OpenAPI 3.1 description of every ``/api/`` endpoint (kept true by tests/test_openapi.py)."""
    return jsonify(openapi_spec(settings()))


@api.get("/article/<path:doc_id>")
def api_article(doc_id):
    """The cleaned article and its metadata: the JSON twin of ``/article/<id>`` (``q`` adds ``body_html``)."""
    return _api_article(doc_id)


@api.get("/article")
def api_article_by_id():
    """``/api/article?id=…``: any id, as the index holds it (one a path cannot carry, see ``article_url``)."""
    return _api_article(request.args.get("id", ""))


def _api_article(doc_id: str):
    article = get_article(index(), doc_id)
    data = article.to_dict()
    q = request.args.get("q", "")
    if len(q) > settings().max_query_chars:
        raise BadRequest(f"q is longer than {settings().max_query_chars} characters", "query_too_long")
    if q.strip():
        data["title_html"] = highlight_html(article.title, q)
        data["body_html"] = highlight_html(article.body, q)
        data["matches"] = data["body_html"].count("<mark>")
    return jsonify(data)


@api.get("/stats")
def api_stats():
    """Documents, stories, sources with their counts, last reindex."""
    return jsonify(collection_stats(index()))


@api.get("/health")
def api_health():
    try:
        documents = index().searcher().doc_count()
    except IndexUnavailable as exc:
        return jsonify({"status": "unavailable", "documents": 0, "message": str(exc)}), 503
    return jsonify({"status": "ok", "documents": documents})


# --- errors and headers --------------------------------------------------------

def handle_error(exc):
    if isinstance(exc, HTTPException):
        status, code, message = exc.code or 500, _http_code(exc), exc.description or exc.name
    elif isinstance(exc, SearchsvcError):
        status, code, message = exc.status, exc.code, str(exc)
    else:
        log.exception("unhandled error on %s", request.path)
        status, code, message = 500, "internal_error", "the server could not answer this request"
    if request.path.startswith("/api/") or request.path == "/api":
        response = jsonify({"error": {"code": code, "message": message}})
        response.status_code = status
        if isinstance(exc, HTTPException) and exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response
    return render_template("error.html", status=status, message=message), status


class SearchRoute:
    """In front of Flask: ``GET /api/search`` answered without a request context, routing or response object.

    The JSON API's busiest route is the same ``search`` as ``api_search``,
    the same JSON (orjson), the same headers (``api_search``'s, then
    ``add_security_headers``'), for about 45 µs of CPU where Flask takes 130
    (``bench/web_cost.py``, a cached page; a fresh query costs about 2 ms).
    Anything else, and any request this cannot answer with a 200 (a bad
    parameter, no index, an error of any kind, a bad Host marked by
    ``HostCheck``), goes to Flask, which answers it as before: an error
    costs one more parse of its parameters. tests/test_api.py compares the
    two answers.
    """

    PATH = "/api/search"

    def __init__(self, app: Flask, wsgi_app):
        self.flask_app = app
        self.app = wsgi_app

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") != self.PATH or environ.get("REQUEST_METHOD") != "GET"
                or "searchsvc.bad_host" in environ):
            return self.app(environ, start_response)
        try:
            body = self.answer(environ)
        except Exception:  # Flask's error handlers say what went wrong, as for every other route
            return self.app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                  *SECURITY_HEADERS.items()])
        return [body]

    def answer(self, environ) -> bytes:
        """The response body of ``api_search`` for this request."""
        settings = self.flask_app.config["SETTINGS"]
        req = request_from_params(query_params(environ), settings)
        page = search(self.flask_app.extensions["searchsvc"], req)
        return orjson.dumps(page.to_dict(), option=orjson.OPT_APPEND_NEWLINE)


def query_params(environ) -> dict[str, list[str]]:
    """``request.args.to_dict(flat=False)`` of a WSGI request, parsed as Werkzeug's ``Request.args`` parses it."""
    query = environ.get("QUERY_STRING", "").encode("latin1").decode()
    return MultiDict(parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote")).to_dict(flat=False)


class HostCheck:
    """In front of the app: a Host header that is not a host name is answered 400 by the app's own handlers.

    Werkzeug cannot bind URLs to such a host (``a..b``, a label over 63
    characters, broken punycode), so every page that builds a link, the
    error page included, failed with a bare 500. The request goes on with
    the server's own name in its place, marked, and ``refuse_bad_host``
    answers it: JSON under ``/api/``, the error page elsewhere. Nothing
    the app writes uses the Host header (links and redirects are relative).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host and not valid_host(host):  # an empty one is allowed (RFC 9112): the server's name is used
            environ["searchsvc.bad_host"] = host
            environ["HTTP_HOST"] = "localhost"
        return self.app(environ, start_response)


HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def valid_host(host: str) -> bool:
    """Whether ``host`` is ``name[:port]``, ``[IPv6][:port]`` or an IPv4 address with a port, as RFC 3986 allows."""
    name, port = host, ""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return False
        return port == "" or port.isascii() and port.isdigit() and len(port) <= 5
    if ":" in host:
        name, _, port = host.rpartition(":")
        if not (port.isascii() and port.isdigit() and len(port) <= 5):
            return False
    try:
        ascii_name = name.encode("idna").decode("ascii")
        ascii_name.encode("ascii").decode("idna")  # punycode that does not decode (``xn--zz``)
    except UnicodeError:
        return False
    labels = ascii_name.removesuffix(".").split(".")
    return len(ascii_name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels)


def refuse_bad_host():
    bad = request.environ.get("searchsvc.bad_host")
    if bad is not None:
        raise WerkzeugBadRequest("the Host header is not a valid host name")


def relative_redirect(response):
    """Redirects (Werkzeug's to a path without doubled slashes) name a path, never the Host they were asked with."""
    if 300 <= response.status_code < 400 and response.location:
        parts = urlsplit(response.location)
        if parts.scheme or parts.netloc:
            path = "/" + parts.path.lstrip("/")  # never ``//host``: that would be another site
            response.location = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# --- the access log ----------------------------------------------------------------

def with_access_log(app, fd: int = 2):
    """``app`` writing one line per request to ``fd`` when its answer is sent: time, client, method, path, status,
    milliseconds.

    One ``os.write`` per line (shorter than a pipe's atomic write), so the
    lines of several threads and server processes never interleave.
    """
    import os
    import time

    def logged(environ, start_response):
        started = time.perf_counter()
        status = []

        def start(code, headers, exc_info=None):
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, exc_info)

        body = app(environ, start)
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            path = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
            line = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {environ.get('REMOTE_ADDR', '-')} "
                    f"{environ.get('REQUEST_METHOD', '-')} {path[:2000]} {status[0] if status else '-'} "
                    f"{(time.perf_counter() - started) * 1000:.1f} ms\n")
            try:
                os.write(fd, line.encode("utf-8", "replace"))
            except OSError:
                pass  # a closed stderr never fails a request

    return logged


# --- template helpers ---------------------------------------------------------------

def human_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return f"{dt:%B} {dt.day}, {dt.year}"


def safe_link(url: str | None) -> str | None:
    """Only http(s) addresses become links; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None
