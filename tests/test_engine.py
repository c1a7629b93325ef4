"""The array engine scores every query as Whoosh itself would, on a real index of several segments with deletions."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from whoosh import query as wq
from whoosh.support.levenshtein import damerau_levenshtein

from conftest import drop_postings_arrays, drop_stored_documents, make_settings, page, write
from searchsvc import engine, paging, ranking, schema
from searchsvc.indexer import reindex
from searchsvc.query import parse
from searchsvc.plan import plan as make_plan
from searchsvc.search import SearchIndex, SearchRequest, search
from searchsvc.store import IndexHome
from searchsvc.stored import StoredDocs

VOCAB = [f"w{i}" for i in range(60)] + ["harbour", "harbours", "strike", "striking", "council", "flood"]


def records(start: int, n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(start, start + n):
        body = " ".join(rnd.choices(VOCAB, k=rnd.randint(3, 60)))
        if i % 97 == 0:  # a word in a few documents, twice in each: posting blocks of one weight that is not 1
            body += " quagga quagga"
        out.append({"id": f"d{i:04d}", "title": " ".join(rnd.choices(VOCAB, k=rnd.randint(1, 5))), "text": body,
                    "published": f"{2018 + i % 6}-{1 + i % 12:02d}-03", "source": f"S{i % 4}",
                    "author": rnd.choice(["Ann Lee", "Bo Chan", "Cy Diaz"])})
    return out


def dump(path, recs):
    write(path, "".join(json.dumps(r) + "\n" for r in recs))


@pytest.fixture(scope="module", params=["mapped", "decoded"])
def layered(tmp_path_factory, request):
    """Three commits: two files, a third (a new segment), then the first file shrunk (deletions).

    ``decoded``: the segments' postings arrays and stored documents files removed, as in an index written
    before them: every posting list is then decoded from Whoosh's blocks (postings.py), and every hit's
    stored fields read through Whoosh's stored column (stored.py)."""
    root = tmp_path_factory.mktemp("layered")
    settings = make_settings(root / "index")
    dump(root / "src/a.jsonl", records(0, 300, 1))
    dump(root / "src/b.jsonl", records(300, 300, 2))
    reindex(settings, [root / "src"])
    dump(root / "src/c.jsonl", records(600, 200, 3))
    reindex(settings, [root / "src"])
    dump(root / "src/a.jsonl", records(0, 150, 1))
    reindex(settings, [root / "src"])
    assert len(list((root / "index").rglob("*.arr"))) >= 2
    if request.param == "decoded":
        drop_postings_arrays(root / "index")
        assert drop_stored_documents(root / "index") >= 2
    index = SearchIndex(settings)
    assert index.arrays(index.searcher()).mapped == (request.param == "mapped")
    yield settings, index
    index.close()


def whoosh_scores(s, q) -> dict[int, float]:
    """Whoosh's own scores; a top-level ``AndNot`` as two searches, since Whoosh 2.7.4's AndNot matcher
    lets excluded documents through in some multi-segment indexes (see the exclusion test below)."""
    if isinstance(q, wq.AndNot):
        dropped = whoosh_scores(s, q.b)
        return {d: v for d, v in whoosh_scores(s, q.a).items() if d not in dropped}
    return {hit.docnum: hit.score for hit in s.search(q, limit=None, terms=False)}


def engine_scores(index: SearchIndex, s, q) -> dict[int, float]:
    found = engine.Evaluator(index.arrays(s), s).matches(q)
    return dict(zip(found.docnums.tolist(), found.scores.tolist()))


def assert_same(expected: dict[int, float], got: dict[int, float], scores: bool = True) -> None:
    assert set(got) == set(expected)
    for docnum, score in expected.items() if scores else ():
        assert got[docnum] == pytest.approx(score, rel=1e-9, abs=1e-12)


def test_the_index_has_several_segments_and_deletions(layered):
    _, index = layered
    s = index.searcher()
    assert len(s.leaf_searchers()) >= 2
    assert s.doc_count() == 650 and s.doc_count_all() > 650


QUERIES = ["w1", "harbours", "w3 w7", "strike council flood", "w1 w2 w3 w4 w5 w6 w7 w8",
           '"w1 w2"', "w4 OR w9", "w5 -w6", 'council -"w1 w2"', "title:w8", "author:lee",
           'author:"bo chan"', "harb*", "w1 title:w2 OR w3", "zzz", "w9 w10 -w11 OR w12", "quagga w3",
           "what w3 w7", "w1 AND w2 w3", "w4 NOT w5"]


@pytest.mark.parametrize("q", QUERIES)
def test_planned_queries_score_as_whoosh(layered, q):
    settings, index = layered
    s = index.searcher()
    ev = engine.Evaluator(index.arrays(s), s)
    plan = make_plan(ev, parse(q), settings)
    tree = plan.query if plan.query is not None else wq.Every()
    if plan.excluded:
        tree = wq.AndNot(tree, wq.Or(plan.excluded))
    expected = whoosh_scores(s, tree)
    # Phrases score as their words' BM25 sum (test_phrase_scores_are_its_words_sum), not as Whoosh's spans.
    assert_same(expected, engine_scores(index, s, tree), scores="Phrase" not in repr(tree))
    assert expected or q == "zzz"


@pytest.mark.parametrize("words", [["w1", "w2"], ["w3", "w4", "w5"], ["harbour", "w1"], ["w1", "w1"]])
def test_phrase_matches_as_whoosh_and_scores_as_its_words(layered, words):
    _, index = layered
    s = index.searcher()
    phrase = wq.Phrase(schema.CONTENT, words)
    got = engine_scores(index, s, phrase)
    assert_same(whoosh_scores(s, phrase), got, scores=False)
    summed = engine_scores(index, s, wq.And([ranking.RankedTerm(schema.CONTENT, w) for w in words]))
    for docnum, score in got.items():
        assert score == pytest.approx(summed[docnum])


def test_random_trees_score_as_whoosh(layered):
    _, index = layered
    s = index.searcher()
    rnd = random.Random(5)

    def tree(depth):
        if depth == 0 or rnd.random() < 0.3:
            field = rnd.choice([schema.CONTENT, schema.TITLE])
            return ranking.RankedTerm(field, rnd.choice(VOCAB[:20]), boost=rnd.choice([1.0, 0.25, 3.0]))
        kind = rnd.choice([wq.And, wq.Or])
        return kind([tree(depth - 1) for _ in range(rnd.randint(1, 4))], boost=rnd.choice([1.0, 10.0]))

    for i in range(90):
        # AndMaybe (the first's documents, the second's scores added where it matches too) as plans use it, at
        # the top: inside an And, Whoosh 2.7.4's matcher drops the second's score once the And skips ahead
        q = [wq.AndNot(tree(3), tree(2)), wq.AndMaybe(tree(3), tree(3)), tree(3)][i % 3]
        assert_same(whoosh_scores(s, q), engine_scores(index, s, q))


def test_columns_match_the_stored_fields(layered):
    _, index = layered
    s = index.searcher()
    gen = index.arrays(s)
    live = np.nonzero(gen.live)[0]
    assert len(live) == 650
    for docnum in live[::7].tolist():
        stored = s.stored_fields(docnum)
        assert gen.ids[docnum] == stored[schema.ID]
        assert gen.codes[schema.SOURCE].values[gen.codes[schema.SOURCE].codes[docnum]] == stored[schema.SOURCE]
        for fieldname in (schema.CONTENT, schema.TITLE):
            assert gen.lengths[fieldname][docnum] == s.reader().doc_field_length(docnum, fieldname, 0)


def test_hits_stored_fields_are_whooshs(layered):
    """Every document of every segment (deleted ones included) as Whoosh's stored column holds it: from the
    segment's ``.sto`` file where it has one, else through Whoosh's column."""
    settings, index = layered
    s = index.searcher()
    ev = engine.Evaluator(index.arrays(s), s)
    mapped = index.arrays(s).mapped  # the "decoded" index lost its .sto files as well
    for sub, offset in s.leaf_searchers():
        reader = sub.reader()
        docs = StoredDocs.of(reader)
        assert (docs is not None) == mapped
        for d in range(reader.doc_count_all()):
            expected = reader.stored_fields(d)
            assert expected[schema.ID].startswith("d")
            if docs is not None:
                found = docs[d]
                assert found == expected
                assert {k: type(v) for k, v in found.items()} == {k: type(v) for k, v in expected.items()}
            assert ev.stored_fields(offset + d) == expected
    assert any(sub.reader().has_deletions() for sub, _ in s.leaf_searchers())
    assert isinstance(ev.stored_fields(0)[schema.PUBLISHED], datetime)


def test_a_deleted_record_is_gone_from_arrays_and_results(layered):
    _, index = layered
    assert search(index, SearchRequest(q="", per_page=1)).total == 650
    s = index.searcher()
    gen = index.arrays(s)
    assert "d0200" not in {gen.ids[d] for d in np.nonzero(gen.live)[0].tolist()}
    hits = search(index, SearchRequest(q="w1 OR w2", per_page=1000, collapse=False)).hits
    assert len(hits) > 100 and all(h.id < "d0150" or h.id >= "d0300" for h in hits)


@pytest.mark.parametrize("q", ["w9 w10 -w11 OR w12", "w3 -w4", "council -w1 -w2"])
def test_excluded_words_never_come_back(layered, q):
    _, index = layered
    s = index.searcher()
    excluded = {c.text for c in parse(q).excluded}
    hits = search(index, SearchRequest(q=q, per_page=1000, collapse=False)).hits
    assert hits
    for hit in hits:
        stored = s.document(id=hit.id)
        assert not excluded & set(f"{stored['title']} {stored['body']}".split())


def assert_same_answers(one: SearchIndex, other: SearchIndex) -> None:
    for q in QUERIES:
        assert search(one, SearchRequest(q=q)).to_dict() | {"took_ms": 0} == \
            search(other, SearchRequest(q=q)).to_dict() | {"took_ms": 0}, q


def test_warming_loads_the_frequent_words_and_changes_no_answer(layered):
    settings, _ = layered
    cold = SearchIndex(settings.replace(warm_postings=0, cache_entries=0))
    warm = SearchIndex(settings.replace(warm_postings=1_000_000, cache_entries=0))
    try:
        s = warm.searcher()
        gen = warm.arrays(s)
        assert gen.warm(s, 1_000_000, threading.Event()) > 1000
        assert ("content", "w1") in gen._postings
        if gen.mapped:  # every word fits: scored ahead, down to the rarest
            assert len(gen._postings) == sum(1 for f in gen.lengths for _ in s.reader().lexicon(f))
        assert_same_answers(warm, cold)
    finally:
        cold.close()
        warm.close()


def test_mapped_words_are_scored_ahead_only_when_all_of_them_fit(layered, monkeypatch):
    """Where the mapped postings do not all fit the room kept for them, none is scored ahead (no pass over a
    large index's vocabulary); decoded segments are warmed by frequency whatever that room."""
    settings, index = layered
    s = index.searcher()
    postings = sum(len(a.docs) for a in (index.segments.arrays(k, sub.reader())
                                         for (sub, _), k in zip(s.leaf_searchers(), index.arrays(s).keys))
                   if a is not None)
    monkeypatch.setattr(engine, "MAPPED_POSTINGS_BUDGET", max(postings - 1, 0) * 4 // 3)  # room: one short
    tight = SearchIndex(settings.replace(cache_entries=0))
    cold = SearchIndex(settings.replace(warm_postings=0, cache_entries=0))
    try:
        s = tight.searcher()
        gen = tight.arrays(s, background_warming=False)
        loaded = gen.warm(s, 1_000_000, threading.Event())
        assert (loaded == 0 and not gen._postings) if gen.mapped else loaded > 1000
        assert_same_answers(tight, cold)
    finally:
        tight.close()
        cold.close()


@pytest.mark.parametrize("warmed", [True, False])
def test_document_frequency_is_whooshs_for_every_term(layered, sample_index, warmed):
    """From the held scored lists where no article is deleted (the sample), from Whoosh's term table elsewhere
    (the layered index has deletions): the same numbers."""
    for index in (sample_index, layered[1]):
        s = index.searcher()
        gen = engine.Generation(s, engine.SegmentCache())
        if warmed:
            gen.warm(s, 10_000_000, threading.Event())
        reader = s.reader()
        for fieldname in (schema.CONTENT, schema.TITLE):
            for tbytes, info in reader.iter_field(fieldname):
                text = tbytes.decode("utf-8")
                assert gen.doc_frequency(s, fieldname, text) == reader.doc_frequency(fieldname, text), text


def test_every_segment_has_its_arrays_file_and_none_outlives_its_segment(tmp_path):
    settings = make_settings(tmp_path / "ix")
    for i in range(12):  # a new file per commit, and the first one rewritten: small segments merge
        dump(tmp_path / f"src/{i}.jsonl", records(100 * i, 40, i))
        dump(tmp_path / "src/0.jsonl", records(0, 40 - i, 50 + i))
        reindex(settings, [tmp_path / "src"])
    ix = IndexHome(settings.index).open_index()
    folder = Path(ix.storage.folder)
    assert len(ix._segments()) < 12  # some merged away
    assert {p.stem for p in folder.glob("*.arr")} == {segment.segment_id() for segment in ix._segments()}
    assert {p.stem for p in folder.glob("*.sto")} == {segment.segment_id() for segment in ix._segments()}
    with ix.searcher() as s:
        for sub, _ in s.leaf_searchers():  # merged segments' documents (deletions dropped) as Whoosh holds them
            reader = sub.reader()
            docs = StoredDocs.of(reader)
            assert [docs[d] for d in range(reader.doc_count_all())] == \
                [reader.stored_fields(d) for d in range(reader.doc_count_all())]
    ix.close()


@pytest.mark.parametrize("damage", ["cut short", "empty", "not arrays"])
def test_a_damaged_postings_arrays_file_is_read_past(tmp_path, damage):
    """Whoosh's files hold every posting: a segment whose arrays file is damaged answers from them."""
    settings = make_settings(tmp_path / "ix", cache_entries=0)
    dump(tmp_path / "src/a.jsonl", records(0, 200, 1))
    reindex(settings, [tmp_path / "src"])
    index = SearchIndex(settings)
    expected = [search(index, SearchRequest(q=q)).to_dict() | {"took_ms": 0} for q in QUERIES]
    index.close()
    [arrays] = list((tmp_path / "ix").rglob("*.arr"))
    data = arrays.read_bytes()
    arrays.write_bytes({"cut short": data[:len(data) // 2], "empty": b"", "not arrays": b"x" * len(data)}[damage])
    index = SearchIndex(settings)
    try:
        assert not index.arrays(index.searcher()).mapped
        assert [search(index, SearchRequest(q=q)).to_dict() | {"took_ms": 0} for q in QUERIES] == expected
    finally:
        index.close()


@pytest.mark.parametrize("damage", ["removed", "cut short", "empty", "not stored documents", "another segment's"])
def test_a_missing_or_damaged_stored_documents_file_is_read_past(tmp_path, damage):
    """Whoosh's stored column holds every document: a segment whose ``.sto`` file is missing or damaged
    answers from it, the same answers."""
    settings = make_settings(tmp_path / "ix", cache_entries=0)
    dump(tmp_path / "src/a.jsonl", records(0, 200, 1))
    reindex(settings, [tmp_path / "src"])
    dump(tmp_path / "src/b.jsonl", records(200, 50, 2))
    reindex(settings, [tmp_path / "src"])
    index = SearchIndex(settings)
    expected = [search(index, SearchRequest(q=q)).to_dict() | {"took_ms": 0} for q in QUERIES]
    index.close()
    ix = IndexHome(settings.index).open_index()
    first, second = [Path(ix.storage.folder) / s.make_filename(".sto") for s in ix._segments()]
    ix.close()
    data = first.read_bytes()
    if damage == "removed":
        first.unlink()
    else:
        first.write_bytes({"cut short": data[:len(data) // 2], "empty": b"", "not stored documents": b"x" * len(data),
                           "another segment's": second.read_bytes()}[damage])
    index = SearchIndex(settings)
    try:
        s = index.searcher()
        readers = [sub.reader() for sub, _ in s.leaf_searchers()]
        assert [StoredDocs.of(r) is None for r in readers] == [True, False]
        assert [search(index, SearchRequest(q=q)).to_dict() | {"took_ms": 0} for q in QUERIES] == expected
    finally:
        index.close()


def test_arrays_follow_the_commit_a_searcher_reads(layered, tmp_path):
    settings, _ = layered
    root = tmp_path
    s2 = make_settings(root / "index")
    dump(root / "src/a.jsonl", records(0, 50, 9))
    reindex(s2, [root / "src"])
    index = SearchIndex(s2)
    try:
        before = index.arrays(index.searcher())
        dump(root / "src/a.jsonl", records(0, 40, 9))
        reindex(s2, [root / "src"])
        after = index.arrays(index.searcher())
        assert after is not before and int(after.live.sum()) == 40 and int(before.live.sum()) == 50
        assert search(index, SearchRequest(q="", per_page=1)).total == 40
    finally:
        index.close()


ENGLISH = ("harbor harbour harbors strike strikes striking stroke council councils counsel flood floods ferry ferries "
           "grain grains tariff tariffs rail rails bridge bridges election drought port ports portal union unions "
           "wages river rivers storm market markets vote votes voter school schools budget budgets minister "
           "ministers senate tramway train trains trade trader traders price prices oil bank banks rate rates "
           "fiscal quarter quarterly dividend payout shares stock stocks").split()


@pytest.fixture(scope="module")
def spelled(tmp_path_factory):
    """Two segments of English words, some far more frequent than others (the suggestion's ranking)."""
    root = tmp_path_factory.mktemp("spelled")
    settings = make_settings(root / "index")
    rnd = random.Random(3)
    for name, n in (("a", 120), ("b", 80)):
        dump(root / f"src/{name}.jsonl", [{"id": f"{name}{i}", "title": rnd.choice(ENGLISH),
                                           "text": " ".join(rnd.choices(ENGLISH, weights=range(1, len(ENGLISH) + 1), k=30))}
                                          for i in range(n)])
        reindex(settings, [root / "src"])
    cold, warm = SearchIndex(settings), SearchIndex(settings)
    s = warm.searcher()
    warm.arrays(s).warm(s, 1_000_000, threading.Event())  # every spelling word read at once
    yield cold, warm
    cold.close()
    warm.close()


@st.composite
def typos(draw) -> str:
    """An English word with up to two edits: deletions, insertions, substitutions, adjacent swaps."""
    word = list(draw(st.sampled_from(ENGLISH)))
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(word) - 1))
        edit = draw(st.sampled_from(["delete", "insert", "substitute", "swap"]))
        letter = draw(st.sampled_from("aeiorstnhx"))
        if edit == "delete" and len(word) > 1:
            del word[i]
        elif edit == "insert":
            word.insert(i, letter)
        elif edit == "substitute":
            word[i] = letter
        elif edit == "swap" and i + 1 < len(word):
            word[i], word[i + 1] = word[i + 1], word[i]
    return "".join(word)


@hypothesis_settings(max_examples=300, deadline=None)
@given(typos() | st.text(alphabet="abfhmoprstw", min_size=1, max_size=8))
def test_did_you_mean_answers_the_nearest_of_whooshs_candidates(spelled, word):
    """Whoosh's corrector lists the candidates; the fewest edits win, then Whoosh's own order (its score,
    the greater word)."""
    for index in spelled:  # words read a letter at a time, or all at once by warm()
        s = index.searcher()
        assert len(s.leaf_searchers()) == 2  # Whoosh's multi-segment corrector: damerau_levenshtein over the terms
        candidates = s.corrector(schema.CONTENT).suggest(word, limit=10**6, maxdist=2, prefix=1)
        frequency = s.reader().frequency
        expected = max(candidates, default=None,
                       key=lambda w: (-damerau_levenshtein(word, w), frequency(schema.CONTENT, w) or 1, w))
        assert index.arrays(s).suggestion(s, word) == expected


def test_did_you_mean_prefers_one_edit_to_a_more_frequent_word_two_edits_away(tmp_path):
    settings = make_settings(tmp_path / "index")
    write(tmp_path / "src/a.html", page("Harbour works", "The harbour harbour harbour wall was rebuilt."))
    write(tmp_path / "src/b.html", page("Harbor dredging", "Dredging of the harbor begins."))
    reindex(settings, [tmp_path / "src"])
    index = SearchIndex(settings)
    try:
        s = index.searcher()
        whoosh_first = s.corrector(schema.CONTENT).suggest("harbr", limit=1, maxdist=2, prefix=1)
        assert whoosh_first == ["harbour"]  # Whoosh's own choice: the more frequent, two edits away
        assert index.arrays(s).suggestion(s, "harbr") == "harbor"
        assert search(index, SearchRequest(q="harbr")).suggestion == "harbor"
    finally:
        index.close()


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """80 stories, each in 1 to 15 identical copies: a page of ten groups needs many more hits than ten."""
    root = tmp_path_factory.mktemp("copies")
    settings = make_settings(root / "index", cache_entries=0)
    rnd = random.Random(11)
    recs = []
    for story in range(80):
        text = " ".join(rnd.choices(VOCAB, k=40))
        recs += [{"id": f"s{story:02d}-{c:02d}", "title": f"Story {story}", "text": text}
                 for c in range(rnd.choice([1, 1, 2, 15]))]
    dump(root / "src/copies.jsonl", recs)
    reindex(settings, [root / "src"])
    index = SearchIndex(settings)
    yield index
    index.close()


@pytest.mark.parametrize("q", ["w1", "w2 w3", "w4 OR w50", "harbour", "w1 w2 w3 w4 w5 w6"])
def test_a_page_of_groups_and_their_count_are_those_of_the_full_ordering(copies, q):
    s = copies.searcher()
    ev = engine.Evaluator(copies.arrays(s), s)
    found = ev.matches(make_plan(ev, parse(q), copies.settings).query)
    complete = paging.Ordering(ev.gen, found, "relevance", collapse=True, half_life_days=1.0)
    page = paging.Ordering(ev.gen, found, "relevance", collapse=True, enough=10, half_life_days=1.0)
    assert ev.gen.group_size > 3 and len(found) > 3 * len(complete)  # copies: many hits per group
    assert page.page_after(None, 0, 10)[0] == complete.page_after(None, 0, 10)[0]
    assert ev.gen.distinct_groups(found.docnums) == len(complete) == len(set(ev.gen.group[found.docnums].tolist()))
    for few in (found.docnums[:2], found.docnums[-3:]):  # few matches: the other way of counting
        assert ev.gen.distinct_groups(few) == len(set(ev.gen.group[few].tolist()))


# --- phrases: the same matches as Whoosh, with bounded work ----------------------------------

PHRASE_WORDS = VOCAB[:5] + ["harbour", "quagga"]


@pytest.mark.parametrize("kept", ["read per query", "kept per commit"])
@given(words=st.lists(st.sampled_from(PHRASE_WORDS), min_size=2, max_size=7))
@hypothesis_settings(max_examples=60, deadline=None, database=None)
def test_any_phrase_matches_as_whoosh_and_scores_as_its_words(layered, kept, words):
    """Repeated words, rarest first, positions read once per word: still exactly Whoosh's phrase matches."""
    _, index = layered
    s = index.searcher()
    phrase = wq.Phrase(schema.CONTENT, words)
    with pytest.MonkeyPatch.context() as mp:  # a small index: every word counts as frequent, or none does
        mp.setattr(engine, "ALL_POSITIONS_FROM", 1 if kept == "kept per commit" else 10**9)
        got = engine_scores(index, s, phrase)
    assert_same(whoosh_scores(s, phrase), got, scores=False)
    summed = engine_scores(index, s, wq.And([ranking.RankedTerm(schema.CONTENT, w) for w in words]))
    for docnum, score in got.items():
        assert score == pytest.approx(summed[docnum])


def phrase_work(index, s, words, budget=10**9) -> tuple[int, set[int]]:
    """(documents whose positions the phrase read, the documents it matched)."""
    ev = engine.Evaluator(index.arrays(s), s, phrase_documents=budget)
    found = ev.matches(wq.Phrase(schema.CONTENT, words))
    return budget - ev.phrase_documents, set(found.docnums.tolist())


def test_a_repeated_word_is_read_once_however_long_the_phrase(layered):
    _, index = layered
    s = index.searcher()
    candidates = len(engine.Evaluator(index.arrays(s), s).matches(ranking.RankedTerm(schema.CONTENT, "w1")))
    for n in (2, 3, 50, 399):
        spent, _ = phrase_work(index, s, ["w1"] * n)
        assert spent == candidates, n  # one word, one read: not n reads


def test_the_rarest_word_is_read_first_and_later_words_only_where_a_phrase_can_start(layered):
    _, index = layered
    s = index.searcher()
    both = engine.Evaluator(index.arrays(s), s).matches(
        wq.And([ranking.RankedTerm(schema.CONTENT, w) for w in ("w1", "quagga")]))
    spent, matched = phrase_work(index, s, ["w1", "quagga", "quagga"])
    assert spent <= 2 * len(both)  # each word checked at most in the articles holding both
    spent, _ = phrase_work(index, s, ["quagga", "quagga", "w1", "w2", "w3", "w4"])
    assert spent <= len(both) + len(matched) * 5


def test_past_the_budget_a_phrase_is_decided_by_the_words_checked(layered):
    _, index = layered
    s = index.searcher()
    words = ["w1", "w2"]
    exact = phrase_work(index, s, words)[1]
    anywhere = set(engine_scores(index, s, wq.And([ranking.RankedTerm(schema.CONTENT, w) for w in words])))
    spent, none_checked = phrase_work(index, s, words, budget=0)
    assert spent == 0 and none_checked == anywhere > exact  # no positions read: its words anywhere
    assert phrase_work(index, s, words, budget=0) == (0, none_checked)  # the same answer every time


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-3, 40), max_size=60), st.lists(st.integers(-3, 40), max_size=20))
def test_distinct_counts_and_members_are_numpys(values, members):
    """The sort-based helpers answer as ``np.unique`` and ``np.isin`` (which cost ten times as much at a query's sizes)."""
    values = np.array(values, np.int64)
    members = np.unique(np.array(members, np.int64))
    assert engine.distinct_count(values) == np.unique(values).size
    assert np.array_equal(engine.distinct_sorted(np.sort(values)), np.unique(values))
    assert np.array_equal(engine.sorted_members(values, members), np.isin(values, members))


def test_a_document_damaged_in_its_stored_documents_file_is_read_from_whooshs_column(tmp_path):
    """A document whose bytes in the ``.sto`` file changed (the file otherwise whole) fails its checksum:
    that document's fields come from Whoosh's column, the others from the file."""
    settings = make_settings(tmp_path / "ix", cache_entries=0)
    dump(tmp_path / "src/a.jsonl", records(0, 50, 1))
    reindex(settings, [tmp_path / "src"])
    ix = IndexHome(settings.index).open_index()
    (segment,) = ix._segments()
    path = Path(ix.storage.folder) / segment.make_filename(".sto")
    with ix.searcher() as s:
        title = s.stored_fields(0)["title"].encode()
    ix.close()
    data = path.read_bytes()
    at = data.index(title)
    path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])  # one letter of its title changed
    index = SearchIndex(settings)
    try:
        s = index.searcher()
        ev = engine.Evaluator(index.arrays(s), s)
        assert [ev.stored_fields(d) for d in range(50)] == [s.stored_fields(d) for d in range(50)]
        assert StoredDocs.of(s.reader()) is not None
    finally:
        index.close()
