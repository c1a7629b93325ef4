"""Finding a query's words in text: every form of the word, whole words only, escaped passages."""
from __future__ import annotations

import bisect
import html
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import highlight, schema

WORDS = ["strike", "strikes", "striking", "city", "cities", "café", "Straße", "İstanbul", "x_strike", "3strike",
         "STRIKERS", "ſtrike", "Kelvin", "ǅemal", "harbor", "harbour", "ﬁsh"]
texts = st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=30).map(" ".join) | st.text(max_size=120)
queries = st.lists(st.sampled_from(WORDS) | st.from_regex(r"\w{1,8}", fullmatch=True), min_size=1, max_size=3)


def by_definition(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """The words (maximal runs of ``\\w``, any case) beginning with a stem's head whose index term is a stem."""
    heads = sorted({re.escape(t[:-1] if len(t) > 3 else t) for t in stems if t}, key=len, reverse=True)
    if not heads:
        return []
    candidates = re.finditer(r"(?<!\w)(?:%s)\w*" % "|".join(heads), text, re.IGNORECASE)
    return [m.span() for m in candidates if schema.word_stem(m.group()) in stems]


@settings(max_examples=400, deadline=None)
@given(texts, queries)
def test_matches_are_the_words_that_stem_to_a_query_term(text, words):
    stems = {t for w in words for t in schema.stems(w)}
    assert highlight.matches(text, stems) == by_definition(text, stems)


@pytest.mark.parametrize("text, word, expected", [
    ("Strikers struck; striking workers strike", "strike", ["striking", "strike"]),
    ("The city's cities", "city", ["city", "cities"]),
    ("x_strike strike_x 3strike strike", "strike", ["strike"]),     # whole words only
    ("İstanbul: a city", "city", ["city"]),                           # lower-casing lengthens the text
])
def test_matches_every_form_and_only_whole_words(text, word, expected):
    stems = set(schema.stems(word))
    assert [text[a:b] for a, b in highlight.matches(text, stems)] == expected


def test_passages_escape_the_text_and_mark_the_words():
    body = "Dock <b>workers</b> & their union ended the strike on Monday. " * 3
    (offset, html), *_ = highlight.passages(body, set(schema.stems("strike")), size=80)
    assert "<b>" not in html and "&lt;b&gt;workers&lt;/b&gt; &amp;" in html
    assert html.count("<mark>strike</mark>") >= 1 and html.startswith("… ") and body[offset:].startswith(html[2:8])


@pytest.mark.parametrize("typed, text, marked", [
    # the word's own forms are marked; a word only the stemmer joins to it is not (Ferris -> ferri <- ferry)
    ("ferry", "Ferry crews, two ferries, a ferried car; captain Luke Ferris scored.", ["Ferry", "ferries", "ferried"]),
    ("ferries", "A ferry and ferries; Ferris.", ["ferry", "ferries"]),
    ("strike", "Strikers struck; striking workers strike again (strikes).", ["striking", "strike", "strikes"]),
    ("elect", "They elect, elected and electing; the election.", ["elect", "elected", "electing"]),
    ("cyberattack", "A cyberattack, two cyberattacks.", ["cyberattack", "cyberattacks"]),  # not in the dictionary
])
def test_only_the_typed_words_own_forms_are_marked(typed, text, marked):
    stems = set(schema.stems(typed))
    html = highlight.mark(text, stems, highlight.Forms.of([typed]))
    assert re.findall(r"<mark>(.*?)</mark>", html) == marked


def test_prefix_expansions_are_all_marked():
    stems = {"desalin", "desal"}  # what desal* expanded to: no typed word, so every form counts
    assert highlight.mark("Desalination plants desalinate", stems, highlight.Forms.of([])).count("<mark>") == 2


def test_a_hit_found_only_through_another_form_gets_its_passage_unmarked():
    body = "The final went to penalties. Captain Luke Ferris stepped up to score the decisive kick."
    (offset, html), = highlight.passages(body, set(schema.stems("ferry")), size=60, forms=highlight.Forms.of(["ferry"]))
    assert "Ferris" in html and "<mark>" not in html


def test_passages_come_in_article_order():
    body = ("Intro words here. " * 20 + "One strike. " + "Filler text again. " * 30
            + "Strike after strike, the strike went on. " + "More filler words. " * 30 + "A last strike.")
    found = highlight.passages(body, set(schema.stems("strike")), size=80, limit=3)
    offsets = [offset for offset, _ in found]
    assert len(found) == 3 and offsets == sorted(offsets)


@pytest.mark.parametrize("gap", [0, 3, 8])  # up to 16 characters: within a quarter of the passage
def test_a_passage_is_never_cut_just_before_a_query_word(gap):
    # the best passage (both words, twice) would end just before the next "Port"
    body = "The port strike and the port strike went on at the quay " + "y" * 14 + " y" * gap + " Port Ashby." + " z" * 200
    stems = {t for w in ("port", "strike") for t in schema.stems(w)}
    (_, html), = highlight.passages(body, stems, size=80, limit=1)
    assert "<mark>Port</mark>" in html, html


def test_a_passage_ends_on_a_whole_word():
    body = "Port strike " + " ".join(["automation"] * 60)
    (_, html), = highlight.passages(body, set(schema.stems("strike")), size=50)
    assert html.endswith("automation …")


def escaped_piece_by_piece(text: str, spans: list[tuple]) -> str:
    """``text`` with <mark> around ``spans``, each piece escaped on its own: what ``mark`` must equal."""
    out, pos = [], 0
    for a, b, *_ in spans:
        out += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        pos = b
    return "".join(out + [html.escape(text[pos:])])


# the characters escaping changes, whitespace runs, and the stand-ins for the tags (highlight._OPEN, _CLOSE)
AWKWARD = ["<", ">", "&", '"', "'", "\x00", "\x01", "\n\n", " \t ", "\u2028", "<mark>", "&amp;"]
awkward_texts = st.lists(st.sampled_from(WORDS + AWKWARD) | st.text(max_size=4), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(awkward_texts, queries)
def test_marking_escapes_every_piece_of_the_text(text, words):
    stems = {t for w in words for t in schema.stems(w)}
    forms = highlight.Forms.of(words)
    assert highlight.mark(text, stems, forms) == escaped_piece_by_piece(
        text, forms.marked(highlight.found_words(text, stems)))


@settings(max_examples=300, deadline=None)
@given(awkward_texts, queries)
def test_passages_are_the_text_escaped_on_one_line_with_its_own_words_marked(text, words):
    stems = {t for w in words for t in schema.stems(w)}
    forms = highlight.Forms.of(words)
    own = {word for _, _, word in forms.marked(highlight.found_words(text, stems))}
    for offset, passage in highlight.passages(text, stems, size=40, forms=forms):
        inner = passage.removeprefix("… ").removesuffix(" …")
        assert set(re.findall(r"<mark>(.*?)</mark>", inner)) <= {html.escape(w) for w in own}
        plain = html.unescape(inner.replace("<mark>", "").replace("</mark>", ""))
        assert " ".join(text[offset:].split()).startswith(plain)


@pytest.mark.parametrize("typed, text, marked, found", [
    # a match at the very start and at the very end
    ("strike", "Strike! The dock strike ended; no more strikes",
     "<mark>Strike</mark>! The dock <mark>strike</mark> ended; no more <mark>strikes</mark>",
     [(0, "<mark>Strike</mark>! The dock <mark>strike</mark> ended; no more <mark>strikes</mark>")]),
    # lower-casing lengthens the text (İ), and the text holds the characters that stand in for the tags
    ("strike", "İstanbul dockers strike; İİİ the strike <b>&</b> went on \x00 and \x01 strike",
     "İstanbul dockers <mark>strike</mark>; İİİ the <mark>strike</mark> &lt;b&gt;&amp;&lt;/b&gt; went on \x00 and "
     "\x01 <mark>strike</mark>",
     [(9, "… dockers <mark>strike</mark>; İİİ the <mark>strike</mark> &lt;b&gt;&amp;&lt;/b …")]),
    ("ferry", "Ferris \x00<mark>\x01 ferries & ‘ferry’ café ferry",
     "Ferris \x00&lt;mark&gt;\x01 <mark>ferries</mark> &amp; ‘<mark>ferry</mark>’ café <mark>ferry</mark>",
     [(7, "… \x00&lt;mark&gt;\x01 <mark>ferries</mark> &amp; ‘<mark>ferry</mark>’ café <mark>ferry</mark>")]),
    # no match: the beginning, escaped
    ("strike", "Nothing here matches at all, said the <union> & co.",
     "Nothing here matches at all, said the &lt;union&gt; &amp; co.",
     [(0, "Nothing here matches at all, said the &lt;union …")]),
    # non-ASCII words, whitespace runs made one space
    ("café", "Le café, les cafés\n\n et  CAFÉ\tnoir café",
     "Le <mark>café</mark>, les <mark>cafés</mark>\n\n et  <mark>CAFÉ</mark>\tnoir <mark>café</mark>",
     [(0, "Le <mark>café</mark>, les <mark>cafés</mark> et <mark>CAFÉ</mark> noir <mark>café</mark>")]),
])
def test_marks_and_passages_of_awkward_texts(typed, text, marked, found):
    stems, forms = set(schema.stems(typed)), highlight.Forms.of([typed])
    assert highlight.mark(text, stems, forms) == marked
    assert highlight.passages(text, stems, size=40, forms=forms) == found


def test_overlapping_candidate_passages_give_way_to_the_best_ones():
    text = ("strike " + "word " * 12) * 6 + "strike"  # every match's passage overlaps its neighbours'
    assert highlight.passages(text, set(schema.stems("strike")), size=40) == [
        (0, "<mark>strike</mark> word word word word word word word …"),
        (62, "… word <mark>strike</mark> word word word word word …"),
        (129, "… word <mark>strike</mark> word word word word word …")]


# --- passages as they were chosen before the one-sweep rewrite (commit 92bd2fb): the oracle the faster
# code must equal, output for output

def passages_before(body, stems, size=240, limit=3, forms=None):
    text = body[:highlight.SCAN_CHARS]
    found = highlight.found_words(text, stems) if stems else []
    marked = forms.marked(found) if forms is not None else found
    around = marked or found
    if not around:
        return [window_before(text, 0, size, [])] if text else []
    length = len(text)
    starts, ends = [a for a, _, _ in around], [b for _, b, _ in around]
    words = [w.lower() for _, _, w in around]
    quarter, last = size // 4, length - size
    candidates = []
    for i, start in enumerate(starts):
        lo = max(0, min(start - quarter, last))
        hi = bisect.bisect_left(ends, lo + size + 1)  # _reach: the first match ending after the passage
        k, hi, limit_ = hi, lo + size, lo + size + 2 * quarter
        while k < len(starts) and starts[k] < hi + quarter and ends[k] <= limit_:
            hi, k = ends[k], k + 1
        hi = min(hi, length)
        j = bisect.bisect_right(ends, hi, i)
        candidates.append((len(set(words[i:j])) * 10 + j - i, -lo, lo, hi))
    chosen = []
    for _, _, lo, hi in sorted(candidates, reverse=True):
        if not any(lo < u_hi and hi > u_lo for u_lo, u_hi in chosen):
            chosen.append((lo, hi))
            if len(chosen) >= limit:
                break
    return [window_before(text, lo, hi - lo, [m for m in marked if m[0] >= lo and m[1] <= hi])
            for lo, hi in sorted(chosen)]


def window_before(text, lo, size, spans):
    hi = min(len(text), lo + size)
    if lo > 0:
        space = text.find(" ", lo, min(hi, lo + 30))
        lo = space + 1 if space != -1 else lo
    if hi < len(text) and not text[hi - 1].isspace():
        space = highlight._WORD_REST.match(text, hi).end()
        hi = space if space - hi <= 30 else hi
    inner = escaped_piece_by_piece(text[:hi], [s for s in spans if s[0] >= lo and s[1] <= hi])
    inner = inner[len(html.escape(text[:lo])):] if lo else inner
    return lo, ("… " if lo > 0 else "") + " ".join(inner.split()) + (" …" if hi < len(text) else "")


LONG = "Supercalifragilisticexpialidocious"  # longer than three quarters of a short passage
long_texts = st.lists(st.sampled_from(WORDS + AWKWARD + [LONG, LONG.lower(), "\n\n", "  "]) | st.text(max_size=5),
                      max_size=80).map(" ".join)
long_queries = st.lists(st.sampled_from(WORDS + [LONG]) | st.from_regex(r"\w{1,8}", fullmatch=True),
                        min_size=1, max_size=3)


# query words close together, with short and long words between: passages reaching past their end
dense_texts = st.lists(st.sampled_from(["strike", "Strikes", "striking", "port", "a", "bb", "word", "yyyyyyyyy", LONG]),
                       max_size=60).flatmap(lambda ws: st.lists(st.sampled_from([" ", "  ", "\n\n", ", "]),
                                                                 min_size=len(ws), max_size=len(ws))
                                            .map(lambda gaps: "".join(w + g for w, g in zip(ws, gaps))))
dense_queries = st.lists(st.sampled_from(["strike", "port", "striking", LONG]), min_size=1, max_size=3)


@settings(max_examples=500, deadline=None)
@given(long_texts | dense_texts, long_queries | dense_queries, st.integers(4, 120), st.integers(1, 4),
       st.booleans())
def test_passages_are_those_chosen_before_the_one_sweep(text, words, size, limit, with_forms):
    stems = {t for w in words for t in schema.stems(w)}
    forms = highlight.Forms.of(words) if with_forms else None
    assert highlight.passages(text, stems, size, limit, forms) == passages_before(text, stems, size, limit, forms)


@pytest.mark.parametrize("text", ["a b", "a\n\nb", " a b", "a b ", "a  b", "a\nb", "a\n\n\nb", "a\tb", "a\u2028b",
                                  "a\xa0b", "a\x00b", "<mark>a</mark>\n\nb", "", "\n\n"])
def test_one_line_is_splitting_and_joining_the_words(text):
    assert highlight._one_line(text) == " ".join(text.split())


def test_the_only_whitespace_a_printable_text_holds_is_the_space():
    # what _one_line's short way relies on: str.split's whitespace (isspace) is never printable, but for " "
    assert [hex(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c).isprintable()] == ["0x20"]


def _lemmas_by_lemminflect(word: str) -> frozenset[str]:
    """``lemmas`` as lemminflect's public calls give it (what ``highlight.lemmas`` reads from its tables)."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    found = {lemma for forms in getAllLemmas(word).values() for lemma in forms}
    if not found:
        found = {lemma for pos in ("NOUN", "VERB") for forms in getAllLemmasOOV(word, pos).values() for lemma in forms}
    return frozenset({word} | {lemma.lower() for lemma in found})


LEMMA_WORDS = ["ferries", "ferry", "ferris", "striking", "struck", "better", "was", "'d", "its", "ours", "these", "data",
               "cyberattacks", "cyberattack", "opec", "bundesbank", "crises", "criteria", "indices", "cafés", "naïve",
               "3m", "x", "", "ǅemal", "İstanbul".lower(), "wouldn't", "mice", "oxen", "taxied", "dying", "geese"]


@pytest.mark.parametrize("word", LEMMA_WORDS)
def test_lemmas_are_lemminflects_and_possible_lemmas_hold_them(word):
    assert highlight.lemmas.__wrapped__(word) == _lemmas_by_lemminflect(word)
    assert highlight.possible_lemmas(word) >= highlight.lemmas(word)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzéü'-"), min_size=1, max_size=14))
def test_lemmas_of_any_word_are_lemminflects_and_within_the_possible_ones(word):
    assert highlight.lemmas.__wrapped__(word) == _lemmas_by_lemminflect(word)
    assert highlight.possible_lemmas(word) >= highlight.lemmas.__wrapped__(word)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LEMMA_WORDS[:20]), st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=4))
def test_a_form_is_judged_as_by_every_lemma(typed, ending):
    """``Forms.is_form`` skips the lemma model when no rule could reach a typed word's lemma: same verdicts."""
    forms = highlight.Forms.of([typed])
    for word in (typed + ending, typed[:-1] + ending, typed[:-2] + ending):
        typed_words = forms.words.get(schema.word_stem(word))
        expected = typed_words is None or word.lower() in typed_words or any(
            _lemmas_by_lemminflect(word.lower()) & _lemmas_by_lemminflect(w) for w in typed_words)
        assert highlight.Forms.of([typed])._is_form(word) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(max_codepoint=127), min_size=1, max_size=12))
def test_an_ascii_word_has_the_index_term_of_its_lower_case_form(word):
    """What ``found_words`` relies on to look an ASCII word's term up by its lower-case form."""
    assert schema.word_stem.__wrapped__(word) == schema.word_stem.__wrapped__(word.lower())
