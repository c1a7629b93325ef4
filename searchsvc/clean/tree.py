"""Small helpers over lxml elements and their text, shared by the stages.

Every walk is iterative: pages nested 100,000 deep must not hit Python's
recursion limit.
"""
from __future__ import annotations

import re

# Elements that start a new paragraph of text, and those that are a paragraph themselves.
BLOCK_TAGS = {"p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "dl",
              "dt", "dd", "table", "tr", "td", "th", "thead", "tbody", "h1", "h2", "h3", "h4", "h5",
              "h6", "header", "address", "center", "hr", "br", "figure", "form", "fieldset", "body",
              "html", "caption", "details", "summary", "hgroup"}
PARAGRAPH_TAGS = {"p", "pre", "blockquote", "h2", "h3", "h4", "li", "td", "dd"}


def norm(text: str | None) -> str:
    """Whitespace runs as one space, none at the ends (``str.split`` and ``\\s`` agree on what is whitespace)."""
    return " ".join(text.split()) if text else ""


def text_of(el) -> str:
    """Whitespace-normalised text of an element (iterative, unlike some lxml helpers)."""
    return norm(" ".join(el.itertext()))


def class_and_id(el) -> str:
    """The class and id attributes, where pages name their boilerplate."""
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def remove_keeping_tail(el) -> None:
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


def has_ancestor(el, tag: str) -> bool:
    parent = el.getparent()
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.getparent()
    return False


def ancestors(el) -> list:
    found = []
    parent = el.getparent()
    while parent is not None:
        found.append(parent)
        parent = parent.getparent()
    return found


def split_words(marks: str) -> str:
    """'newsCaption' -> 'news Caption': camelCase class names hide their words."""
    return _CAMEL.sub(r"\1 \2", marks)


_CAMEL = re.compile(r"([a-z])([A-Z])")
_NON_WORD = re.compile(r"\W+")


def same_text(a: str, b: str) -> bool:
    return bool(a) and _NON_WORD.sub("", a).lower() == _NON_WORD.sub("", b).lower()
