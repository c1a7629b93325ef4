"""Elements that never hold article prose: scripts, navigation, figures, hidden blocks."""
from __future__ import annotations

import re

from .tree import class_and_id, has_ancestor, remove_keeping_tail

_DROP_TAGS = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
              "canvas", "video", "audio", "source", "picture", "img", "button", "input", "select",
              "textarea", "option", "label", "nav", "aside", "footer", "head", "figure", "figcaption",
              "dialog", "menu", "link", "meta", "map", "area", "frame", "frameset"}


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


# Cookie and consent notices, however the plugin spells its class ("cookiebanner", "CookieConsent").
_CONSENT_AREA = re.compile(r"cookie|consent|gdpr", re.I)


def _is_consent_notice(el) -> bool:
    """A cookie or consent notice; not a page wrapper that only records the reader's choice in its class."""
    return bool(_CONSENT_AREA.search(class_and_id(el))) and el.tag not in ("html", "body", "main", "article") \
        and el.find(".//h1") is None


def drop_junk(root) -> None:
    """Remove elements that never hold article prose (scripts, nav, hidden...)."""
    doomed = []
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:
            doomed.append(el)
        elif tag.lower() in _DROP_TAGS or _is_hidden(el) or _is_consent_notice(el):
            doomed.append(el)
        elif tag == "header" and not has_ancestor(el, "article") and el.find(".//h1") is None:
            doomed.append(el)  # the site's header; one holding the headline is the article's
        elif tag == "title":
            el.text = None  # the page's title; markup a repaired page nested in it stays
    for el in doomed:
        remove_keeping_tail(el)
