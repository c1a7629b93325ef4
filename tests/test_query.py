"""Reading a query as the person meant it (query.py): an operator query strictly, a written question as text."""
from __future__ import annotations

import pytest

from searchsvc.query import Clause, parse, reads_as_question, relaxed


@pytest.mark.parametrize("q", [
    '"light rail" -budget',
    "flood OR storm",
    "title:flood",
    'title:"light rail" author:okafor',
    "desal* -plant",
    "flood NOT storm",
    "Flood OR Storm",
    "U.S. tariffs -china",                   # initials are not a full stop
    "alpha* " * 50,                          # fifty words, one distinct
    "harbour ferry timetable changes spring",
    'title:"city council" author:okafor budget vote -parking -delay',   # seven words: field names do not count
    '"a long passage, quoted whole, is the phrase the person asked for"',
])
def test_explicit_operator_queries_read_strictly(q):
    assert not reads_as_question(q)


@pytest.mark.parametrize("q", [
    'coverage of the port strike, in particular the union\'s "no automation without consent" pledge',
    "ANY REPORTS ON FLOOD DEFENCES, OR SANDBAGS, OR EVACUATIONS IN THE COUNTY",
    "FAST TRANSISTOR COUNTERS",
    "FLOOD OR STORM",
    'what is "light rail"?',
    "desalination plant: when will it open",
    "flood OR storm.",
    "news about the council budget and street lights in the town centre",   # eight distinct words
])
def test_written_questions_read_as_text(q):
    assert reads_as_question(q)


def test_a_question_keeps_its_phrases_as_hints_and_its_operators_as_words():
    parsed = parse('WHAT DID THE UNION SAY, OR THE "PORT OPERATOR"? title:strike -pay NOT AND')
    assert parsed.question and not parsed.groups and not parsed.excluded
    assert parsed.hints == ["PORT OPERATOR"]
    assert parsed.words == ["WHAT", "DID", "THE", "UNION", "SAY", "OR", "THE", "PORT", "OPERATOR", "title",
                            "strike", "pay", "NOT", "AND"]


@pytest.mark.parametrize("q, groups, excluded", [
    ('"light rail" -budget flood OR storm', [[Clause("phrase", "light rail")], [Clause("word", "flood"), Clause("word", "storm")]],
     [Clause("word", "budget", negated=True)]),
    ("title:bridge tram* NOT delay", [[Clause("word", "bridge", "title")], [Clause("prefix", "tram")]],
     [Clause("word", "delay", negated=True)]),
    ("port b AND c", [[Clause("word", "b")], [Clause("word", "c")]], []),
])
def test_strict_reading(q, groups, excluded):
    parsed = parse(q)
    assert not parsed.question and parsed.groups == groups and parsed.excluded == excluded
    assert parsed.words == (["port"] if q.startswith("port") else [])


def test_relaxed_keeps_the_words_and_exclusions_and_drops_what_narrows():
    parsed = relaxed(parse('"no automation without consent" title:pledge OR union -pay'))
    assert parsed.words == ["no", "automation", "without", "consent", "pledge", "union"]
    assert parsed.hints == ["no automation without consent"]
    assert not parsed.groups and parsed.excluded == [Clause("word", "pay", negated=True)]
