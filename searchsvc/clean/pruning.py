"""Boilerplate blocks inside the chosen container: share bars, teasers, prompts, datelines."""
from __future__ import annotations

import re
from functools import lru_cache

from .dates import is_dateline
from .tree import BLOCK_TAGS, class_and_id, remove_keeping_tail, same_text, text_of
from .vocabulary import (MAX_BOILERPLATE_TEXT, STRONG_CONTENT, is_boilerplate_text, names_boilerplate,
                         names_picture)

_CITED_ADDRESS = re.compile(r"\s*(?:https?://|www\.)")
MAX_CAPTION_TEXT = 400  # a longer block named for a picture holds more than its caption


def _is_teaser_heading(el, stats: dict) -> bool:
    """A heading that is all link: the title of a teaser for another story."""
    st = stats.get(el)
    return el.tag in ("h2", "h3", "h4", "h5", "h6") and st is not None and st.text > 0 \
        and st.links >= 0.9 * st.text


def _opens_paragraph(el) -> bool:
    """An inline element that starts a paragraph's sentence, as a wire dateline does ("KOBE – ")."""
    parent = el.getparent()
    return el.tag not in BLOCK_TAGS and parent is not None and parent.tag == "p" \
        and el is parent[0] and not (parent.text or "").strip() and bool((el.tail or "").strip())


@lru_cache(maxsize=16384)
def _names_furniture(marks: str) -> bool:
    """Boilerplate or picture names, unless the names also say article body."""
    return (names_boilerplate(marks) or names_picture(marks)) and not STRONG_CONTENT.search(marks)


def prune(container, stats: dict, title: str) -> None:
    """Remove boilerplate blocks inside the chosen container."""
    container_text = max(stats[container].text, 1)
    doomed = []
    for el in container.iter():
        tag = el.tag  # lxml makes a new string at each read: read once
        if el is container or not isinstance(tag, str):
            continue
        st = stats.get(el)
        if st is None:
            continue
        marks = class_and_id(el)
        if marks != " " and _names_furniture(marks):
            if names_boilerplate(marks) and st.text < 0.4 * container_text and not _opens_paragraph(el):
                doomed.append(el)
                continue
            if names_picture(marks) and st.text < min(0.4 * container_text, MAX_CAPTION_TEXT):
                doomed.append(el)  # a caption or credit outside <figure> markup
                continue
        if tag in ("ul", "ol", "div", "section", "table", "dl") and st.text:
            density = st.links / st.text
            if density > 0.5 and st.text < 0.4 * container_text:
                doomed.append(el)
                continue
        if tag in BLOCK_TAGS and st.text < MAX_BOILERPLATE_TEXT:
            text = text_of(el)
            if is_boilerplate_text(text) or is_dateline(text):
                doomed.append(el)
                continue
        if tag == "p" and st.text and st.links >= 0.9 * st.text and st.text < 200 \
                and not _CITED_ADDRESS.match("".join(el.itertext())):
            doomed.append(el)  # a paragraph that is only a link (not a cited URL): a pointer elsewhere
            continue
        if _is_teaser_heading(el, stats):
            doomed.append(_teaser_card(el, container, stats))
            continue
        if tag in ("h1", "h2") and title and same_text(text_of(el), title):
            doomed.append(el)
    for el in doomed:
        remove_keeping_tail(el)


def _teaser_card(heading, container, stats: dict):
    """The small block around a teaser heading (heading + blurb), short of the container."""
    card = heading
    parent = card.getparent()
    while parent is not None and parent is not container and stats[parent].text < 350:
        card = parent
        parent = card.getparent()
    return card
