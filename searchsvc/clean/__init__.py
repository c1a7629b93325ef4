"""Turn a news page (HTML or plain text) into a CleanedArticle.

``extract_article`` (HTML) and ``extract_plain_text`` (.txt) are the face;
each stage is the module named after it:

    decoding    page bytes to text
    parsing     text to an lxml tree (BeautifulSoup repairs what libxml2 cannot read)
    metadata    title, date, author, source, url from JSON-LD, meta tags and the page
    junk        elements that never hold prose (scripts, nav, figures, hidden blocks)
    scoring     the element that holds the article, and its continuations
    pruning     boilerplate blocks inside it
    rendering   the kept blocks as paragraphs
    plaintext   the plain-text rules (title line, trailing site boilerplate)
    dates       dates in their common forms
    vocabulary  the boilerplate vocabulary all of them read
    article     the HTML pipeline that runs them in order

No rule here names a site; the signals are general ones (JSON-LD, semantic
tags, class/id vocabulary, text and link density, position).
"""
from __future__ import annotations

from .article import extract_article
from .dates import parse_date
from .decoding import decode_html
from .plaintext import extract_plain_text
from .record import CleanedArticle

__all__ = ["CleanedArticle", "extract_article", "extract_plain_text", "parse_date", "decode_html"]
