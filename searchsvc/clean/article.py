"""The HTML pipeline: parse, read metadata, drop junk, score, prune, render."""
from __future__ import annotations

import logging
import re

from .decoding import decode_html
from .junk import drop_junk
from .metadata import json_ld_article, json_ld_objects, page_metadata
from .parsing import parse_tree, repair_tree
from .pruning import prune
from .record import CleanedArticle
from .rendering import drop_title_repeat, render, trim_trailing_boilerplate
from .scoring import article_parts, best_container, element_stats, gather_chunks, lead_before, text_runs
from .tree import norm, text_of

_log = logging.getLogger("searchsvc.clean")


def extract_article(html: str | bytes, url: str | None = None) -> CleanedArticle:
    """Article text and metadata from an HTML page; never raises on bad markup.

    A page that still breaks the pipeline (a bug, not bad input) is logged and
    indexed as empty rather than stopping a reindex of thousands of pages.
    """
    try:
        return _extract_article(html, url)
    except Exception:  # noqa: BLE001 - the contract is "never raises"
        _log.exception("article extraction failed (url=%s)", url)
        return CleanedArticle(url=url)


_PARAGRAPH_MARKUP = re.compile(r"<p[\s>]", re.I)


def _extract_article(html: str | bytes, url: str | None) -> CleanedArticle:
    text = decode_html(html) if isinstance(html, (bytes, bytearray, memoryview)) else (html or "")
    root = parse_tree(text)
    if root is None:
        return CleanedArticle(url=url)
    found = _article_from_tree(root, url)
    if found.text or not _PARAGRAPH_MARKUP.search(text):
        return found
    return _read_again(text, url) or found


def _read_again(text: str, url: str | None) -> CleanedArticle | None:
    """A page with paragraphs but no text found, read otherwise; None if that finds none either.

    An unclosed <nav>, <aside> or <header> may have swallowed the rest of the page and
    gone as junk: read it keeping those.  Where libxml2 lost paragraphs the markup has,
    the forgiving parser (slow, so not first) reads it.
    """
    root = parse_tree(text)
    paragraphs_read = sum(1 for _ in root.iter("p"))
    again = _article_from_tree(root, url, keep_page_parts=True)
    if again.text:
        return again
    if len(_PARAGRAPH_MARKUP.findall(text)) > paragraphs_read + 2:
        repaired = _article_from_tree(repair_tree(text), url)
        if repaired.text:
            return repaired
    return None


def _article_from_tree(root, url: str | None, keep_page_parts: bool = False) -> CleanedArticle:
    objects = json_ld_objects(root)
    article = json_ld_article(objects)
    meta = page_metadata(root, url, objects, article)
    declared = article.get("articleBody")
    meta.text = _article_body(root, meta.title, declared if isinstance(declared, str) else "", keep_page_parts)
    return meta


def _article_body(root, title: str, declared: str = "", keep_page_parts: bool = False) -> str:
    """Body text: score containers, prune boilerplate inside the best one, render paragraphs."""
    body = root.find("body")
    if body is None:
        body = root
    drop_junk(body, keep_page_parts)
    found = _body_from_tree(body, title)
    return _prefer_declared_body(found, declared, body)


def _body_from_tree(body, title: str) -> str:
    runs = text_runs(body)
    stats = element_stats(body, runs)
    best = best_container(body, stats, runs)
    if best is None:
        return ""
    parts = article_parts(gather_chunks(best, stats), stats)
    paragraphs = lead_before(parts[0], runs, title)
    for part in parts:
        prune(part, stats, title)
        paragraphs.extend(render(part))
    paragraphs = drop_title_repeat(paragraphs, title)
    paragraphs = trim_trailing_boilerplate(paragraphs)
    return "\n\n".join(paragraphs)


_WORD = re.compile(r"\w+")


def _prefer_declared_body(found: str, declared: str, body) -> str:
    """The JSON-LD articleBody, but only where the tree walk clearly failed.

    Sites fill articleBody with the full text, a summary or a truncated copy,
    so it is trusted only when it is long, is made of text that is on the
    page, and the walk found little of it.
    """
    declared_words = _WORD.findall(declared.lower())
    if len(declared_words) < 80 or len(declared) < 1.5 * len(found):
        return found
    wanted = set(declared_words)
    on_page = wanted & set(_WORD.findall(text_of(body).lower()))
    if len(on_page) < 0.8 * len(wanted):
        return found  # not this page's text
    if len(wanted & set(_WORD.findall(found.lower()))) >= 0.5 * len(wanted):
        return found
    paragraphs = [norm(part) for part in re.split(r"\n\s*\n|\n", declared)]
    return "\n\n".join(part for part in paragraphs if part)
