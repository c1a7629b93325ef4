"""Turn a news page (HTML or plain text) into a CleanedArticle.

Who does what, lxml or BeautifulSoup:

* Bytes are decoded with bs4's ``EncodingDetector`` (BOM, then the declared
  ``<meta charset>``/``http-equiv``), falling back to UTF-8 and then
  windows-1252.  bs4 knows the sniffing rules; there is no reason to redo them.
* The page is parsed by libxml2 through lxml (``etree.HTMLParser``, the
  parser behind ``lxml.html``, minus its per-element class lookup) and every
  later step (JSON-LD and meta tags, junk removal, content scoring, text
  rendering) walks lxml's own tree.  A BeautifulSoup tree costs about 8x
  lxml's to build and walk, and extraction runs on every indexed page, so
  the hot path stays on lxml.
* BeautifulSoup (``html.parser``) is the repair fallback when lxml fails: it
  raises, or libxml2 gives up on a document nested deeper than its limit and
  drops the text.  The soup is then copied into an lxml tree, iteratively and
  with nesting capped, so the rest of the pipeline is the same.

Every walk over the tree is iterative: pages nested 100,000 deep must not hit
Python's recursion limit.  No rule here names a site; the signals are general
ones (JSON-LD, semantic tags, class/id vocabulary, text and link density).
"""
from __future__ import annotations

import email.utils
import json
import logging
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from lxml import etree

_log = logging.getLogger(__name__)

__all__ = ["CleanedArticle", "extract_article", "extract_plain_text", "parse_date", "decode_html"]


@dataclass
class CleanedArticle:
    title: str = ""
    text: str = ""
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None


# ---------------------------------------------------------------- decoding

# WHATWG: these labels mean windows-1252 in HTML; a declared UTF-16 on a byte
# stream without a BOM is a lie and means UTF-8.
_ENCODING_ALIASES = {
    "iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "latin-1": "windows-1252",
    "latin1": "windows-1252", "l1": "windows-1252", "ascii": "windows-1252",
    "us-ascii": "windows-1252", "cp1252": "windows-1252",
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8",
}


def decode_html(data: bytes) -> str:
    """Decode page bytes: BOM, then declared charset, else UTF-8, else windows-1252."""
    if isinstance(data, str):
        return data
    data = bytes(data or b"")
    stripped, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    if bom_encoding:
        return stripped.decode(bom_encoding, errors="replace")
    declared = EncodingDetector.find_declared_encoding(data, is_html=True, search_entire_document=False)
    if declared:
        declared = _ENCODING_ALIASES.get(declared.lower(), declared.lower())
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")


# ---------------------------------------------------------------- parsing

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_DEPTH = 200  # nesting kept when repairing with BeautifulSoup


def _parse_tree(text: str):
    """lxml tree of the page, or a BeautifulSoup repair when lxml fails; None if empty."""
    text = _CONTROL_CHARS.sub(" ", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        return None
    # Plain etree elements: lxml.html's element-class lookup costs ~15% of the run.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, default_doctype=False)
    try:
        root = etree.fromstring(text, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, TypeError):
        root = None
    too_deep = any("depth" in (err.message or "").lower() for err in parser.error_log)
    if root is None or too_deep:
        root = _repair_with_soup(text)
    return root


def _repair_with_soup(text: str):
    """Parse with bs4's forgiving html.parser and copy the soup into lxml, capping depth."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(_flatten_deep_tags(text), "html.parser")
    root = etree.Element("html")
    body = etree.SubElement(root, "body")
    # (bs4 node, lxml parent, depth); children pushed in reverse to keep order
    stack = [(child, body, 1) for child in reversed(list(soup.children))]
    last_in = {}  # lxml parent -> last lxml child appended (for tails)
    while stack:
        node, parent, depth = stack.pop()
        name = getattr(node, "name", None)
        if name is None:  # a string
            if type(node).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction", "CData"):
                continue
            _append_text(parent, last_in.get(parent), str(node))
            continue
        if name in ("html", "body", "head") or depth > MAX_DEPTH or not _valid_tag(name):
            target = parent  # flatten: keep the content, drop the element
            children_depth = depth
        else:
            target = etree.SubElement(parent, name)
            for key, value in node.attrs.items():
                if isinstance(value, list):
                    value = " ".join(value)
                if _valid_tag(key):
                    try:
                        target.set(key, _CONTROL_CHARS.sub(" ", str(value)))
                    except ValueError:
                        pass
            last_in[parent] = target
            children_depth = depth + 1
        stack.extend((child, target, children_depth) for child in reversed(list(node.children)))
    return root


_TAG_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
              "source", "track", "wbr", "keygen"}
_SELF_CLOSING_SIBLINGS = {"p", "li", "option", "dt", "dd", "tr", "td", "th"}  # <p>a<p>b: two, not nested


def _flatten_deep_tags(text: str, max_depth: int = MAX_DEPTH) -> str:
    """The markup with tags nested beyond max_depth replaced by spaces (their text kept).

    A rough tag stack from a regex (a <p> or <li> closes an open one, and
    the end tag is written out; a stray end tag is ignored) but linear: bs4
    then builds a tree of a few hundred levels instead of 100,000, which
    took it seconds.
    """
    stack: list[str] = []

    def keep_or_drop(match) -> str:
        closing, name = match.group(1), match.group(2).lower()
        kept = match.group(0) if len(stack) < max_depth else " "
        if name in _VOID_TAGS or match.group(0).endswith("/>"):
            return kept
        if closing:
            for back in range(1, min(len(stack), 20) + 1):
                if stack[-back] == name:
                    del stack[-back:]
                    return match.group(0) if len(stack) < max_depth else " "
            return kept
        implied_end = ""
        if name in _SELF_CLOSING_SIBLINGS and stack and stack[-1] == name:
            stack.pop()
            implied_end = f"</{name}>" if len(stack) < max_depth else " "  # html.parser would nest them
        stack.append(name)
        return implied_end + (match.group(0) if len(stack) <= max_depth else " ")

    return _TAG.sub(keep_or_drop, text)


def _valid_tag(name: str) -> bool:
    return bool(_TAG_NAME.match(name or ""))


def _append_text(parent, last_child, text: str) -> None:
    if last_child is None:
        parent.text = (parent.text or "") + text
    else:
        last_child.tail = (last_child.tail or "") + text


# ---------------------------------------------------------------- text helpers

def _norm(text: str | None) -> str:
    """Whitespace runs as one space, none at the ends (``str.split`` and ``\\s`` agree on what is whitespace)."""
    return " ".join(text.split()) if text else ""


def _text_of(el) -> str:
    """Whitespace-normalised text of an element (iterative, unlike some lxml helpers)."""
    return _norm(" ".join(el.itertext()))


# ---------------------------------------------------------------- metadata

_ARTICLE_TYPES = {"newsarticle", "article", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                  "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "scholarlyarticle",
                  "techarticle", "report", "liveblogposting", "posting", "socialmediaposting", "webpage"}


def _json_ld_objects(root) -> list[dict]:
    """Every dict in the page's JSON-LD blocks (lists and @graph flattened); bad JSON skipped."""
    found = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            try:  # common breakage: raw newlines/tabs inside strings
                data = json.loads(re.sub(r"[\r\n\t]+", " ", raw))
            except ValueError:
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


def _types_of(obj: dict) -> set[str]:
    types = obj.get("@type")
    if isinstance(types, str):
        types = [types]
    return {t.lower() for t in types or [] if isinstance(t, str)}


def _json_ld_article(objects: list[dict]) -> dict:
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


def _name_of(value) -> str | None:
    """A person's or organisation's name from a JSON-LD string, object or list."""
    if isinstance(value, str):
        return _norm(value) or None
    if isinstance(value, dict):
        return _name_of(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_name_of(v) for v in value) if n]
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
        text = _text_of(h1)
        if text:
            return text
    return ""


def _page_title(root) -> str:
    for el in root.iter("title"):
        return _text_of(el)
    return ""


def _author_from_page(root, metas: dict) -> str | None:
    """The byline's name: meta tags, rel=author links, then author/byline markup outside comments."""
    author = metas.get("author") or metas.get("article:author") or metas.get("dc.creator")
    if author and not re.match(r"https?://", author):
        return _norm(author)
    for link in root.iter("a", "link"):
        if "author" in (link.get("rel") or "").lower().split() and not _in_comment_area(link):
            name = _byline_name(_text_of(link)) if link.tag == "a" else None
            if name:
                return name
    for el in root.iter():
        if isinstance(el.tag, str) and _is_author_mark(el) and not _in_comment_area(el):
            name = _byline_name(_text_of(_innermost_name(el)))
            if name:
                return name
    return None


_AUTHOR_MARK = re.compile(r"\b(?:byline|author)\b", re.I)
_COMMENT_AREA = re.compile(r"(?:^|[\s_\-])(?:comments?|commentlist|replies|reply|respond|"
                           r"discussion|disqus)(?:$|[\s_\-\d])", re.I)


def _is_author_mark(el) -> bool:
    return bool(_AUTHOR_MARK.search(f"{el.get('class') or ''} {el.get('itemprop') or ''}"))


def _in_comment_area(el) -> bool:
    """el or an ancestor is a comment, reply or discussion container (by class, id or microdata).

    A container that holds the headline (<h1>) is the page or the article, whatever its class.
    """
    node = el
    while node is not None and node.tag not in ("body", "html"):
        if isinstance(node.tag, str) and (node is el or node.find(".//h1") is None):
            marks = f"{_marks(node)} {node.get('itemprop') or ''} {(node.get('itemtype') or '').rsplit('/', 1)[-1]}"
            if _COMMENT_AREA.search(_STATE_PREFIX.sub(" ", _split_words(marks))):
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
        if len(outer) != 1 or not _text_of(outer[0]):
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


def _byline_name(text: str) -> str | None:
    """'By Ann Writer · 8 Mar 2023' -> 'Ann Writer'; None for comment lines ('X says:') or prose."""
    text = _norm(text)
    if re.search(r"\b(?:says|said|wrote|writes)\s*:", text, re.I):
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


def _metadata(root, url: str | None, objects: list[dict], article: dict) -> CleanedArticle:
    """Title, date, author, source and url from JSON-LD, meta tags and the page."""
    metas = _meta_map(root)
    page_title = _page_title(root)
    stripped_title, title_site = _split_title(page_title) if page_title else ("", None)

    headline = article.get("headline") or article.get("name") if article else None
    title = (_norm(headline) if isinstance(headline, str) else "") or metas.get("og:title") \
        or metas.get("twitter:title") or _first_h1(root) or stripped_title
    title = _norm(title)

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
                          source=_norm(source) or None, url=page_url or None)


# ---------------------------------------------------------------- junk removal

# Elements that never hold article prose.
_DROP_TAGS = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
              "canvas", "video", "audio", "source", "picture", "img", "button", "input", "select",
              "textarea", "option", "label", "nav", "aside", "footer", "head", "figure", "figcaption",
              "dialog", "menu", "link", "meta", "map", "area", "frame", "frameset"}

_BOILERPLATE_WORDS = (
    "nav", "navbar", "navigation", "menu", "footer", "share", "sharing", "social", "related",
    "recommend", "recommended", "recommendations", "promo", "newsletter", "subscribe", "subscription",
    "cookie", "cookies", "consent", "gdpr", "banner", "ad", "ads", "advert", "advertisement",
    "adslot", "sponsor", "sponsored", "comment", "comments", "disqus", "popup", "modal", "breadcrumb",
    "breadcrumbs", "tags", "sidebar", "widget", "masthead", "header", "toolbar", "outbrain",
    "taboola", "signup", "paywall", "more-stories", "trending", "popular", "caption", "credit",
    "byline", "dateline", "timestamp", "author", "print", "skip", "jump", "inline-ad",
    "rail", "read-more", "readmore", "newsletters", "follow", "login", "register", "pagination", "pager",
)
_BOILERPLATE_CLASS = re.compile(
    r"(?:^|[\s_\-])(?:%s)(?:$|[\s_\-\d])" % "|".join(re.escape(w) for w in _BOILERPLATE_WORDS), re.I)
_CONTENT_CLASS = re.compile(r"article|body|content|entry|main|post|story|text|prose", re.I)
_STRONG_CONTENT = re.compile(r"article[-_]?body|articlebody|story[-_]?body|post[-_]?body|entry[-_]?content"
                             r"|article[-_]?content|article[-_]?text|story[-_]?text", re.I)

# Short blocks made of this vocabulary are prompts and furniture, not prose.
_BOILERPLATE_TEXT = re.compile(
    r"^(?:advertisement|ad|sponsored|leave a (?:comment|reply)|\d+\s+comments?|comments?|"
    r"(?:sign up|subscribe)\b.*|.*\bnewsletter\b.*|share(?: this)?(?: article| story| on \w+)?|"
    r"(?:read|see) (?:more|also|next)\b.*|related(?: articles| stories| coverage)?:?.*|"
    r"follow us\b.*|click here\b.*|(?:copyright|©).*|all rights reserved\.?|"
    r"we use cookies\b.*|.*\baccept (?:all )?cookies\b.*|continue reading.*|"
    r"this (?:article|story) (?:was|has been) (?:updated|corrected).{0,40}|"
    r"(?:photo|image|video|graphic)s?(?: credit)?:.*|advertisement\s*-\s*scroll to continue.*|"
    r"tags?:?|.*\bshare (?:it|this)\b.*|like this (?:story|article)\b.*|.*\b(?:requires|enable) javascript\b.*|"
    r"\[\w+(?:\s[^\]]*)?\])$",  # the last: an unrendered [shortcode ...]
    re.I)
MAX_BOILERPLATE_TEXT = 160  # longer blocks are prose even if they use the vocabulary


def _marks(el) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


_HIDDEN_CLASSES = {"hidden", "is-hidden", "visually-hidden", "visuallyhidden", "sr-only",
                   "screen-reader-text", "screen-reader-only", "d-none", "offscreen"}


def _is_hidden(el) -> bool:
    """Not shown to a sighted reader: hidden attribute, inline display:none, hiding classes."""
    style = (el.get("style") or "").replace(" ", "").lower()
    if el.get("hidden") is not None or "display:none" in style or "visibility:hidden" in style:
        return True
    if (el.get("aria-hidden") or "").lower() == "true" and el.tag not in ("span", "i", "b", "em"):
        return True
    classes = el.get("class")
    return bool(classes) and not _HIDDEN_CLASSES.isdisjoint(classes.lower().split())


def _remove(el) -> None:
    """Drop an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _drop_junk(root) -> None:
    """Remove elements that never hold article prose (scripts, nav, hidden...)."""
    doomed = []
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:
            doomed.append(el)
        elif tag.lower() in _DROP_TAGS or _is_hidden(el):
            doomed.append(el)
        elif tag == "header" and not _has_ancestor(el, "article"):
            doomed.append(el)
    for el in doomed:
        _remove(el)


def _has_ancestor(el, tag: str) -> bool:
    parent = el.getparent()
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.getparent()
    return False


# ---------------------------------------------------------------- content scoring

_BLOCK_TAGS = {"p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "dl",
               "dt", "dd", "table", "tr", "td", "th", "thead", "tbody", "h1", "h2", "h3", "h4", "h5",
               "h6", "header", "address", "center", "hr", "br", "figure", "form", "fieldset", "body",
               "html", "caption", "details", "summary", "hgroup"}
_PARAGRAPH_TAGS = {"p", "pre", "blockquote", "h2", "h3", "h4", "li", "td", "dd"}


@dataclass
class _Stats:
    text: int = 0        # characters of text under the element
    links: int = 0       # characters of that text inside <a>
    score: float = 0.0


@dataclass
class _Run:
    """A stretch of text between two block boundaries: what a reader sees as a paragraph."""
    owner: object
    chars: int
    links: int
    commas: int
    sentence: bool = False  # short, but one whole sentence inside an <article> or <main>


def _text_runs(root) -> list[_Run]:
    """Paragraph-like text runs, each with the block element that holds it."""
    runs: list[_Run] = []
    blocks = [root]
    pieces: list[str] = []
    link_chars = 0
    in_link = 0

    def flush():
        nonlocal link_chars
        text = _norm("".join(pieces))
        if text:
            runs.append(_Run(blocks[-1], len(text), min(link_chars, len(text)),
                             text.count(",") + text.count("\uff0c") + text.count("\u060c"),
                             not link_chars and _is_short_sentence(text) and _in_article_element(blocks[-1])))
        pieces.clear()
        link_chars = 0

    def add(text):
        nonlocal link_chars
        if text:
            pieces.append(text)
            if in_link:
                link_chars += len(_norm(text))

    stack = [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag if isinstance(el.tag, str) else ""
        if closing:
            if tag == "a":
                in_link -= 1
            if el is blocks[-1] or tag in _BLOCK_TAGS:
                flush()
                if el is blocks[-1] and len(blocks) > 1:
                    blocks.pop()
            if el is not root:
                add(el.tail)
            continue
        if tag in _BLOCK_TAGS or (tag and _holds_br_paragraphs(el)):
            flush()
            if tag != "br" and tag != "hr":
                blocks.append(el)
        if tag == "a":
            in_link += 1
        add(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    flush()
    return runs


_SHORT_SENTENCE = re.compile(r"^[\"'“‘(]?[A-Z0-9][^.!?]*\w[.!?][\"'”’)]?$")
MIN_RUN_CHARS = 25  # shorter runs vote only when they are a whole sentence


def _is_short_sentence(text: str) -> bool:
    """'Feeding gulls is banned.': a capitalised sentence of three words or more, no link."""
    return len(text) < MIN_RUN_CHARS and len(text.split()) >= 3 and bool(_SHORT_SENTENCE.match(text))


def _in_article_element(el) -> bool:
    """el is, or is inside, an <article>, <main> or itemprop=articleBody element."""
    node = el
    while node is not None:
        if node.tag in ("article", "main") or (node.get("itemprop") or "").lower() == "articlebody":
            return True
        node = node.getparent()
    return False


def _holds_br_paragraphs(el) -> bool:
    """An inline wrapper (old <font>, <span>) whose text is paragraphs split by <br><br>.

    It holds its runs like a block does, so they vote for it and not for
    the table cell or div around it (which also holds sidebars and letters).
    """
    for child in el:
        if child.tag == "br" and not (child.tail or "").strip():
            following = child.getnext()
            if following is not None and following.tag == "br":
                return True
    return False


def _element_stats(root, runs: list[_Run]) -> dict:
    """Text and link-text sizes for every element, summed bottom-up in one pass."""
    stats = {el: _Stats() for el in root.iter()}
    for run in runs:
        st = stats[run.owner]
        st.text += run.chars
        st.links += run.links
    for el in reversed(list(root.iter())):
        parent = el.getparent()
        if parent is not None and parent in stats:
            st, pst = stats[el], stats[parent]
            pst.text += st.text
            pst.links += st.links
    return stats


def _class_weight(el) -> float:
    marks = _marks(el)
    weight = 0.0
    if (el.get("itemprop") or "").lower() == "articlebody" or _STRONG_CONTENT.search(marks):
        weight += 50
    elif _CONTENT_CLASS.search(marks):
        weight += 15
    if _BOILERPLATE_CLASS.search(marks):
        weight -= 30
    return weight


_OFF_TOPIC_AREA = re.compile(
    r"(?:^|[\s_\-])(?:comments?|disqus|footer|sidebar|related|recommend\w*|outbrain|taboola|"
    r"newsletter|promo|widgets?|respond|replies)(?:$|[\s_\-\d])", re.I)
_STATE_PREFIX = re.compile(r"(?:^|\s)(?:no|has|with|show|hide|is|enable|disable)[-_]\S*", re.I)


def _off_topic_areas(root) -> set:
    """Elements inside a comments/footer/sidebar/related area (by class or id)."""
    flagged = set()
    for el in root.iter():
        parent = el.getparent()
        if parent is not None and parent in flagged:
            flagged.add(el)
        elif el.tag not in ("body", "html") and _OFF_TOPIC_AREA.search(_STATE_PREFIX.sub(" ", _marks(el))):
            flagged.add(el)
    return flagged


def _starts_with_link(el) -> bool:
    """True when the first text inside el is a link of headline length."""
    for node in el.iter():
        if node is not el and node.tail and node.tail.strip():
            return False  # text after an element came first
        if node.text and node.text.strip():
            link = node if node.tag == "a" else next((a for a in node.iterancestors("a")), None)
            return link is not None and len(_text_of(link)) >= 15
    return False


def _is_teaser_list(el) -> bool:
    """A list of story teasers: most children open with a headline link."""
    children = [child for child in el if isinstance(child.tag, str)]
    if len(children) < 3:
        return False
    leading = sum(1 for child in children if _starts_with_link(child))
    return leading >= 0.6 * len(children)


def _is_paragraph_like(el) -> bool:
    """A <p>-ish block: its votes go to the element that holds it."""
    if el.tag in _PARAGRAPH_TAGS:
        return True
    return not any(isinstance(child.tag, str) and child.tag in _BLOCK_TAGS for child in el)


def _best_container(root, stats: dict, runs: list[_Run]):
    """The element that holds the article prose (readability-style paragraph voting).

    Runs inside teaser lists do not vote; comment/footer/sidebar areas score low.
    """
    off_topic = _off_topic_areas(root)
    teaser_cache: dict = {}

    def in_teaser_list(el) -> bool:
        for node in (el, el.getparent()):
            if node is None:
                return False
            if node not in teaser_cache:
                teaser_cache[node] = _is_teaser_list(node)
            if teaser_cache[node]:
                return True
        return False

    scores: dict = {}
    for run in runs:
        plain = run.chars - run.links
        if (plain < MIN_RUN_CHARS and not run.sentence) or run.links > run.chars / 2 or in_teaser_list(run.owner):
            continue
        value = 1 + run.commas + min(plain / 100, 3)
        node = run.owner.getparent() if _is_paragraph_like(run.owner) else run.owner
        level = 0
        while node is not None and node in stats and level < 3:
            scores[node] = scores.get(node, 0.0) + value / (1, 2, 3)[level]
            node = node.getparent()
            level += 1
    best, best_score = None, 0.0
    for el, score in scores.items():
        st = stats[el]
        density = st.links / st.text if st.text else 1.0
        total = (score + _class_weight(el) / 5) * (1 - density)
        if el in off_topic:
            total *= 0.2
        st.score = total
        if total > best_score:
            best, best_score = el, total
    return best


def _ancestors(el) -> list:
    found = []
    parent = el.getparent()
    while parent is not None:
        found.append(parent)
        parent = parent.getparent()
    return found


def _gather_chunks(best, stats: dict, max_levels: int = 5):
    """Climb from best to the ancestor that also holds the article's other prose chunks.

    Long articles are often split into several containers (between ads or
    photos) that are cousins, not siblings; each is a strong candidate.
    """
    best_score = stats[best].score
    lineage = _ancestors(best)[:max_levels]
    reach = {el: i for i, el in enumerate(lineage)}
    top = -1
    for el, st in stats.items():
        if st.score < 0.3 * best_score or el is best or el in reach:
            continue
        for ancestor in _ancestors(el):
            if ancestor is best:
                break
            level = reach.get(ancestor)
            if level is not None:
                if ancestor.tag not in ("body", "html") and level > top:
                    anc_st = stats[ancestor]
                    if anc_st.links < 0.3 * max(anc_st.text, 1):
                        top = level
                break
    return lineage[top] if top >= 0 else best


def _article_parts(best, stats: dict) -> list:
    """best plus the siblings that continue the article (readability's sibling rule)."""
    parent = best.getparent()
    if parent is None:
        return [best]
    best_score = stats[best].score
    threshold = max(3.0, best_score * 0.2)
    best_class = (best.get("class") or "").strip()
    parts = []
    for sibling in parent:
        if sibling is best:
            parts.append(sibling)
            continue
        if not isinstance(sibling.tag, str) or sibling not in stats:
            continue
        st = stats[sibling]
        if not st.text or _OFF_TOPIC_AREA.search(_STATE_PREFIX.sub(" ", _marks(sibling))):
            continue
        density = st.links / st.text
        bonus = best_score * 0.2 if best_class and sibling.get("class") == best.get("class") else 0
        if st.score + bonus >= threshold and density < 0.5:
            parts.append(sibling)
        elif _is_paragraph_like(sibling) and sibling.tag not in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _text_of(sibling)
            if (len(text) > 80 and density < 0.25) or (density == 0 and re.search(r"[.!?]['\"”]?$", text)):
                parts.append(sibling)
    return parts


# ---------------------------------------------------------------- in-container cleaning

_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
    r"|\b(?:published|updated|posted|last|first|on|at|am|pm|a\.m\.|p\.m\.|[A-Z]{2,4})\b|\d+(?:st|nd|rd|th)?|[^\w\s]", re.I)


def _is_dateline(text: str) -> bool:
    """Text that is only a date/time stamp, e.g. 'Published: 10:48, Tue, Nov 19, 2019'."""
    if len(text) > 100 or not re.search(r"\b(?:19|20)\d{2}\b|\d{1,2}:\d{2}", text):
        return False
    return len(_DATE_WORDS.sub(" ", text).split()) <= 1


def _is_teaser_heading(el, stats: dict) -> bool:
    """A heading that is all link: the title of a teaser for another story."""
    st = stats.get(el)
    return el.tag in ("h2", "h3", "h4", "h5", "h6") and st is not None and st.text > 0 \
        and st.links >= 0.9 * st.text


def _prune(container, stats: dict, title: str) -> None:
    """Remove boilerplate blocks inside the chosen container."""
    container_text = max(stats[container].text, 1)
    doomed = []
    for el in container.iter():
        if el is container or not isinstance(el.tag, str):
            continue
        st = stats.get(el)
        if st is None:
            continue
        marks = _marks(el)
        if marks.strip() and _BOILERPLATE_CLASS.search(_split_words(marks)) \
                and not _STRONG_CONTENT.search(marks) and st.text < 0.4 * container_text:
            doomed.append(el)
            continue
        if el.tag in ("ul", "ol", "div", "section", "table", "dl") and st.text:
            density = st.links / st.text
            if density > 0.5 and st.text < 0.4 * container_text:
                doomed.append(el)
                continue
        if el.tag in _BLOCK_TAGS and st.text < MAX_BOILERPLATE_TEXT:
            text = _text_of(el)
            if _BOILERPLATE_TEXT.match(text) or _is_dateline(text):
                doomed.append(el)
                continue
        if el.tag == "p" and st.text and st.links >= 0.9 * st.text and st.text < 200 \
                and not re.match(r"\s*(?:https?://|www\.)", "".join(el.itertext())):
            doomed.append(el)  # a paragraph that is only a link (not a cited URL): a pointer elsewhere
            continue
        if _is_teaser_heading(el, stats):
            doomed.append(_teaser_card(el, container, stats))
            continue
        if el.tag in ("h1", "h2") and title and _same_text(_text_of(el), title):
            doomed.append(el)
    for el in doomed:
        _remove(el)


def _teaser_card(heading, container, stats: dict):
    """The small block around a teaser heading (heading + blurb), short of the container."""
    card = heading
    parent = card.getparent()
    while parent is not None and parent is not container and stats[parent].text < 350:
        card = parent
        parent = card.getparent()
    return card


def _split_words(marks: str) -> str:
    """'newsCaption' -> 'news Caption': camelCase class names hide their words."""
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", marks)


def _same_text(a: str, b: str) -> bool:
    squash = lambda s: re.sub(r"\W+", "", s).lower()
    return bool(a) and squash(a) == squash(b)


# ---------------------------------------------------------------- rendering

def _render(container) -> list[str]:
    """Paragraphs of text under container: block elements start new paragraphs."""
    paragraphs: list[str] = []
    buffer: list[str] = []

    def flush():
        text = _norm("".join(buffer))
        if text:
            paragraphs.append(text)
        buffer.clear()

    stack = [(container, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag if isinstance(el.tag, str) else ""
        block = tag in _BLOCK_TAGS
        if closing:
            if block:
                flush()
            if el is not container and el.tail:
                buffer.append(el.tail)
            continue
        if block:
            flush()
        if el.text:
            buffer.append(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    flush()
    return paragraphs


def _drop_title_repeat(paragraphs: list[str], title: str) -> list[str]:
    """A copy of the headline at the top of the body is not body text."""
    while paragraphs and title and _same_text(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    return paragraphs


def _trim_trailing_boilerplate(paragraphs: list[str]) -> list[str]:
    while paragraphs and len(paragraphs[-1]) < MAX_BOILERPLATE_TEXT and _BOILERPLATE_TEXT.match(paragraphs[-1]):
        paragraphs = paragraphs[:-1]
    while paragraphs and len(paragraphs[0]) < MAX_BOILERPLATE_TEXT and _BOILERPLATE_TEXT.match(paragraphs[0]):
        paragraphs = paragraphs[1:]
    return paragraphs


# ---------------------------------------------------------------- public API

def extract_article(html: str | bytes, url: str | None = None) -> CleanedArticle:
    """Article text and metadata from an HTML page; never raises on bad markup.

    A page that still breaks the pipeline (a bug, not bad input) is logged and
    indexed as empty rather than stopping a reindex of thousands of pages.
    """
    try:
        return _extract_article(html, url)
    except Exception:  # noqa: BLE001 - the contract is "never raises"
        _log.exception("article extraction failed (url=%s)", url)
        return CleanedArticle(url=url)


def _extract_article(html: str | bytes, url: str | None) -> CleanedArticle:
    text = decode_html(html) if isinstance(html, (bytes, bytearray, memoryview)) else (html or "")
    root = _parse_tree(text)
    if root is None:
        return CleanedArticle(url=url)
    objects = _json_ld_objects(root)
    article = _json_ld_article(objects)
    meta = _metadata(root, url, objects, article)
    declared = article.get("articleBody")
    meta.text = _article_body(root, meta.title, declared if isinstance(declared, str) else "")
    return meta


def _article_body(root, title: str, declared: str = "") -> str:
    """Body text: score containers, prune boilerplate inside the best one, render paragraphs."""
    body = root.find("body")
    if body is None:
        body = root
    _drop_junk(body)
    found = _body_from_tree(body, title)
    return _prefer_declared_body(found, declared, body)


def _body_from_tree(body, title: str) -> str:
    runs = _text_runs(body)
    stats = _element_stats(body, runs)
    best = _best_container(body, stats, runs)
    if best is None:
        return ""
    paragraphs = []
    for part in _article_parts(_gather_chunks(best, stats), stats):
        _prune(part, stats, title)
        paragraphs.extend(_render(part))
    paragraphs = _drop_title_repeat(paragraphs, title)
    paragraphs = _trim_trailing_boilerplate(paragraphs)
    return "\n\n".join(paragraphs)


_WORD = re.compile(r"\w+")


def _prefer_declared_body(found: str, declared: str, body) -> str:
    """The JSON-LD articleBody, but only where the tree walk clearly failed.

    Sites fill articleBody with the full text, a summary or a truncated copy,
    so it is trusted only when it is long, is made of text that is on the
    page, and the walk found little of it.
    """
    declared_words = _WORD.findall(declared.lower())
    if len(declared_words) < 80 or len(declared) < 1.5 * len(found):
        return found
    wanted = set(declared_words)
    on_page = wanted & set(_WORD.findall(_text_of(body).lower()))
    if len(on_page) < 0.8 * len(wanted):
        return found  # not this page's text
    if len(wanted & set(_WORD.findall(found.lower()))) >= 0.5 * len(wanted):
        return found
    paragraphs = [_norm(part) for part in re.split(r"\n\s*\n|\n", declared)]
    return "\n\n".join(part for part in paragraphs if part)


# ---------------------------------------------------------------- plain text

_TRAILING_BOILERPLATE = re.compile(
    r"^(?:copyright\b.*|©.*|\(c\)\s*\d{4}.*|all rights reserved\.?|follow us\b.*|share this\b.*|"
    r"subscribe\b.*|sign up\b.*|read more\b.*|related:?.*|advertisement|click here\b.*)$", re.I)


def extract_plain_text(text: str) -> CleanedArticle:
    """A .txt article: first non-empty line is the title, the rest is the body."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_html(bytes(text))
    text = (text or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index == len(lines):
        return CleanedArticle()
    title = _norm(lines[index])
    rest = lines[index + 1:]
    paragraphs = _blocks(rest)
    if paragraphs and paragraphs[0].split("\n")[0].strip() == title:
        first = paragraphs[0].split("\n")[1:]
        paragraphs = ([ "\n".join(first)] if any(l.strip() for l in first) else []) + paragraphs[1:]
    paragraphs = _drop_trailing_lines(paragraphs)
    body = "\n\n".join(_norm(p) for p in paragraphs if _norm(p))
    return CleanedArticle(title=title, text=body)


def _blocks(lines: list[str]) -> list[str]:
    """Blank-line separated blocks, each kept with its inner newlines."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def _drop_trailing_lines(paragraphs: list[str]) -> list[str]:
    """Strip site boilerplate lines (copyright, follow us...) from the end of the body."""
    paragraphs = _drop_boilerplate_footer(list(paragraphs))
    while paragraphs:
        lines = paragraphs[-1].split("\n")
        if not _TRAILING_BOILERPLATE.match(lines[-1].strip()) and not _SEPARATOR_LINE.match(lines[-1]):
            break
        lines.pop()
        if lines:
            paragraphs[-1] = "\n".join(lines)
        else:
            paragraphs.pop()
    return paragraphs


_SEPARATOR_LINE = re.compile(r"^\s*(?:[-_=*~#]\s*){3,}$")
MAX_FOOTER_LINE = 120  # a site footer is a run of short lines


def _drop_boilerplate_footer(paragraphs: list[str]) -> list[str]:
    """Drop the site footer: from a block (or a separator line) that opens with boilerplate
    ('Copyright ...', 'Follow us') to the end, when every line from there on is short."""
    lines = [(i, line) for i, block in enumerate(paragraphs) for line in block.split("\n")]
    cut = None
    for pos in range(len(lines) - 1, -1, -1):
        block_index, line = lines[pos]
        if len(line) > MAX_FOOTER_LINE or (_looks_like_prose(line) and not _TRAILING_BOILERPLATE.match(line)):
            break
        opens_block = pos == 0 or lines[pos - 1][0] != block_index or _SEPARATOR_LINE.match(lines[pos - 1][1])
        if opens_block and _TRAILING_BOILERPLATE.match(line.strip()):
            cut = pos - 1 if pos > 0 and _SEPARATOR_LINE.match(lines[pos - 1][1]) else pos
    if cut is None or cut == 0:
        return paragraphs
    kept: dict[int, list[str]] = {}
    for block_index, line in lines[:cut]:
        kept.setdefault(block_index, []).append(line)
    return ["\n".join(block) for block in kept.values()]


def _looks_like_prose(line: str) -> bool:
    """A sentence of four words or more: article text, not footer furniture."""
    return len(line.split()) >= 4 and bool(re.search(r"[.!?]['\"”’)]?$", line.strip()))


# ---------------------------------------------------------------- dates

_MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for name in names}
_ZONES = {"utc": 0, "gmt": 0, "z": 0, "ut": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
          "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "bst": 1, "cet": 1, "cest": 2}
_WEEKDAY = re.compile(r"^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+", re.I)
_TIME = (r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
         r"\s*(?P<ampm>[ap]\.?m\.?)?)?"
         r"(?:\s*(?P<zone>[a-z]{1,4}|[+-]\d{2}:?\d{2}))?")
_MONTH_FIRST = re.compile(r"^(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})"
                          + _TIME + r"$", re.I)
_DAY_FIRST = re.compile(r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>[a-z]+)\.?,?\s+(?P<year>\d{4})"
                        + _TIME + r"$", re.I)
_SLASHED = re.compile(r"^(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})"
                      r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$")


def parse_date(value: str) -> datetime | None:
    """A naive UTC datetime from the common page date formats; None rather than a guess."""
    if not isinstance(value, str):
        return None
    text = _norm(value.replace("\x00", ""))
    if not text or len(text) > 80:
        return None
    for parser in (_parse_iso, _parse_rfc2822, _parse_slashed, _parse_words):
        try:
            parsed = parser(text)
        except (ValueError, TypeError, OverflowError, IndexError):
            parsed = None
        if parsed is not None:
            return _to_naive_utc(parsed) if 1000 <= parsed.year <= 9999 else None
    return None


def _to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _parse_iso(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-?\d{2}-?\d{2}(?:$|[T ])", text):
        return None
    candidate = re.sub(r"(\.\d{6})\d+", r"\1", text.replace(" ", "T", 1) if "T" not in text else text)
    candidate = re.sub(r"[zZ]$", "+00:00", candidate)
    candidate = re.sub(r"\s*(UTC|GMT)$", "+00:00", candidate)
    return datetime.fromisoformat(candidate)


def _parse_rfc2822(text: str) -> datetime | None:
    if not re.search(r"\d{1,2}\s+[a-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}", text, re.I):
        return None
    return email.utils.parsedate_to_datetime(text)


def _parse_slashed(text: str) -> datetime | None:
    match = _SLASHED.match(text)
    if not match:
        return None
    return _build(match, int(match["month"]))


def _parse_words(text: str) -> datetime | None:
    text = _WEEKDAY.sub("", text)
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        match = pattern.match(text)
        if match:
            month = _MONTHS.get(match["month"].lower())
            if month is None:
                return None
            return _build(match, month)
    return None


def _build(match, month: int) -> datetime | None:
    """datetime from a regex match with year/day and optional time, am/pm and zone groups."""
    groups = match.groupdict()
    hour = int(groups.get("hour") or 0)
    minute = int(groups.get("minute") or 0)
    second = int(groups.get("second") or 0)
    ampm = (groups.get("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    value = datetime(int(match["year"]), month, int(match["day"]), hour, minute, second)
    zone = (groups.get("zone") or "").lower()
    if zone:
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            value = value.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))
        elif zone in _ZONES:
            value = value.replace(tzinfo=timezone(timedelta(hours=_ZONES[zone])))
        else:
            return None
    return value
