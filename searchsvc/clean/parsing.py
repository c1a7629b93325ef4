"""Markup to an lxml tree, repaired with BeautifulSoup where libxml2 fails.

The page is parsed by libxml2 through lxml (``etree.HTMLParser``, the parser
behind ``lxml.html``, minus its per-element class lookup) and every later step
walks lxml's own tree: a BeautifulSoup tree costs about 8x lxml's to build and
walk, and extraction runs on every indexed page.  BeautifulSoup (``html.parser``)
is the repair fallback: when lxml raises, libxml2 gives up on a document
nested deeper than its limit and drops the text, or an unclosed <title>
swallows the page.  The soup is copied into an
lxml tree, iteratively and with nesting capped, so the rest of the pipeline is
the same.
"""
from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from lxml import etree

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_DEPTH = 200  # nesting kept when repairing with BeautifulSoup


def parse_tree(text: str):
    """lxml tree of the page, or a BeautifulSoup repair when lxml fails; None if empty."""
    text = _parseable(text)
    if not text.strip():
        return None
    root, failed = _lxml_tree(text)
    return repair_tree(text) if failed else root


def needs_repair(text: str) -> bool:
    """Whether the page goes to the slow BeautifulSoup repair rather than libxml2's tree."""
    text = _parseable(text)
    return bool(text.strip()) and _lxml_tree(text)[1]


def _parseable(text: str) -> str:
    return _CONTROL_CHARS.sub(" ", _XML_DECLARATION.sub("", text, count=1))


def _lxml_tree(text: str):
    """libxml2's tree (None if it raised) and whether it failed the page and needs the repair."""
    # Plain etree elements: lxml.html's element-class lookup costs ~15% of the run.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, default_doctype=False)
    try:
        root = etree.fromstring(text, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, TypeError):
        root = None
    too_deep = any("depth" in (err.message or "").lower() for err in parser.error_log)
    return root, root is None or too_deep or _title_swallowed_markup(root, text)


_MARKUP = re.compile(r"<[A-Za-z/!]")
# A <title> whose markup holds a tag before its end tag: one left unclosed runs on into the page.
_TAG_IN_TITLE = re.compile(r"<title\b[^>]*>[^<]*<(?!/title\s*>)[A-Za-z/!]", re.I)


def _title_swallowed_markup(root, text: str) -> bool:
    """An unclosed <title>: libxml2, like a browser, reads the rest of the page as its text.

    libxml2 decodes a title's entities, so an escaped ``&lt;CPML&gt;`` (a Reuters ticker)
    reads as ``<CPML>`` in the tree; only a tag written inside a <title> in the markup
    itself counts, or ~44% of Reuters pages would go to the slow repair parse.
    """
    titled = any(title.text and _MARKUP.search(title.text) for title in root.iter("title"))
    return titled and _TAG_IN_TITLE.search(text) is not None


def repair_tree(text: str):
    """Parse with bs4's forgiving html.parser and copy the soup into lxml, capping depth."""
    text = _CONTROL_CHARS.sub(" ", text)  # lxml refuses them in text
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
