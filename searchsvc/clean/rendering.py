"""The chosen container as paragraphs of text."""
from __future__ import annotations

from .plaintext import story_end
from .tree import BLOCK_TAGS, norm, same_text
from .vocabulary import MAX_BOILERPLATE_TEXT, is_boilerplate_text


def render(container) -> list[str]:
    """Paragraphs of text under container: block elements start new paragraphs."""
    paragraphs: list[str] = []
    buffer: list[str] = []

    def flush():
        text = norm("".join(buffer))
        if text:
            paragraphs.append(text)
        buffer.clear()

    stack = [(container, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag  # lxml makes a new string at each read: read once
        if not isinstance(tag, str):
            tag = ""
        block = tag in BLOCK_TAGS
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


def drop_title_repeat(paragraphs: list[str], title: str) -> list[str]:
    """A copy of the headline at the top of the body is not body text."""
    while paragraphs and title and same_text(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    return paragraphs


def trim_trailing_boilerplate(paragraphs: list[str]) -> list[str]:
    """Prompts and furniture at the ends: at the end, read by the plain-text rules."""
    paragraphs = paragraphs[:story_end(paragraphs)]
    while paragraphs and len(paragraphs[0]) < MAX_BOILERPLATE_TEXT and is_boilerplate_text(paragraphs[0]):
        paragraphs = paragraphs[1:]
    return paragraphs
