"""The index's fields and the one analyzer shared by indexing, queries and snippets.

Choices (measured in bench/relevance.py, see the README):
- one merged ``content`` field (title + body) carries the ranking; the title
  is indexed on its own as well and queried with a light weight, so a title
  match lifts a document without drowning the body;
- Snowball English stemming (PyStemmer) and accent folding;
- a tiny stop list at index time (so phrases keep working), and the large
  SMART list only at query time for long, natural-language questions.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from itertools import filterfalse
from pathlib import Path

import Stemmer
from whoosh import columns, fields
from whoosh.analysis import (
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.support.charset import accent_map

# Words so common in news text that indexing them buys nothing, and few enough
# that no name or phrase a person searches for is lost.
INDEX_STOP_WORDS = frozenset(
    "a an and are as at be by for from in is it of on or that the this to was were with".split()
)


@lru_cache(maxsize=1)
def query_stop_words() -> frozenset[str]:
    """The SMART list: filler words of long questions (counted once, lightly), never added by feedback."""
    text = Path(__file__).with_name("stopwords.txt").read_text("utf-8")
    words = (w for line in text.splitlines() if not line.startswith("#") for w in line.split())
    return frozenset(words)


_local = threading.local()


def stem_english(word: str) -> str:
    """Snowball English stem (module-level so the schema pickles into the index)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def word_analyzer():
    """Tokens, lower-cased and accent-folded: the unstemmed words (author names, spelling)."""
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def text_analyzer():
    """The analyzer of every searchable text field, of queries and of snippets."""
    return (
        word_analyzer()
        | StopFilter(stoplist=INDEX_STOP_WORDS, minsize=1)
        | StemFilter(stemfn=stem_english, cachesize=100_000)
    )


ANALYZER = text_analyzer()

# Field names, referenced by the indexer and the searcher.
ID, TITLE, CONTENT, BODY = "id", "title", "content", "body"
PUBLISHED, YEAR, AUTHOR, SOURCE, URL, TOPICS = "published", "year", "author", "source", "url", "topics"
GROUP = "group"  # near-duplicate group: the id of its first member (see dedup)
DUPKEYS, SKETCH = "dupkeys", "sketch"  # dedup's lookup keys and its sketch (a column)
DATEKEY = "datekey"  # seconds since 1970 (UTC), or UNDATED: the date sort column, undated last
UNDATED = -(2**62)


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(unique=True, stored=True, sortable=True),
        # also a column: a hit's near-duplicate versions show their titles without a stored document each
        title=fields.TEXT(analyzer=ANALYZER, stored=True, sortable=True),
        content=fields.TEXT(analyzer=ANALYZER, spelling=True),
        body=fields.STORED(),
        # dates are filtered and sorted from the datekey column (see engine), never
        # looked up as terms: indexing them cost 16 trie terms a value per field
        published=fields.STORED(),
        datekey=fields.COLUMN(columns.NumericColumn("q", default=UNDATED)),
        year=fields.ID(stored=True, sortable=True),
        author=fields.TEXT(analyzer=word_analyzer(), stored=True, phrase=True),
        source=fields.ID(stored=True, sortable=True),
        url=fields.STORED(),
        topics=fields.KEYWORD(stored=True, commas=True, lowercase=True, scorable=False),
        group=fields.ID(stored=True, sortable=True),
        dupkeys=fields.KEYWORD(scorable=False),
        sketch=fields.COLUMN(columns.VarBytesColumn()),  # read by the near-duplicate lookup, never shown
    )


def stems(text: str) -> list[str]:
    """The index terms that ``text`` becomes (what a query word must equal to match).

    ``ANALYZER``'s tokens, from the one-pass analysis (``index_terms``):
    planning asks this of every query word, and the chain of five token
    filters cost a quarter of planning (tests/test_schema.py checks the two
    agree).
    """
    return index_terms(text)[1]


def written_words(text: str) -> list[str]:
    """``text``'s words as the vocabulary writes them (lower-case, accent-folded, stop words kept): the word
    analyzer's tokens, in one pass."""
    if text.isascii():
        return _TOKEN.findall(text.lower())
    return [w.lower().translate(accent_map) for w in _TOKEN.findall(text)]


# the tokenizer's own pattern, without its capturing group (so findall returns whole words)
_TOKEN = re.compile(RegexTokenizer().expression.pattern.replace("(", "(?:"), RegexTokenizer().expression.flags)


def index_words(text: str) -> tuple[int, list[str]]:
    """The words the text analyzer keeps from ``text`` (lower-cased, accent-folded, not yet stemmed), in one pass,
    and the position of the first.

    With ``stems_of`` applied, equal to the analyzer's tokens in index mode
    (tests/test_schema.py checks, with Hypothesis): the bulk segment writer
    analyses every title and body with this instead of Whoosh's chain of
    five token filters. Positions run on from the first word's (Whoosh's
    stop filter renumbers from there, so leading stop words shift them all).
    ASCII text is lower-cased whole (the same tokens: no ASCII letter changes
    class or length, and the accent map leaves lower-case ASCII alone).
    """
    if text.isascii():
        words = _TOKEN.findall(text.lower())
    else:
        words = [w.lower().translate(accent_map) for w in _TOKEN.findall(text)]
    stop = INDEX_STOP_WORDS
    first = next((i for i, w in enumerate(words) if w not in stop), 0)  # (the tokenizer finds no empty word)
    return first, list(filterfalse(stop.__contains__, words))


_STEMS: dict[str, str] = {}  # every kept word seen -> its index term
STEM_CACHE = 1_000_000       # words remembered before the dictionary starts again


def stems_of(words: list[str]) -> list[str]:
    """The index terms of kept words: a dictionary lookup per word in C (a build asks this of every word it indexes)."""
    try:
        return list(map(_STEMS.__getitem__, words))
    except KeyError:
        if len(_STEMS) > STEM_CACHE:
            _STEMS.clear()
        for word in words:
            if word not in _STEMS:
                _STEMS[word] = stem_english(word)
        return list(map(_STEMS.__getitem__, words))


def index_terms(text: str) -> tuple[int, list[str]]:
    """The index terms of ``text`` in order, and the position of the first."""
    first, words = index_words(text)
    return first, stems_of(words)


def spelling_words(text: str) -> set[str]:
    """The distinct unstemmed words the analyzer keeps from ``text``: did-you-mean's vocabulary."""
    return set(index_words(text)[1])


def vocabulary_terms(words: list[str]) -> list[str | None]:
    """``word_stem`` of each of ``words``, the ASCII ones that are written as the index writes its words in one
    call to the stemmer.

    For the index's vocabulary (spelling words, ``index_words``' output): an
    ASCII word that is one whole token, lower-case and not a stop word is
    its own only index word, so its term is its stem; any other word goes
    through ``word_stem``. Planning and exact forms ask this of every word
    under a stem's head, tens to hundreds a new query word: one by one, the
    cache misses cost four times as much.
    """
    plain = [w.isascii() and w.lower() == w and w not in INDEX_STOP_WORDS and _TOKEN.fullmatch(w) is not None
             for w in words]
    stemmed = iter(stem_english_words([w for w, p in zip(words, plain) if p]))
    return [next(stemmed) if p else word_stem(w) for w, p in zip(words, plain)]


def stem_english_words(words: list[str]) -> list[str]:
    """``stem_english`` of each of ``words``, in one call."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWords(words)


@lru_cache(maxsize=200_000)
def word_stem(word: str) -> str | None:
    """The index term of one word, or None for a stop word: highlighting asks this of every candidate word."""
    found = index_terms(word)[1]
    return found[0] if found else None


def layout(s: fields.Schema) -> list[tuple[str, str, bool]]:
    """(field, type, sortable) of every field: what an index built by this version must have."""
    return sorted((name, type(f).__name__, f.column_type is not None) for name, f in s.items())


def is_current(s: fields.Schema) -> bool:
    """Whether an index's schema is the one this version builds (else it needs a full rebuild)."""
    return layout(s) == layout(build_schema())
