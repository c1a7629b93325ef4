"""Reading what a person typed into a search box, as they meant it.

Two readings:

- An explicit operator query (short, no sentence punctuation, not all in
  capitals) keeps its operators strict: ``"phrases"``, ``-excluded`` words or
  phrases (or ``NOT word``), ``OR`` between two items, ``AND`` making both
  sides required, ``title:word`` / ``author:word`` (or a quoted phrase after
  the colon), and ``prefix*``. Only well-formed operators count; every other
  character is punctuation, so a stray ``-``, ``:``, ``"``, ``*``, ``?`` or a
  parenthesis never fails or becomes a different query.
- A written question (``QUESTION_WORDS`` distinct words or more or sentence
  punctuation, outside quotes, or all in capitals: pasted headlines, shouted
  text, old catalogue records)
  is read as text. ``OR``/``AND``/``NOT``, ``word:``, ``-`` and ``*`` are its
  words and punctuation, and a quoted phrase is a hint (``hints``): articles
  with it rank higher, articles without it are still found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELDS = ("title", "author")
BOOLEANS = ("OR", "AND", "NOT")
QUESTION_WORDS = 8  # a query of this many distinct words (operators not counted) reads as a written question
WORD = re.compile(r"\w+(?:[.'’]\w+)*")
# a question mark, ! or ;, a comma before a space, or a full stop / colon ending a word of two letters or more
# (not the initials of "U.S." or "J. Smith")
SENTENCE = re.compile(r"[?!;]|,(?=\s)|(?<=[^\W\d_]{2})[.:](?=\s|$)")
QUOTED = re.compile(r'"([^"]*)"')
FIELD_NAME = re.compile(r"(?<![\w-])(?:%s):(?=[\"\w])" % "|".join(FIELDS), re.IGNORECASE)
ITEM = re.compile(
    r"""
      (?P<op>(?<!\S)(?:OR|AND)(?!\S))                   # OR / AND standing alone
    | (?P<neg>(?<!\S)-|(?<!\S)NOT\s+(?=\S))?            # - or NOT at the start of an item
    (?:(?P<field>[A-Za-z]+):(?=["\w]))?                 # field: directly followed by a value
    (?: "(?P<phrase>[^"]*)"                             # a closed quote
      | (?P<prefix>\w+)\*                               # prefix*
      | (?P<word>\w+(?:[.'’]\w+)*)                      # a word
    )
    """,
    re.VERBOSE,
)


@dataclass
class Clause:
    kind: str              # word | phrase | prefix
    text: str              # the raw text (words of a phrase joined by spaces)
    field: str | None = None
    negated: bool = False


@dataclass
class ParsedQuery:
    """Required groups (all must match), each an OR of clauses; plus excluded clauses.

    Plain words without operators sit in ``words``: they rank, and the
    planner decides how many must match (plan.py). ``hints`` are phrases
    that lift the articles having them and filter nothing.
    """

    words: list[str] = field(default_factory=list)
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    question: bool = False   # read as a written question: its operators were taken as text

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.groups or self.excluded)

    @property
    def strict(self) -> bool:
        """Whether an operator narrows the query (a phrase, OR, AND, a field, a prefix): what ``relaxed`` drops."""
        return bool(self.groups)


def parse(text: str, max_terms: int = 200) -> ParsedQuery:
    """The query as the person meant it: a written question as text, an operator query strictly."""
    if reads_as_question(text):
        return _question(text, max_terms)
    return _operators(text, max_terms)


def reads_as_question(text: str) -> bool:
    """Many distinct words or sentence punctuation outside quotes, or every letter a capital (two words or more).

    Operators are not words here (``OR``, ``AND``, ``NOT``, a field's name
    before its colon), nor is what the person quoted: a long quoted passage
    on its own is a phrase they asked for.
    """
    outside = QUOTED.sub('""', text)  # an empty phrase: a field before it is still a field
    words = [w for w in WORD.findall(FIELD_NAME.sub(" ", outside)) if w not in BOOLEANS]
    if len({w.lower() for w in words}) >= QUESTION_WORDS or SENTENCE.search(outside):
        return True
    every = [w for w in WORD.findall(text) if w not in BOOLEANS]
    return len(every) >= 2 and not any(c.islower() for c in text) and any(c.isupper() for c in text)


def relaxed(parsed: ParsedQuery, max_terms: int = 200) -> ParsedQuery:
    """``parsed`` without what narrows it: every positive word plain, phrases as hints; exclusions kept.

    The fallback when an operator left nothing (``"no such phrase"``,
    ``title:word`` in no title): the person still wants those words.
    """
    words = list(parsed.words)
    hints = list(parsed.hints)
    for group in parsed.groups:
        for c in group:
            words.extend(WORD.findall(c.text))
            if c.kind == "phrase":
                hints.append(c.text)
    return ParsedQuery(words[:max_terms], [], list(parsed.excluded), hints, parsed.question)


def _question(text: str, max_terms: int) -> ParsedQuery:
    hints = []
    for quoted in QUOTED.findall(text):
        words = WORD.findall(quoted)
        if len(words) > 1:
            hints.append(" ".join(words))
    return ParsedQuery(WORD.findall(text)[:max_terms], hints=hints, question=True)


def _operators(text: str, max_terms: int) -> ParsedQuery:
    parsed = ParsedQuery()
    items: list[Clause | str] = []
    for m in ITEM.finditer(text):
        if len(items) >= max_terms:
            break
        if m.group("op"):
            items.append(m.group("op"))
            continue
        fieldname = (m.group("field") or "").lower() or None
        if fieldname not in FIELDS:
            if fieldname:  # an unknown `foo:` is just a word followed by a colon
                items.append(Clause("word", m.group("field")))
            fieldname = None
        negated = bool(m.group("neg"))
        if m.group("phrase") is not None:
            words = WORD.findall(m.group("phrase"))
            if not words:
                continue
            kind, value = ("phrase", " ".join(words)) if len(words) > 1 else ("word", words[0])
        elif m.group("prefix") is not None:
            kind, value = "prefix", m.group("prefix")
        else:
            kind, value = "word", m.group("word")
        items.append(Clause(kind, value, fieldname, negated))
    _group(items, parsed)
    return parsed


def _group(items: list, parsed: ParsedQuery) -> None:
    """Join ``a OR b OR c`` into one group; both sides of ``AND`` are required; a dangling operator is dropped."""
    units: list[tuple[list[Clause], bool]] = []  # (clauses joined by OR, required by an AND)
    i, anded = 0, False
    while i < len(items):
        item = items[i]
        if isinstance(item, str):
            anded = item == "AND" and bool(units)
            if anded:
                units[-1] = (units[-1][0], True)
            i += 1
            continue
        group = [item]
        while i + 2 < len(items) and items[i + 1] == "OR" and isinstance(items[i + 2], Clause):
            group.append(items[i + 2])
            i += 2
        i += 1
        units.append((group, anded))
        anded = False
    for group, required in units:
        positive = [c for c in group if not c.negated]
        parsed.excluded.extend(c for c in group if c.negated)
        if len(positive) > 1:
            parsed.groups.append(positive)
        elif positive:
            c = positive[0]
            if c.kind == "word" and c.field is None and not required:
                parsed.words.append(c.text)
            else:
                parsed.groups.append([c])


def words_of(parsed: ParsedQuery) -> list[str]:
    """Every positive word the query mentions (for highlighting and did-you-mean)."""
    out = list(parsed.words)
    for group in parsed.groups:
        for c in group:
            out.extend(WORD.findall(c.text))
    return out
