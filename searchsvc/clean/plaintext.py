"""Plain-text articles: first line the title, blank-line separated paragraphs."""
from __future__ import annotations

import re

from .decoding import decode_html
from .record import CleanedArticle
from .tree import norm

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
    title = norm(lines[index])
    rest = lines[index + 1:]
    paragraphs = _blocks(rest)
    if paragraphs and paragraphs[0].split("\n")[0].strip() == title:
        first = paragraphs[0].split("\n")[1:]
        paragraphs = ([ "\n".join(first)] if any(l.strip() for l in first) else []) + paragraphs[1:]
    paragraphs = _drop_trailing_lines(paragraphs)
    body = "\n\n".join(norm(p) for p in paragraphs if norm(p))
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
