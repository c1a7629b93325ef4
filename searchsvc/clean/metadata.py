"""Title, date, author, source and url from the page's own metadata.

JSON-LD first, then Open Graph and other meta tags, then the page (``<title>``,
``<h1>``, ``<time>``, byline markup outside comment areas).
"""
from __future__ import annotations

import json
import re

from .dates import parse_date
from .record import CleanedArticle
from .tree import class_and_id, norm, split_words, text_of
from .vocabulary import COMMENT_AREA, STATE_PREFIX

_ARTICLE_TYPES = {"newsarticle", "article", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                  "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "scholarlyarticle",
                  "techarticle", "report", "liveblogposting", "posting", "socialmediaposting", "webpage"}


def json_ld_objects(root) -> list[dict]:
    """Every dict in the page's JSON-LD blocks (lists and @graph flattened); bad JSON skipped."""
    found = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        data = _read_json(raw)
        if data is None:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                found.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))
    return found


def _read_json(raw: str):
    """The block's JSON, None when unreadable: bad syntax, or nested deeper than the parser's recursion allows.

    Unreadable metadata is ignored; the article text does not depend on it.
    """
    try:
        return json.loads(raw)
    except ValueError:
        try:  # common breakage: raw newlines/tabs inside strings
            return json.loads(re.sub(r"[\r\n\t]+", " ", raw))
        except (ValueError, RecursionError):
            return None
    except RecursionError:
        return None


def _types_of(obj: dict) -> set[str]:
    types = obj.get("@type")
    if isinstance(types, str):
        types = [types]
    return {t.lower() for t in types or [] if isinstance(t, str)}


def json_ld_article(objects: list[dict]) -> dict:
    """The article object of the JSON-LD (a NewsArticle/Article/BlogPosting...), else {}."""
    best = {}
    for obj in objects:
        types = _types_of(obj)
        if types & _ARTICLE_TYPES or any(t.endswith("article") for t in types):
            if "webpage" in types and best:
                continue
            if not best or "webpage" in _types_of(best):
                best = obj
    return best


MAX_NAME_DEPTH = 4  # a name nested deeper than a list of objects holding it is not a name


def _name_of(value, depth: int = 0) -> str | None:
    """A person's or organisation's name from a JSON-LD string, object or list."""
    if isinstance(value, str):
        return norm(value) or None
    if depth >= MAX_NAME_DEPTH:
        return None
    if isinstance(value, dict):
        return _name_of(value.get("name"), depth + 1)
    if isinstance(value, list):
        names = [n for n in (_name_of(v, depth + 1) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def _meta_map(root) -> dict[str, str]:
    """First content of each <meta name|property|itemprop>, keys lower-cased."""
    metas = {}
    for meta in root.iter("meta"):
        content = meta.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop"):
            key = (meta.get(attr) or "").strip().lower()
            if key and key not in metas:
                metas[key] = content.strip()
    return metas


_DATE_META = ("article:published_time", "date", "pubdate", "publish-date", "publish_date", "publishdate",
              "dc.date", "dc.date.issued", "dcterms.created", "dc.date.created", "sailthru.date",
              "parsely-pub-date", "datepublished", "og:published_time", "article.published",
              "published_time", "original-publish-date", "citation_publication_date")
_SITE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»]\s+")


def _split_title(title: str) -> tuple[str, str | None]:
    """'Headline | Site' -> ('Headline', 'Site'); the longer side is the headline."""
    parts = _SITE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title, None
    head, tail = " - ".join(parts[:-1]), parts[-1]
    if len(tail) > len(head):  # 'Site | Headline'
        head, tail = " - ".join(parts[1:]), parts[0]
        match = _SITE_SEPARATORS.search(title)
        return title[match.end():].strip(), tail.strip()
    cut = list(_SITE_SEPARATORS.finditer(title))[-1]
    return title[:cut.start()].strip(), tail.strip()


def _first_h1(root) -> str:
    for h1 in root.iter("h1"):
        text = text_of(h1)
        if text:
            return text
    return ""


def _page_title(root) -> str:
    for el in root.iter("title"):
        return norm(el.text)  # its own text: what a repaired page nested in it is not the title
    return ""


_ADDRESS = re.compile(r"https?://")


def _author_from_page(root, metas: dict) -> str | None:
    """The byline's name: meta tags, rel=author links, then author/byline markup outside comments."""
    author = metas.get("author") or metas.get("article:author") or metas.get("dc.creator")
    if author and not _ADDRESS.match(author):
        return norm(author)
    for link in root.iter("a", "link"):
        if "author" in (link.get("rel") or "").lower().split() and not _in_comment_area(link):
            name = _byline_name(text_of(link)) if link.tag == "a" else None
            if name:
                return name
    for el in root.iter():
        if isinstance(el.tag, str) and _is_author_mark(el) and not _in_comment_area(el):
            name = _byline_name(text_of(_innermost_name(el)))
            if name:
                return name
    return None


_AUTHOR_MARK = re.compile(r"\b(?:byline|author)\b", re.I)


def _is_author_mark(el) -> bool:
    return bool(_AUTHOR_MARK.search(f"{el.get('class') or ''} {el.get('itemprop') or ''}"))


def _in_comment_area(el) -> bool:
    """el or an ancestor is a comment, reply or discussion container (by class, id or microdata).

    A container that holds the headline (<h1>) is the page or the article, whatever its class.
    """
    node = el
    while node is not None and node.tag not in ("body", "html"):
        if isinstance(node.tag, str) and (node is el or node.find(".//h1") is None):
            marks = f"{class_and_id(node)} {node.get('itemprop') or ''} {(node.get('itemtype') or '').rsplit('/', 1)[-1]}"
            if COMMENT_AREA.search(STATE_PREFIX.sub(" ", split_words(marks))):
                return True
        node = node.getparent()
    return False


def _innermost_name(el):
    """The deepest element under el that alone names the author (microdata author > name).

    Several marked children (co-authors) keep el: its whole text is the byline.
    """
    current = el
    while True:
        marked = [node for node in current.iterdescendants() if isinstance(node.tag, str)
                  and ((node.get("itemprop") or "").lower() == "name" or _is_author_mark(node))]
        outer = [node for node in marked if not any(a in marked for a in _ancestors_below(node, current))]
        if len(outer) != 1 or not text_of(outer[0]):
            return current
        current = outer[0]


def _ancestors_below(node, top) -> list:
    found = []
    parent = node.getparent()
    while parent is not None and parent is not top:
        found.append(parent)
        parent = parent.getparent()
    return found


_BYLINE_PREFIX = re.compile(r"^\s*(?:written\s+)?(?:by|von|par|por)\b\s*:?\s*", re.I)
_BYLINE_SEPARATOR = re.compile(r"\s*[|·•]\s*|\s+[-–—]\s+")
_BYLINE_DATE_TAIL = re.compile(
    r"(?:,|\s)\s*(?:(?:on|at|published|updated|posted)\b[:\s]*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3,9}\.?,?\s+\d{4}|[a-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2}:\d{2}).*$", re.I)


_COMMENT_LINE = re.compile(r"\b(?:says|said|wrote|writes)\s*:", re.I)


def _byline_name(text: str) -> str | None:
    """'By Ann Writer · 8 Mar 2023' -> 'Ann Writer'; None for comment lines ('X says:') or prose."""
    text = norm(text)
    if _COMMENT_LINE.search(text):
        return None
    for part in _BYLINE_SEPARATOR.split(text):
        rest = _BYLINE_DATE_TAIL.sub("", " " + _BYLINE_PREFIX.sub("", part))
        if _DATE_LEFTOVER.fullmatch(rest):
            continue  # the part was only a date
        name = rest.strip(" ,;:")
        return name if 0 < len(name) <= 80 else None
    return None


_DATE_LEFTOVER = re.compile(r"(?:[\s,;:.]|\b(?:on|at|published|updated|posted|"
                            r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*)\b)*", re.I)


def page_metadata(root, url: str | None, objects: list[dict], article: dict) -> CleanedArticle:
    """Title, date, author, source and url from JSON-LD, meta tags and the page."""
    metas = _meta_map(root)
    page_title = _page_title(root)
    stripped_title, title_site = _split_title(page_title) if page_title else ("", None)

    headline = article.get("headline") or article.get("name") if article else None
    title = (norm(headline) if isinstance(headline, str) else "") or metas.get("og:title") \
        or metas.get("twitter:title") or _first_h1(root) or stripped_title
    title = norm(title)

    published = None
    if isinstance(article.get("datePublished"), str):
        published = parse_date(article["datePublished"])
    for key in _DATE_META:
        if published is None and key in metas:
            published = parse_date(metas[key])
    if published is None:
        for el in root.iter("time"):
            published = parse_date(el.get("datetime") or "")
            if published is not None:
                break

    author = _name_of(article.get("author")) if article else None
    author = author or _author_from_page(root, metas)

    publisher = article.get("publisher") if article else None
    source = _name_of(publisher) if publisher is not None else None
    if not source:
        for obj in objects:
            if _types_of(obj) & {"newsmediaorganization", "organization"}:
                source = _name_of(obj.get("name"))
                if source:
                    break
    source = source or metas.get("og:site_name") or metas.get("application-name") or title_site

    canonical = None
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and (link.get("href") or "").strip():
            canonical = link.get("href").strip()
            break
    page_url = canonical or metas.get("og:url") or url
    return CleanedArticle(title=title, published=published, author=author or None,
                          source=norm(source) or None, url=page_url or None)
