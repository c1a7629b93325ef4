"""Which element holds the article: text runs vote for their containers.

Readability-style paragraph voting weighed by link density and class/id
vocabulary, then the containers and siblings that continue the story.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .dates import is_dateline
from .tree import BLOCK_TAGS, PARAGRAPH_TAGS, ancestors, class_and_id, norm, same_text, text_of
from .vocabulary import (BOILERPLATE_CLASS, CONTENT_CLASS, MAX_BOILERPLATE_TEXT, STRONG_CONTENT,
                         is_boilerplate_text, names_boilerplate, names_lead, names_off_topic_area,
                         names_picture)


@dataclass
class _Stats:
    text: int = 0        # characters of text under the element
    links: int = 0       # characters of that text inside <a>
    score: float = 0.0


@dataclass
class _Run:
    """A stretch of text between two block boundaries: what a reader sees as a paragraph."""
    owner: object
    chars: int
    links: int
    commas: int
    sentence: bool = False  # short, but one whole sentence inside an <article> or <main>
    text: str = ""


def text_runs(root) -> list[_Run]:
    """Paragraph-like text runs, each with the block element that holds it."""
    runs: list[_Run] = []
    blocks = [root]
    pieces: list[str] = []
    link_chars = 0
    in_link = 0

    def flush():
        nonlocal link_chars
        text = norm("".join(pieces))
        if text:
            runs.append(_Run(blocks[-1], len(text), min(link_chars, len(text)),
                             text.count(",") + text.count("\uff0c") + text.count("\u060c"),
                             not link_chars and _is_short_sentence(text) and _in_article_element(blocks[-1]),
                             text))
        pieces.clear()
        link_chars = 0

    def add(text):
        nonlocal link_chars
        if text:
            pieces.append(text)
            if in_link:
                link_chars += len(norm(text))

    stack = [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag  # lxml makes a new string at each read: read once
        if not isinstance(tag, str):
            tag = ""
        if closing:
            if tag == "a":
                in_link -= 1
            if el is blocks[-1] or tag in BLOCK_TAGS:
                flush()
                if el is blocks[-1] and len(blocks) > 1:
                    blocks.pop()
            if el is not root:
                add(el.tail)
            continue
        if tag in BLOCK_TAGS or (tag and _holds_br_paragraphs(el)):
            flush()
            if tag != "br" and tag != "hr":
                blocks.append(el)
        if tag == "a":
            in_link += 1
        add(el.text)
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))
    flush()
    return runs


_SHORT_SENTENCE = re.compile(r"^[\"'“‘(]?[A-Z0-9][^.!?]*\w[.!?][\"'”’)]?$")
MIN_RUN_CHARS = 25  # shorter runs vote only when they are a whole sentence


def _is_short_sentence(text: str) -> bool:
    """'Feeding gulls is banned.': a capitalised sentence of three words or more, no link."""
    return len(text) < MIN_RUN_CHARS and len(text.split()) >= 3 and bool(_SHORT_SENTENCE.match(text))


def _in_article_element(el) -> bool:
    """el is, or is inside, an <article>, <main> or itemprop=articleBody element."""
    node = el
    while node is not None:
        if node.tag in ("article", "main") or (node.get("itemprop") or "").lower() == "articlebody":
            return True
        node = node.getparent()
    return False


def _holds_br_paragraphs(el) -> bool:
    """An inline wrapper (old <font>, <span>) whose text is paragraphs split by <br><br>.

    It holds its runs like a block does, so they vote for it and not for
    the table cell or div around it (which also holds sidebars and letters).
    """
    for child in el:
        if child.tag == "br" and not (child.tail or "").strip():
            following = child.getnext()
            if following is not None and following.tag == "br":
                return True
    return False


def element_stats(root, runs: list[_Run]) -> dict:
    """Text and link-text sizes for every element, summed bottom-up in one pass."""
    stats = {el: _Stats() for el in root.iter()}
    for run in runs:
        st = stats[run.owner]
        st.text += run.chars
        st.links += run.links
    for el in reversed(list(root.iter())):
        parent = el.getparent()
        if parent is not None and parent in stats:
            st, pst = stats[el], stats[parent]
            pst.text += st.text
            pst.links += st.links
    return stats


def _class_weight(el) -> float:
    return _weight_of(class_and_id(el), (el.get("itemprop") or "").lower() == "articlebody")


@lru_cache(maxsize=16384)
def _weight_of(marks: str, article_body: bool) -> float:
    weight = 0.0
    if article_body or STRONG_CONTENT.search(marks):
        weight += 50
    elif CONTENT_CLASS.search(marks):
        weight += 15
    if BOILERPLATE_CLASS.search(marks):
        weight -= 30
    return weight


def _off_topic_areas(root) -> set:
    """Elements inside a comments/footer/sidebar/related area (by class or id)."""
    flagged = set()
    for el in root.iter():
        parent = el.getparent()
        if parent is not None and parent in flagged:
            flagged.add(el)
        elif el.tag not in ("body", "html") and names_off_topic_area(class_and_id(el)):
            flagged.add(el)
    return flagged


def _starts_with_link(el) -> bool:
    """True when the first text inside el is a link of headline length."""
    for node in el.iter():
        if node is not el and node.tail and node.tail.strip():
            return False  # text after an element came first
        if node.text and node.text.strip():
            link = node if node.tag == "a" else next((a for a in node.iterancestors("a")), None)
            return link is not None and len(text_of(link)) >= 15
    return False


def _is_teaser_list(el) -> bool:
    """A list of story teasers: most children open with a headline link."""
    children = [child for child in el if isinstance(child.tag, str)]
    if len(children) < 3:
        return False
    leading = sum(1 for child in children if _starts_with_link(child))
    return leading >= 0.6 * len(children)


def _is_paragraph_like(el) -> bool:
    """A <p>-ish block: its votes go to the element that holds it."""
    if el.tag in PARAGRAPH_TAGS:
        return True
    return not any(tag in BLOCK_TAGS for tag in (child.tag for child in el) if isinstance(tag, str))


def best_container(root, stats: dict, runs: list[_Run]):
    """The element that holds the article prose (readability-style paragraph voting).

    Runs inside teaser lists do not vote; comment/footer/sidebar areas score low.
    """
    off_topic = _off_topic_areas(root)
    teaser_cache: dict = {}

    def in_teaser_list(el) -> bool:
        for node in (el, el.getparent()):
            if node is None:
                return False
            if node not in teaser_cache:
                teaser_cache[node] = _is_teaser_list(node)
            if teaser_cache[node]:
                return True
        return False

    scores: dict = {}
    for run in runs:
        plain = run.chars - run.links
        if (plain < MIN_RUN_CHARS and not run.sentence) or run.links > run.chars / 2 or in_teaser_list(run.owner):
            continue
        value = 1 + run.commas + min(plain / 100, 3)
        node = run.owner.getparent() if _is_paragraph_like(run.owner) else run.owner
        level = 0
        off_topic_run = run.owner in off_topic
        while node is not None and node in stats and level < 3:
            if off_topic_run and node not in off_topic:
                break  # comments and sidebars do not vote for the page around them
            scores[node] = scores.get(node, 0.0) + value / (1, 2, 3)[level]
            node = node.getparent()
            level += 1
    best, best_score = None, 0.0
    for el, score in scores.items():
        st = stats[el]
        density = st.links / st.text if st.text else 1.0
        total = (score + _class_weight(el) / 5) * (1 - density)
        if el in off_topic:
            total *= 0.2
        st.score = total
        if total > best_score:
            best, best_score = el, total
    return best


def gather_chunks(best, stats: dict, max_levels: int = 5):
    """Climb from best to the ancestor that also holds the article's other prose chunks.

    Long articles are often split into several containers (between ads or
    photos) that are cousins, not siblings; each is a strong candidate.
    """
    best_score = stats[best].score
    lineage = ancestors(best)[:max_levels]
    reach = {el: i for i, el in enumerate(lineage)}
    top = -1
    for el, st in stats.items():
        if st.score < 0.3 * best_score or el is best or el in reach:
            continue
        for ancestor in ancestors(el):
            if ancestor is best:
                break
            level = reach.get(ancestor)
            if level is not None:
                if ancestor.tag not in ("body", "html") and level > top:
                    anc_st = stats[ancestor]
                    if anc_st.links < 0.3 * max(anc_st.text, 1):
                        top = level
                break
    return lineage[top] if top >= 0 else best


def article_parts(best, stats: dict) -> list:
    """best plus the siblings that continue the article (readability's sibling rule)."""
    parent = best.getparent()
    if parent is None:
        return [best]
    best_score = stats[best].score
    threshold = max(3.0, best_score * 0.2)
    best_class = (best.get("class") or "").strip()
    parts = []
    for sibling in parent:
        if sibling is best:
            parts.append(sibling)
            continue
        if not isinstance(sibling.tag, str) or sibling not in stats:
            continue
        st = stats[sibling]
        if not st.text or names_off_topic_area(class_and_id(sibling)):
            continue
        density = st.links / st.text
        bonus = best_score * 0.2 if best_class and sibling.get("class") == best.get("class") else 0
        if st.score + bonus >= threshold and density < 0.5:
            parts.append(sibling)
        elif best not in parts and density < 0.2 and names_lead(class_and_id(sibling)):
            parts.append(sibling)  # the lead, set before the story in a block of its own
        elif _is_paragraph_like(sibling) and sibling.tag not in ("h1", "h2", "h3", "h4", "h5", "h6") \
                and not names_picture(class_and_id(sibling)):
            text = text_of(sibling)
            if (len(text) > 80 and density < 0.25) or (density == 0 and _ENDS_SENTENCE.search(text)):
                parts.append(sibling)
    return parts


_ENDS_SENTENCE = re.compile(r"[.!?]['\"”]?$")
MAX_LEAD_RUNS = 4  # a lead is a paragraph or a short list, not a page
MAX_RUNS_TO_HEADLINE = 40  # how far before the story the headline is looked for


def lead_before(first_part, runs: list[_Run], title: str) -> list[str]:
    """The lead (standfirst) between the headline and the article's first part.

    Pages often keep it in the article's header, outside the element that
    holds the rest of the story.  Taken only when the headline (an <h1>, or a
    block repeating the title) comes shortly before the story: prose runs
    between the two, few links, no boilerplate or comment area around them.
    """
    first_run = {}
    for i, run in enumerate(runs):
        first_run.setdefault(run.owner, i)
    start = min((first_run[el] for el in first_part.iter() if el in first_run), default=None)
    if not start:
        return []
    window = range(start - 1, max(start - MAX_RUNS_TO_HEADLINE, 0) - 1, -1)
    headline = next((i for i in window if runs[i].owner.tag == "h1"), None)
    if headline is None:  # no <h1>: a block repeating the title (a teaser of the same story comes later)
        headline = next((i for i in window if title and same_text(runs[i].text, title)), None)
    if headline is None:
        return []
    around_story = set(ancestors(first_part))
    lead = [run.text for run in runs[headline + 1:start] if _is_lead_run(run, around_story)]
    return lead if len(lead) <= MAX_LEAD_RUNS else []


_STAMP = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}:\d{2}\b")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]?$")
_HEADER_WORD = re.compile(r"header", re.I)


def _is_lead_run(run: _Run, around_story: set) -> bool:
    """Prose of a lead: sentences, few links, no date stamp or byline, not about a picture."""
    words = len(run.text.split())
    if run.links > 0.2 * run.chars or words < 6 or run.owner.tag == "h1":
        return False
    if run.owner.tag == "h2" and not names_lead(class_and_id(run.owner)):
        return False  # a subheading, unless it says it is the lead
    if not _SENTENCE_END.search(run.text) and words < 15:
        return False  # a heading or a label, not a sentence
    if (words < 15 and _STAMP.search(run.text)) or is_dateline(run.text):
        return False
    if is_boilerplate_text(run.text) and run.chars < MAX_BOILERPLATE_TEXT:
        return False
    node, level = run.owner, 0
    while node is not None and node not in around_story:  # up to the block shared with the story
        marks = _HEADER_WORD.sub(" ", class_and_id(node))  # the article's header is where a lead lives
        if names_boilerplate(marks) or names_off_topic_area(marks):
            return False
        if level < 3 and names_picture(marks):
            return False
        node, level = node.getparent(), level + 1
    return True
