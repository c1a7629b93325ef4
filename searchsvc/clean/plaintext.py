"""Plain-text articles: first line the title, blank-line separated paragraphs.

A .txt article as sites export it ends with the site talking to the reader:
comment and newsletter prompts, share and app buttons turned into text, a
copyright line, the wire service's credits.  Only the end of the text is
looked at, a line at a time from the last one back, and the walk stops at
the first line of the story.  A line is the site's when it

* uses the boilerplate vocabulary the HTML cleaner uses for short blocks
  ("Read more: ...", "© 2024 ...", "Follow us ..."), or the wire's credits
  ("Reporting by ...; Editing by ...", "... contributed to this report");
* calls the reader to act (second person, or an imperative like "Click",
  "Tell us", "Please ...") and is short, or talks about the site itself
  (comments, newsletter, app, typo, tip), or stands apart after an extra
  blank line.

Short lines that are not sentences (a "Facebook | Twitter" row, a rule of
dashes) go with the prompts they sit among.  A sentence of the story ends
the walk even when it says "you" inside a quotation, so the story's real
last paragraph is never dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .dates import is_dateline
from .decoding import decode_html
from .record import CleanedArticle
from .tree import norm
from .vocabulary import CALL_TO_ACTION, FURNITURE_WORDS, SITE_TALK, is_boilerplate_text, is_plain_text_prompt

MAX_PROMPT_CHARS = 200  # a longer line is a paragraph of the story, whatever its words
MAX_FURNITURE_WORDS = 12
MAX_FURNITURE_CHARS = 100  # and characters, for languages written without spaces
WRAPPED_LINE = 50  # lines of a hard-wrapped paragraph are at least this long, but the last

_SEPARATOR_LINE = re.compile(r"^\s*(?:[-_=*~#•·]\s*){3,}$")
_SENTENCE_END = re.compile(r"(?:(?<!\.\.)[.!?]|[。！？])[\"'”’)\]」』]*$")  # an ellipsis trails off: no sentence
_ATTRIBUTED = re.compile(r",[\"'”’]?\s+(?:[\w.'-]+\s+){0,4}(?:said|says|added|adds|told|tells|asked|asks|wrote|"
                         r"writes|explained|noted|warned|recalled)\b")
_BYLINE = re.compile(r"^(?i:(?:(?:written|reported|words|text|story)\s+)?by)\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,4}"
                     r"(?:\s*(?:,|and|&)\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,4})*$")
_QUOTED = re.compile(r"[\"“„«][^\"“”„«»]*[\"”“»]|(?<!\w)'[^']*'(?!\w)")


@dataclass
class _Line:
    """One line of the body (a hard-wrapped paragraph counts as one), with its place in the text."""
    text: str
    block: int         # index of the blank-line separated block it belongs to
    gap_before: bool   # two or more blank lines before it: set apart from the text above


def extract_plain_text(text: str) -> CleanedArticle:
    """A .txt article: first non-empty line is the title, the rest is the body."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_html(bytes(text))
    text = (text or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    raw = text.split("\n")
    start = next((i for i, line in enumerate(raw) if line.strip()), None)
    if start is None:
        return CleanedArticle()
    title = norm(raw[start])
    lines = _body_lines(raw[start + 1:])
    if lines and norm(lines[0].text) == title:
        lines = lines[1:]  # the title repeated as the first line
    lines = lines[:_story_end(lines)]
    return CleanedArticle(title=title, text=_paragraphs(lines))


def _body_lines(raw: list[str]) -> list[_Line]:
    """Lines grouped into blank-line separated blocks; a hard-wrapped paragraph is one line."""
    lines: list[_Line] = []
    current: list[str] = []
    block, blanks = -1, 0
    for line in raw + [""]:
        if line.strip():
            current.append(line.strip())
            continue
        if current:
            block += 1
            lines.extend(_logical_lines(current, block, gap=block > 0 and blanks >= 2))
            current, blanks = [], 0
        blanks += 1
    return lines


def _logical_lines(block_lines: list[str], block: int, gap: bool) -> list[_Line]:
    """A block's lines, or one line when they are a paragraph wrapped at a fixed width."""
    if len(block_lines) > 1 and all(len(line) >= WRAPPED_LINE for line in block_lines[:-1]):
        return [_Line(" ".join(block_lines), block, gap)]
    return [_Line(line, block, gap and i == 0) for i, line in enumerate(block_lines)]


def story_end(paragraphs: list[str]) -> int:
    """Where the site's trailing prompts start in the HTML cleaner's paragraphs.

    A page's markup already separated story from furniture, so short lines count
    only as prompts there, never for the site words they use (a list closing a
    story is short lines too).
    """
    return _story_end(_ParagraphLines(paragraphs), site_words=False)


class _ParagraphLines:
    """Paragraphs as the lines ``_story_end`` reads, each made when the walk from the end reaches it."""

    def __init__(self, paragraphs: list[str]):
        self.paragraphs = paragraphs

    def __len__(self) -> int:
        return len(self.paragraphs)

    def __getitem__(self, i: int) -> _Line:
        return _Line(self.paragraphs[i], i, False)


def _story_end(lines: list[_Line], site_words: bool = True) -> int:
    """Index of the first line of the site's trailing boilerplate (len(lines) when there is none)."""
    cut = len(lines)
    while cut > 0 and _SEPARATOR_LINE.match(lines[cut - 1].text):
        cut -= 1  # rules at the very end
    for i in range(cut - 1, -1, -1):
        kind = _kind(lines[i], site_words)
        if kind == "story":
            break
        if kind == "site":
            cut = i
    while cut > 0 and _SEPARATOR_LINE.match(lines[cut - 1].text):
        cut -= 1  # the rule that set the footer off
    return cut


def _kind(line: _Line, site_words: bool = True) -> str:
    """'site' (the site talking), 'furniture' (a short line that is not a sentence) or 'story'."""
    text = norm(line.text)
    if len(text) > MAX_PROMPT_CHARS or _ATTRIBUTED.search(text):
        return "story"  # a paragraph, or someone's words
    if is_boilerplate_text(text) or is_plain_text_prompt(text) or _BYLINE.match(text) or is_dateline(text):
        return "site"
    unquoted = _QUOTED.sub(" ", text)
    short = len(text.split()) <= MAX_FURNITURE_WORDS and len(text) <= MAX_FURNITURE_CHARS
    sentence = bool(_SENTENCE_END.search(text))
    if CALL_TO_ACTION.search(unquoted) and (line.gap_before or short or not sentence or SITE_TALK.search(unquoted)):
        return "site"
    if short and not sentence:
        words = site_words and (SITE_TALK.search(unquoted) or FURNITURE_WORDS.search(unquoted))
        return "site" if words else "furniture"
    return "story"


def _paragraphs(lines: list[_Line]) -> str:
    """The body: each block one paragraph, its lines joined, paragraphs one blank line apart."""
    blocks: dict[int, list[str]] = {}
    for line in lines:
        blocks.setdefault(line.block, []).append(line.text)
    return "\n\n".join(text for text in (norm(" ".join(parts)) for parts in blocks.values()) if text)
