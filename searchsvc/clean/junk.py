"""Elements that never hold article prose: scripts, navigation, figures, hidden blocks."""
from __future__ import annotations

import re

from .tree import has_ancestor, remove_keeping_tail

_DROP_TAGS = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
              "canvas", "video", "audio", "source", "picture", "img", "button", "input", "select",
              "textarea", "option", "label", "nav", "aside", "footer", "head", "figure", "figcaption",
              "dialog", "menu", "link", "meta", "map", "area", "frame", "frameset"}


_HIDDEN_CLASSES = {"hidden", "is-hidden", "visually-hidden", "visuallyhidden", "sr-only",
                   "screen-reader-text", "screen-reader-only", "d-none", "offscreen"}


def _is_hidden(el, classes: str) -> bool:
    """Not shown to a sighted reader: hidden attribute, inline display:none, hiding classes."""
    style = el.get("style")
    if style:
        style = style.replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True
    if el.get("hidden") is not None:
        return True
    if (el.get("aria-hidden") or "").lower() == "true" and el.tag not in ("span", "i", "b", "em"):
        return True
    return bool(classes) and not _HIDDEN_CLASSES.isdisjoint(classes.lower().split())


# Cookie and consent notices, however the plugin spells its class ("cookiebanner", "CookieConsent").
_CONSENT_AREA = re.compile(r"cookie|consent|gdpr", re.I)


_NOTICE_TAGS = {"div", "section", "form", "dialog", "p"}


def _is_consent_notice(el, classes: str) -> bool:
    """A cookie or consent notice by its class or id; not a wrapper holding the headline."""
    marks = classes + (el.get("id") or "")
    return bool(marks) and _CONSENT_AREA.search(marks) is not None and el.find(".//h1") is None


# The page's own parts around the article; kept when a page is read again because one of them,
# left unclosed, swallowed the rest of it.
_PAGE_PARTS = {"nav", "aside", "footer", "header", "menu"}


def drop_junk(root, keep_page_parts: bool = False) -> None:
    """Remove elements that never hold article prose (scripts, nav, hidden...)."""
    drop_tags = _DROP_TAGS - _PAGE_PARTS if keep_page_parts else _DROP_TAGS
    doomed = []
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            doomed.append(el)
            continue
        lower = tag.lower()
        if lower in drop_tags:
            doomed.append(el)
            continue
        classes = el.get("class") or ""
        if _is_hidden(el, classes) or (lower in _NOTICE_TAGS and _is_consent_notice(el, classes)):
            doomed.append(el)
        elif tag == "header" and not keep_page_parts and not has_ancestor(el, "article") \
                and el.find(".//h1") is None:
            doomed.append(el)  # the site's header; one holding the headline is the article's
        elif tag == "title":
            el.text = None  # the page's title; markup a repaired page nested in it stays
    for el in doomed:
        remove_keeping_tail(el)
