"""Tests for searchsvc.clean: boilerplate removal, metadata, encodings, dates, plain text.

Every page here is written inline for the case it tests.
"""
from __future__ import annotations

import os
from datetime import datetime

import pytest

from searchsvc.clean import CleanedArticle, decode_html, extract_article, extract_plain_text, parse_date
from searchsvc.clean.parsing import needs_repair

PARAS = [
    "The city council voted on Tuesday to rebuild the old harbour bridge, ending a debate that "
    "had run for more than a decade, and set aside funds for the work to start next spring.",
    "Engineers said the new span would carry trams as well as cars, and that the existing "
    "piers, which date from 1911, could be reused after they are reinforced with steel.",
    "Residents who live near the bridge, many of whom had campaigned against a tunnel, said "
    "they were relieved, although some worried about noise during the two years of building.",
]
BODY = "\n\n".join(PARAS)
TITLE = "Council votes to rebuild harbour bridge"


def article_page(inside: str = "", before: str = "", after: str = "", head: str = "",
                 title: str = TITLE) -> str:
    """A small news page: `inside` goes in the article after the first paragraph."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} | Harbour Times</title>{head}</head>
<body>
{before}
<article>
<h1>{title}</h1>
<p>{PARAS[0]}</p>
{inside}
<p>{PARAS[1]}</p>
<p>{PARAS[2]}</p>
</article>
{after}
</body></html>"""


# ---------------------------------------------------------------- boilerplate

BOILERPLATE = {
    "nav": dict(before='<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news '
                       'and analysis</a></li><li><a href="/sport">Sport</a></li></ul></nav>'),
    "menu-div": dict(before='<div class="main-menu"><a href="/">Home</a> <a href="/a">Business '
                            'and markets today</a></div>'),
    "header": dict(before='<header class="site-header"><div class="logo">Harbour Times</div>'
                          '<p>Your trusted local paper since 1901, delivered every morning.</p></header>'),
    "footer": dict(after='<footer><p>Harbour Times, 1 Quay Street. Contact the newsroom at any time, '
                         'day or night, with tips and corrections.</p></footer>'),
    "footer-div": dict(after='<div id="site-footer"><p>About us, careers, terms of use, privacy '
                             'policy and accessibility statement for all readers.</p></div>'),
    "cookie-plugin-banner": dict(before='<div id="cmplz-cookiebanner-container"><div class="cmplz-body"><p>We '
                                        'use technical and analytics cookies, which help us to understand how you use '
                                        'this site, to improve it for you, to measure our reach, and to show you '
                                        'offers; you can change your choice at any time, in the settings below, or '
                                        'by writing to us, and read more in our privacy policy, which explains it.'
                                        '</p></div></div>'),
    "cookie-banner": dict(before='<div class="cookie-consent"><p>We use cookies to improve your '
                                 'experience. By continuing to browse you agree to our policy.</p>'
                                 '<button>Accept</button></div>'),
    "share-bar": dict(inside='<div class="share-bar"><a href="#">Facebook</a> <a href="#">Twitter'
                             '</a> <span>Share this article</span></div>'),
    "ad-slot": dict(inside='<div class="ad-slot"><span>Advertisement</span></div>'),
    "advert-id": dict(inside='<div id="advert-2"><p>Sponsored: the best mattress deals of the '
                             'year, chosen by our partners, with free delivery.</p></div>'),
    "newsletter": dict(inside='<div class="newsletter-box"><h3>Sign up for our newsletter</h3>'
                              '<p>Get the best stories in your inbox every morning, free of charge, '
                              'and unsubscribe at any time.</p></div>'),
    "related-list": dict(after='<div class="related-stories"><h2>More on this</h2><ul>'
                               '<li><a href="/a">Tram network to reach the northern suburbs</a></li>'
                               '<li><a href="/b">Port authority names a new chief executive</a></li>'
                               '<li><a href="/c">Why the old ferry terminal is still empty</a></li>'
                               '</ul></div>'),
    "teaser-list-unclassed": dict(after='<ul><li><a href="/a">Tram network to reach the northern '
                                        'suburbs</a> <span>The extension, long promised, will open in '
                                        'stages, officials said on Monday...</span></li>'
                                        '<li><a href="/b">Port authority names a new chief executive'
                                        '</a> <span>She replaces the director who left in March after '
                                        'a row over budgets, pay and pensions...</span></li>'
                                        '<li><a href="/c">Why the old ferry terminal is still empty</a>'
                                        ' <span>Plans for a market, a museum and a hotel have all come '
                                        'and gone, and the building decays...</span></li></ul>'),
    "comments": dict(after='<section id="comments"><h3>3 Comments</h3><div class="comment">'
                           '<p>I have crossed that bridge every day for thirty years, and honestly, '
                           'it was about time, although I doubt the budget will hold, as usual, '
                           'with these projects, which always run late.</p></div></section>'),
    "comment-prompt": dict(inside="<p>Leave a comment</p>"),
    "subscribe-prompt": dict(inside="<p>Subscribe to read more stories like this.</p>"),
    "script-style": dict(inside='<script>var tracking = "do not index this script";</script>'
                                '<style>.story { color: red }</style><noscript>Enable JavaScript'
                                '</noscript>'),
    "hidden": dict(inside='<div style="display:none">Hidden text that nobody can read</div>'),
    "caption": dict(inside='<figure><img src="bridge.jpg"><figcaption>The bridge at dusk. '
                           'Photo: Harbour Times</figcaption></figure>'),
    "sidebar": dict(after='<aside><h3>Most read</h3><p>Five things to do in the harbour district '
                          'this weekend, from markets to music, with prices and times.</p></aside>'),
    "dateline": dict(inside="<div class='story-meta'>Published: 10:48, Tue, Nov 19, 2019</div>"),
    "caption-outside-figure": dict(inside='<div class="image-desc">The bridge at dusk, seen from the north '
                                          'quay, with the old piers in the foreground.</div>'),
    "photo-credit-line": dict(inside="<p>Foto: Harbour Times / Ann Writer</p>"),
    "rating-prompt": dict(after="<p>Wie bewerten Sie diesen Artikel?</p>"),
    "table-of-contents": dict(inside="<p>Inhaltsverzeichnis</p>"),
    "author-box": dict(after="<h3>About the author</h3>"),
    "listen-prompt": dict(inside="<h4>Escucha esta nota aquí</h4>"),
    "ad-label-german": dict(inside="<center>- Anzeige -</center>"),
    "ad-disclosure": dict(inside="<p><em>*Werbung. Dieser Beitrag enthält Werbung für eine Fähre.</em></p>"),
    "photo-credits-french": dict(after="<p>Crédits photos : Harbour Times</p>"),
    "sources-heading": dict(after="<h4>Quellenangaben:</h4>"),
    "reading-time": dict(inside='<div class="meta"><p>4 Min Read</p></div>'),
    "external-content-placeholder": dict(inside="<div><p>Externer Inhalt</p></div>"),
    "related-posts-german": dict(inside='<div class="jp-relatedposts"><h3><em>Ähnliche Beiträge</em></h3></div>'),
    "advertiser-disclosure": dict(before='<section class="advertiser-disclosure-body"><p>We may be compensated when '
                                         'you click on product links, such as credit cards, from one or more of our '
                                         'advertising partners, which may affect where products appear, in what '
                                         'order, and how often; terms apply to the offers listed on this page, and '
                                         'the list of partners, products and offers changes every week.</p></section>'),
    "more-topics": dict(inside='<p><strong>Mehr Themen:</strong> <a href="/f">Fähre</a></p>'),
    "affiliate-note": dict(inside='<div class="affiliate-text"><p>We earn money when you buy through the links '
                                  'on this page; it does not change what we recommend.</p></div>'),
    "news-letter-box": dict(inside='<div class="news-letter-section"><p>We have many exciting topics for you '
                                   'every week, straight to your inbox.</p></div>'),
    "comments-german": dict(inside='<section class="kommentare"><p>Keine Kommentare</p></section>'),
    **{f"teaser-{lang}": dict(inside=f'<p><strong>{lead_in}</strong> <a href="/b">Ferry timetable changes for '
                                     f'the winter</a></p>')
       for lang, lead_in in [("en", "Read also:"), ("de", "Lesen Sie auch:"), ("fr", "À lire aussi"),
                             ("it", "Leggi anche"), ("es", "LE PUEDE INTERESAR:"), ("pt", "Leia também"),
                             ("pl", "Czytaj też:"), ("nl", "Lees ook:"), ("sv", "Läs också:")]},
}


@pytest.mark.parametrize("parts", BOILERPLATE.values(), ids=BOILERPLATE.keys())
def test_boilerplate_is_dropped_and_body_kept(parts):
    assert extract_article(article_page(**parts)).text == BODY


@pytest.mark.parametrize("last", [
    "<p>(Reporting by Ann Writer; Editing by Bo Byline)</p>",
    "<p>Follow the Harbour Times on Facebook, Twitter and Instagram.</p>",
    "<p><em>We want to hear what you think about this article. Submit a letter to the editor.</em></p>",
    "<p>Ann Writer contributed reporting from the north quay.</p>",
], ids=["wire credits", "follow prompt", "letters prompt", "contribution line"])
def test_site_lines_closing_the_story_are_dropped(last):
    page = article_page().replace("</article>", f"{last}</article>")
    assert extract_article(page).text == BODY


def test_list_closing_the_story_is_kept():
    items = ["Valid e-mail address for the documents", "Passport or identity card", "Proof of income"]
    page = article_page().replace("</article>", "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul></article>")
    assert extract_article(page).text == "\n\n".join([BODY, *items])


def test_title_repeated_at_top_of_body_is_dropped():
    page = article_page(inside="")
    result = extract_article(page)
    assert result.title == TITLE
    assert not result.text.startswith(TITLE)
    assert result.text == BODY


def test_title_repeated_as_first_paragraph_is_dropped():
    page = f"""<html><head><title>{TITLE}</title></head><body><div class="story">
    <p>{TITLE}</p><p>{PARAS[0]}</p><p>{PARAS[1]}</p><p>{PARAS[2]}</p></div></body></html>"""
    assert extract_article(page).text == BODY


def test_paragraphs_are_separated_by_one_blank_line():
    page = f"""<html><body><div class="content"><p>{PARAS[0]}</p>
    <div>{PARAS[1]}<br><br>{PARAS[2]}</div></div></body></html>"""
    assert extract_article(page).text == BODY


def test_br_paragraphs_in_an_inline_wrapper_keep_the_cell_furniture_out():
    """Old table layouts: <font> text split by <br><br>, a sidebar cell, letters below a rule."""
    page = f"""<html><body><table><tr>
    <td><font size="1"><b>ON THIS PAGE</b><br><a href="/a">Ferry timetable changes for the winter</a><br>
    <a href="/b">Bowls club opens its new pavilion</a><br><br>Quay Motors: servicing while you wait<br></font></td>
    <td><font size="5"><b>{TITLE}</b></font><br><font size="1">By Ann Writer | 6 October 2023</font>
    <font size="2">{PARAS[0]}<br><br>{PARAS[1]}<br><br>{PARAS[2]}</font>
    <p><font size="1"><a href="#">Print this story</a> | <a href="#">Email to a friend</a></font>
    <hr><font size="2"><b>Readers' letters</b><br>Have your say on this story: write to The Editor,
    Harbour Times, 1 Quay Street, Harbourside.<br><i>A fine paper. Long may it continue.</i> - Reg, Quayside<br>
    </font></td></tr></table></body></html>"""
    assert extract_article(page).text == BODY


SHORT_ARTICLES = {
    "article in main": "<nav><a href='/'>Home</a></nav><main><article><h1>Gull ban</h1>"
                       "<p>Feeding gulls is banned.</p></article></main><footer>Harbour Times</footer>",
    "bare article": "<div><a href='/'>Home</a> <a href='/news'>News</a></div><article>"
                    "<p>Feeding gulls is banned.</p></article><div class='promo'>Get the app</div>",
    "articleBody": "<div itemprop='articleBody'><p>Feeding gulls is banned.</p></div>",
}


@pytest.mark.parametrize("body", SHORT_ARTICLES.values(), ids=SHORT_ARTICLES.keys())
def test_one_short_sentence_in_an_article_is_the_body(body):
    assert extract_article(f"<html><body>{body}</body></html>").text == "Feeding gulls is banned."


@pytest.mark.parametrize("body", [
    "<nav>Home</nav>",
    "<div><a href='/'>Home</a></div><div>Sign up now.</div><div>Read our terms.</div>",
    "<article><p>Sign up</p><p>Share this</p></article>",
    "<article><p><a href='/gulls'>Feeding gulls is banned.</a></p></article>",
], ids=["nav only", "short sentences outside an article", "article of fragments", "article of a link"])
def test_navigation_and_fragments_give_no_text(body):
    assert extract_article(f"<html><body>{body}</body></html>").text == ""


def test_article_body_split_into_sibling_blocks_is_kept_whole():
    page = f"""<html><body><main>
    <div class="story-part"><p>{PARAS[0]}</p><p>{PARAS[1]}</p></div>
    <div class="ad-slot">Advertisement</div>
    <div class="story-part"><p>{PARAS[2]}</p><p>{PARAS[0]}</p></div>
    </main></body></html>"""
    assert extract_article(page).text == "\n\n".join(PARAS + [PARAS[0]])


LEAD = "Work on the new span starts in spring and will close the bridge to cars for two years."
STORY = "".join(f"<p>{p}</p>" for p in PARAS)
LEAD_PAGES = {
    "standfirst in the article's header": f"""<article><header><h1>{TITLE}</h1><p class="standfirst">{LEAD}</p>
        <div class="meta">By Ann Writer | 6 October 2023, 10:48</div></header>
        <div class="story-body">{STORY}</div></article>""",
    "intro in a page header holding the headline": f"""<header class="page-header"><h1>{TITLE}</h1>
        <div class="intro"><p>{LEAD}</p></div><p>Updated 6 October 2023, 10:48</p></header>
        <main><div class="content">{STORY}</div></main>""",
    "lead in a subheading marked as the lead": f"""<article><h1>{TITLE}</h1><h2 class="article-lead">{LEAD}</h2>
        <h2>Most read</h2><div class="story-body">{STORY}</div></article>""",
    "lead with a link in it": f"""<article><div class="top"><h1>{TITLE}</h1>
        <p>{LEAD.replace("the bridge", '<a href="/bridge">the bridge</a>')}</p></div>
        <div class="main"><div class="story-body">{STORY}</div></div></article>""",
    "teaser repeating the title after the lead": f"""<div class="top"><h1>{TITLE}</h1><p>{LEAD}</p></div>
        <div class="most-read"><h3>Most read</h3><h3>{TITLE}</h3><h3>Ferry fares rise</h3></div>
        <div class="main"><div class="story-body">{STORY}</div></div>""",
    "intro block before the story, no headline": f"""<div class="news"><div class="full-intro"><p>{LEAD}</p></div>
        <div class="body">{STORY}</div></div>""",
    "lead block beside the body": f"""<div class="article"><h1>{TITLE}</h1><div class="lead">{LEAD}</div>
        <div class="image-desc">The harbour bridge from the north quay, seen at dusk in winter.</div>
        <div class="text">{STORY}</div></div>""",
}


@pytest.mark.parametrize("page", LEAD_PAGES.values(), ids=LEAD_PAGES.keys())
def test_lead_between_headline_and_body_is_kept_without_its_date_and_caption(page):
    assert extract_article(f"<html><body>{page}</body></html>").text == f"{LEAD}\n\n{BODY}"


def test_page_wrapper_recording_the_cookie_choice_is_not_a_notice():
    page = f"""<html><body class="cookies-accepted"><div id="page" class="has-cookie-consent">
    <h1>{TITLE}</h1><div class="content">{STORY}</div></div></body></html>"""
    assert extract_article(page).text == BODY


def test_wire_dateline_opening_the_first_paragraph_is_kept():
    page = article_page().replace(f"<p>{PARAS[0]}", f'<p><span class="dateline">HARBOURSIDE – </span>{PARAS[0]}')
    assert extract_article(page).text == f"HARBOURSIDE – {BODY}"


def test_site_header_without_the_headline_is_dropped():
    page = f"""<html><body><header><p>Your trusted local paper since 1901, delivered every morning to
    the harbour and the hills around it.</p></header><h1>{TITLE}</h1><div class="content">{STORY}</div></body></html>"""
    assert extract_article(page).text == BODY


@pytest.mark.parametrize("name", ["comments", "kommentare", "commentaires", "comentarios", "commentlist"])
def test_comment_section_named_in_any_language_is_not_the_article(name):
    comments = "".join(f'<div class="entry"><p>{p} I agree, and I have said so for years, again and again.</p></div>'
                       for p in PARAS + PARAS)
    page = f"""<html><body><div class="post"><h1>{TITLE}</h1><div class="text">{STORY}</div></div>
    <section class="{name}">{comments}</section></body></html>"""
    assert extract_article(page).text == BODY


# ---------------------------------------------------------------- metadata

def ld(obj: str) -> str:
    return f'<script type="application/ld+json">{obj}</script>'


METADATA = [
    ("json-ld headline", ld('{"@type": "NewsArticle", "headline": "From JSON-LD"}'),
     "title", "From JSON-LD"),
    ("json-ld datePublished", ld('{"@type": "NewsArticle", "datePublished": "2024-03-14T09:30:00+01:00"}'),
     "published", datetime(2024, 3, 14, 8, 30)),
    ("json-ld author string", ld('{"@type": "Article", "author": "Ann Writer"}'), "author", "Ann Writer"),
    ("json-ld author object", ld('{"@type": "Article", "author": {"@type": "Person", "name": "Ann Writer"}}'),
     "author", "Ann Writer"),
    ("json-ld author list", ld('{"@type": "Article", "author": [{"name": "Ann Writer"}, {"name": "Bo Byline"}]}'),
     "author", "Ann Writer, Bo Byline"),
    ("json-ld publisher", ld('{"@type": "NewsArticle", "publisher": {"@type": "Organization", "name": "The Gazette"}}'),
     "source", "The Gazette"),
    ("json-ld @graph", ld('{"@context": "https://schema.org", "@graph": [{"@type": "WebSite", "name": "Site"},'
                          '{"@type": "BlogPosting", "headline": "Graph headline", "datePublished": "2024-03-14"}]}'),
     "title", "Graph headline"),
    ("json-ld @graph date", ld('{"@graph": [{"@type": "WebPage"}, {"@type": ["ReportageNewsArticle"],'
                               '"datePublished": "2024-03-14T10:00:00Z"}]}'),
     "published", datetime(2024, 3, 14, 10, 0)),
    ("json-ld list", ld('[{"@type": "BreadcrumbList"}, {"@type": "NewsArticle", "headline": "Listed"}]'),
     "title", "Listed"),
    ("json-ld malformed then og", ld('{"@type": "NewsArticle", "headline": ') +
     '<meta property="og:title" content="OG title">', "title", "OG title"),
    ("og:title", '<meta property="og:title" content="OG title">', "title", "OG title"),
    ("og:site_name", '<meta property="og:site_name" content="Harbour Daily">', "source", "Harbour Daily"),
    ("title suffix as source", "", "source", "Harbour Times"),
    ("article:published_time", '<meta property="article:published_time" content="2024-03-14T09:30:00Z">',
     "published", datetime(2024, 3, 14, 9, 30)),
    ("meta name=date", '<meta name="date" content="2024-03-14">', "published", datetime(2024, 3, 14)),
    ("meta pubdate", '<meta name="pubdate" content="Thu, 14 Mar 2024 09:30:00 +0000">',
     "published", datetime(2024, 3, 14, 9, 30)),
    ("meta sailthru.date", '<meta name="sailthru.date" content="2024-03-14 09:30:00">',
     "published", datetime(2024, 3, 14, 9, 30)),
    ("meta parsely-pub-date", '<meta name="parsely-pub-date" content="2024-03-14T09:30:00-04:00">',
     "published", datetime(2024, 3, 14, 13, 30)),
    ("itemprop datePublished", '<meta itemprop="datePublished" content="2024-03-14">',
     "published", datetime(2024, 3, 14)),
    ("meta author", '<meta name="author" content="Ann Writer">', "author", "Ann Writer"),
    ("article:author url ignored", '<meta property="article:author" content="https://facebook.com/x">',
     "author", None),
    ("canonical", '<link rel="canonical" href="https://example.org/story">', "url", "https://example.org/story"),
    ("og:url", '<meta property="og:url" content="https://example.org/og">', "url", "https://example.org/og"),
    ("no date anywhere", "", "published", None),
]


@pytest.mark.parametrize("head, field, expected", [m[1:] for m in METADATA], ids=[m[0] for m in METADATA])
def test_metadata_sources(head, field, expected):
    result = extract_article(article_page(head=head))
    assert getattr(result, field) == expected


def test_title_from_h1_then_title_tag_without_site_name():
    with_h1 = "<html><head><title>Page | Site</title></head><body><h1>The H1 headline</h1></body></html>"
    assert extract_article(with_h1).title == "The H1 headline"
    without_h1 = "<html><head><title>Bridge plan approved - Harbour Times</title></head><body></body></html>"
    result = extract_article(without_h1)
    assert (result.title, result.source) == ("Bridge plan approved", "Harbour Times")
    em_dash = "<html><head><title>Bridge plan approved — Harbour Times</title></head><body></body></html>"
    assert extract_article(em_dash).title == "Bridge plan approved"


def test_time_datetime_is_a_date_source():
    page = article_page(inside='<p class="when"><time datetime="2024-03-14T09:30:00Z">March 14</time></p>')
    assert extract_article(page).published == datetime(2024, 3, 14, 9, 30)


def test_url_falls_back_to_argument():
    assert extract_article(article_page(), url="https://example.org/arg").url == "https://example.org/arg"
    with_canonical = article_page(head='<link rel="canonical" href="https://example.org/c">')
    assert extract_article(with_canonical, url="https://example.org/arg").url == "https://example.org/c"


def test_json_ld_wins_over_meta_tags():
    head = (ld('{"@type": "NewsArticle", "headline": "LD", "author": {"name": "LD Author"}}')
            + '<meta property="og:title" content="OG"><meta name="author" content="Meta Author">')
    result = extract_article(article_page(head=head))
    assert (result.title, result.author) == ("LD", "LD Author")



COMMENTS_WITH_AUTHORS = (
    '<div id="comments"><ol class="commentlist"><li class="comment"><div class="comment-author vcard">'
    '<cite class="fn">Pier Walker</cite> <span class="says">says:</span></div>'
    "<p>Good to see the council finally decide something, honestly.</p></li></ol></div>")

BYLINES = {
    "no byline, commenters only": (COMMENTS_WITH_AUTHORS, None),
    "comment microdata author": ('<div itemscope itemtype="https://schema.org/Comment"><span itemprop="author">'
                                 "Pier Walker</span><p>Nice one.</p></div>", None),
    "says: line outside a comment area": ('<div class="author-box"><b>Pier Walker</b> says:</div>', None),
    "byline then commenters": ('<p class="byline">By Ann Writer</p>' + COMMENTS_WITH_AUTHORS, "Ann Writer"),
    "microdata author name with date tail": (
        '<div class="byline">By <span itemprop="author" itemscope itemtype="https://schema.org/Person">'
        '<span itemprop="name">Ann Writer</span></span> &middot; <span>8 Mar 2023</span></div>', "Ann Writer"),
    "byline with pipe and date": ('<p class="byline">By Ann Writer | Friday, 6 October 2023</p>', "Ann Writer"),
    "byline with 'on' date": ('<p class="byline">By Ann Writer on March 14, 2024</p>', "Ann Writer"),
    "co-authors keep the whole byline": ('<p class="byline">By <a class="author">Ann Writer</a> and '
                                         '<a class="author">Bo Byline</a> - 14/03/2024</p>', "Ann Writer and Bo Byline"),
}


@pytest.mark.parametrize("markup, expected", BYLINES.values(), ids=BYLINES.keys())
def test_author_from_page_byline_never_from_comments(markup, expected):
    assert extract_article(article_page(after=markup)).author == expected


def test_byline_in_a_page_wrapper_named_for_comments_is_kept():
    page = f"""<html><body><div id="content-with-comments"><article><h1>{TITLE}</h1>
    <p class="byline">By Ann Writer</p><p>{PARAS[0]}</p></article>{COMMENTS_WITH_AUTHORS}</div></body></html>"""
    assert extract_article(page).author == "Ann Writer"


# ---------------------------------------------------------------- encodings

def test_decode_utf8_bom():
    assert decode_html(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>") == "<p>café</p>"


@pytest.mark.parametrize("declaration", [
    b'<meta charset="iso-8859-1">',
    b'<meta charset="windows-1252">',
    b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
], ids=["meta charset iso-8859-1", "meta charset windows-1252", "http-equiv"])
def test_decode_declared_single_byte(declaration):
    data = b"<html><head>" + declaration + b"</head><body><p>\x93caf\xe9\x94 \x96 na\xefve</p></body></html>"
    assert "\u201ccaf\u00e9\u201d \u2013 na\u00efve" in decode_html(data)


def test_decode_undeclared_windows_1252_falls_back():
    assert decode_html(b"<p>\x93caf\xe9\x94</p>") == "<p>\u201ccaf\u00e9\u201d</p>"


def test_decode_undeclared_utf8():
    assert decode_html("<p>Zürich – café</p>".encode("utf-8")) == "<p>Zürich – café</p>"


def test_extract_article_accepts_bytes():
    data = article_page(title="Caf\u00e9 owners cheer").replace('charset="utf-8"', 'charset="windows-1252"')
    result = extract_article(data.encode("windows-1252"))
    assert (result.title, result.text) == ("Caf\u00e9 owners cheer", BODY)


# ---------------------------------------------------------------- broken and hostile input

def test_unclosed_tags():
    page = f"<html><body><div class='story'><p>{PARAS[0]}<p>{PARAS[1]}<p>{PARAS[2]}"
    assert extract_article(page).text == BODY


def test_stray_closing_tags():
    page = f"</div></span><html><body></div><article><p>{PARAS[0]}</p></div></p><p>{PARAS[1]}</p>" \
           f"</td><p>{PARAS[2]}</p></article></body></html></div>"
    assert extract_article(page).text == BODY


def test_deep_nesting_is_survived_and_text_kept():
    depth = 100_000
    page = "<html><body>" + "<div>" * depth + f"<p>{PARAS[0]}</p>" + "</div>" * depth + "</body></html>"
    assert extract_article(page).text == PARAS[0]


def test_deep_nesting_without_closing_tags():
    page = "<html><body>" + "<span><div>" * 50_000 + PARAS[0]
    assert extract_article(page).text == PARAS[0]


def test_deep_nesting_after_the_article_keeps_its_paragraphs():
    """The repair parse flattens only what is nested too deep: unclosed <p>s are siblings, not nesting."""
    unclosed = "".join(f"<p>{PARAS[i % 3]}" for i in range(300))
    page = f"<html><body><div class='story'>{unclosed}</div>" + "<span>" * 100_000 + "x</body></html>"
    assert extract_article(page).text == "\n\n".join(PARAS * 100)


UNCLOSED_TITLES = {
    "in the head": f"<html><head><title>{TITLE}</head><body><div>{STORY}</div></body></html>",
    "no head": f"<title>{TITLE}{STORY}",
    "in the body": f"<html><body><title>{TITLE}</body><div>{STORY}</div></html>",
    "a second one in the story": f"<html><head><title>{TITLE}</title></head><body><div><title>Harbour{STORY}</div>",
}


@pytest.mark.parametrize("page", UNCLOSED_TITLES.values(), ids=UNCLOSED_TITLES.keys())
def test_unclosed_title_does_not_swallow_the_article(page):
    result = extract_article(page)
    assert (result.title, result.text) == (TITLE, BODY)


@pytest.mark.parametrize("page", UNCLOSED_TITLES.values(), ids=UNCLOSED_TITLES.keys())
def test_unclosed_title_takes_the_repair_parse(page):
    assert needs_repair(page)


@pytest.mark.parametrize("escaped, read", [("&lt;CPML&gt;", "<CPML>"), ("&#60;CPML&#62;", "<CPML>"),
                                           ("&lt;/title&gt;&lt;p&gt;", "</title><p>")])
def test_escaped_markup_in_a_title_is_text_not_an_unclosed_title(escaped, read):
    """A Reuters ticker written &lt;CPML&gt; in the title is text: libxml2's tree is kept, not re-parsed slowly."""
    page = article_page(title=f"COMPUTER TERMINAL SYSTEMS {escaped} COMPLETES SALE")
    assert not needs_repair(page)
    result = extract_article(page)
    assert (result.title, result.text) == (f"COMPUTER TERMINAL SYSTEMS {read} COMPLETES SALE", BODY)


@pytest.mark.parametrize("tag", ["nav", "aside", "footer"])
def test_unclosed_page_part_swallowing_the_story_is_read_again(tag):
    page = f"""<html><head><title>{TITLE}</title></head><body><{tag}><a href="/">Home</a> <a href="/news">News</a>
    <div class="story">{STORY}</div></body></html>"""
    assert extract_article(page).text == BODY


DEEP_JSON_LD = {
    "arrays too deep to parse": '{"@type": "NewsArticle", "headline": "Deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "author in deep lists": '{"@type": "NewsArticle", "author": ' + "[" * 900 + '"Ann"' + "]" * 900 + "}",
    "author in deep objects": '{"@type": "NewsArticle", "author": ' + '{"name": ' * 900 + '"Ann"' + "}" * 900 + "}",
}


@pytest.mark.parametrize("block", DEEP_JSON_LD.values(), ids=DEEP_JSON_LD.keys())
def test_deeply_nested_json_ld_is_ignored_and_the_article_kept(block, caplog):
    result = extract_article(article_page(head=ld(block)))
    assert (result.title, result.text, result.author) == (TITLE, BODY, None)
    assert not [r for r in caplog.records if r.name == "searchsvc.clean"]  # no traceback logged


@pytest.mark.parametrize("junk", [
    "", b"", "   \n ", b"\x00" * 64, "\x00\x00<p>\x00</p>", b"\xff\xfe\x00\x01\x02\x03garbage\x9c\x80",
    os.urandom(0) + bytes(range(256)) * 8, "<?xml version='1.0' encoding='utf-8'?><html></html>",
    "<<<>>>&&&;;;</</", "not html at all, just words",
], ids=["empty str", "empty bytes", "blank", "NUL bytes", "NUL in markup", "binary", "all bytes",
        "xml declaration", "angle soup", "plain words"])
def test_hostile_input_never_raises(junk):
    result = extract_article(junk)
    assert isinstance(result, CleanedArticle)
    assert isinstance(result.text, str)


def test_empty_input_gives_empty_article():
    assert extract_article("") == CleanedArticle()
    assert extract_article(b"", url="https://example.org/x") == CleanedArticle(url="https://example.org/x")


def test_nul_bytes_inside_text_are_dropped():
    page = article_page().replace(PARAS[1], PARAS[1].replace("new span", "new\x00 span"))
    assert "\x00" not in extract_article(page).text


def test_json_ld_article_body_is_not_needed_but_tolerated():
    head = ld('{"@type": "NewsArticle", "articleBody": "Short summary."}')
    assert extract_article(article_page(head=head)).text == BODY


# ---------------------------------------------------------------- dates

DATES = [
    ("2024-03-14T09:30:00Z", datetime(2024, 3, 14, 9, 30)),
    ("2024-03-14T09:30:00.123Z", datetime(2024, 3, 14, 9, 30, 0, 123000)),
    ("2024-03-14T09:30:00+02:00", datetime(2024, 3, 14, 7, 30)),
    ("2024-03-14T09:30:00-0500", datetime(2024, 3, 14, 14, 30)),
    ("2024-03-14T09:30:00", datetime(2024, 3, 14, 9, 30)),
    ("2024-03-14 09:30", datetime(2024, 3, 14, 9, 30)),
    ("2024-03-14", datetime(2024, 3, 14)),
    ("Thu, 14 Mar 2024 09:30:00 +0000", datetime(2024, 3, 14, 9, 30)),
    ("Thu, 14 Mar 2024 09:30:00 GMT", datetime(2024, 3, 14, 9, 30)),
    ("14 Mar 2024 04:30:00 -0500", datetime(2024, 3, 14, 9, 30)),
    ("March 14, 2024", datetime(2024, 3, 14)),
    ("14 March 2024", datetime(2024, 3, 14)),
    ("Mar 14, 2024 10:00 AM", datetime(2024, 3, 14, 10, 0)),
    ("Mar 14, 2024 10:00 PM", datetime(2024, 3, 14, 22, 0)),
    ("Mar 14, 2024 12:05 am", datetime(2024, 3, 14, 0, 5)),
    ("Thursday, March 14, 2024", datetime(2024, 3, 14)),
    ("Sept. 4, 2024", datetime(2024, 9, 4)),
    ("2024/03/14", datetime(2024, 3, 14)),
    ("2024/03/14 09:30", datetime(2024, 3, 14, 9, 30)),
    ("  2024-03-14  ", datetime(2024, 3, 14)),
]


@pytest.mark.parametrize("value, expected", DATES, ids=[d[0] for d in DATES])
def test_parse_date_forms(value, expected):
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed.tzinfo is None


@pytest.mark.parametrize("value", [
    "", "garbage", "yesterday", "2 hours ago", "Smarch 14, 2024", "2024-13-45", "2024-02-30",
    "March 32, 2024", "14/03/2024", "1710408600", "Mar 14, 2024 13:00 PM", "0000-00-00",
    "the year 2024", "\x00", "2024-03-14T25:99:00",
], ids=lambda v: repr(v))
def test_parse_date_garbage_is_none(value):
    assert parse_date(value) is None


def test_parse_date_non_string_is_none():
    assert parse_date(None) is None
    assert parse_date(20240314) is None


# ---------------------------------------------------------------- plain text

def test_plain_text_title_and_paragraphs():
    text = f"{TITLE}\n\n{PARAS[0]}\n\n{PARAS[1]}\n\n{PARAS[2]}\n"
    assert extract_plain_text(text) == CleanedArticle(title=TITLE, text=BODY)


def test_plain_text_title_repeated_is_kept_once():
    text = f"\n\n{TITLE}\n\n{TITLE}\n\n{PARAS[0]}\n\n{PARAS[1]}\n\n{PARAS[2]}"
    result = extract_plain_text(text)
    assert (result.title, result.text) == (TITLE, BODY)


def test_plain_text_title_repeated_on_next_line():
    text = f"{TITLE}\n{TITLE}\n{PARAS[0]}\n\n{PARAS[1]}\n\n{PARAS[2]}"
    assert extract_plain_text(text).text == BODY


def test_plain_text_joins_wrapped_lines():
    cut = PARAS[0].index(" ", 70)
    first, second = PARAS[0][:cut], PARAS[0][cut + 1:]
    text = f"{TITLE}\n\n{first}\n{second}\n\n{PARAS[1]}\n\n{PARAS[2]}"
    assert extract_plain_text(text).text == BODY


@pytest.mark.parametrize("tail", [
    "Copyright 2024 Harbour Times",
    "© 2024 Harbour Times. All rights reserved.",
    "All rights reserved",
    "Follow us on Twitter and Facebook",
    "Share this article",
    "Subscribe to our newsletter",
    "Read more: the bridge in pictures",
    "Share this article\nFollow us on Twitter\n\n© 2024 Harbour Times",
    "---\nCopyright 2024 Harbour Times. All rights reserved.\nFollow us: @HarbourTimes\n"
    "Got a tip? Email news@harbourtimes.example",
    "Copyright 2024 Harbour Times. All rights reserved.\nFollow us on social media\nFacebook | Twitter",
    "\n© Harbour Times 2024 | Terms | Privacy\nMore local news at harbourtimes.example",
    "* * *\nFollow us on social media",
    "=====",
])
def test_plain_text_trailing_boilerplate_dropped(tail):
    text = f"{TITLE}\n\n{BODY}\n\n{tail}\n"
    assert extract_plain_text(text).text == BODY


@pytest.mark.parametrize("tail", [
    "* * *\nThe writer is a member of the harbour board.",
    "Read more: the bridge in pictures\nThe council meets again on Friday to set the budget.",
    "---\nCorrection: an earlier version gave the wrong year",
], ids=["separator then prose", "boilerplate opener then prose", "separator then non-boilerplate"])
def test_plain_text_trailing_lines_that_are_not_boilerplate_are_kept(tail):
    text = f"{TITLE}\n\n{BODY}\n\n{tail}\n"
    assert extract_plain_text(text).text == f"{BODY}\n\n{' '.join(tail.split())}"


PLAIN_TEXT_PROMPTS = {
    "comment prompt after an extra blank line": "\nPlease let us know if you're having issues with commenting.",
    "newsletter prompt": "Sign up for our morning newsletter and get the day's news in your inbox.",
    "app prompt": "Download the Harbour Times app for iPhone and Android.",
    "share buttons as text": "Click to share on Twitter (Opens in new window)\n"
                             "Click to share on Facebook (Opens in new window)",
    "typo prompt": "Report a typo",
    "update note": "This story has been updated to include comment from the port authority.",
    "copyright line": "© 2024 Harbour Times Media Ltd. All rights reserved.",
    "tip line": "Got a tip? Email news@harbourtimes.example or call 555-0100.",
    "wire credits": "(Reporting by Ann Writer; Editing by Bo Byline)",
    "wire contribution": "The Associated Press contributed to this report.",
    "wire name": "— AP",
    "question to the reader": "Have you got a story for us? Tell us at harbourtimes.example/tips",
    "share row": "Share this story\nFacebook | Twitter | Email",
    "conversation prompt": "We want to hear from you. Join the conversation below.",
    "briefing prompt": "Like this story? You'll love our weekly briefing.",
    "closed comments": "Comments are closed.",
    "thanks for reading": "Thanks for reading! Subscribe to support local journalism.",
    "long call to action set apart": "\nIf you live near the bridge and would like to tell us how the works "
                                     "change your street, we would love to hear from you.",
    "several prompts": "Read more: the bridge in pictures\n\nFollow us on Twitter\n\n\nReport a typo",
}


@pytest.mark.parametrize("tail", PLAIN_TEXT_PROMPTS.values(), ids=PLAIN_TEXT_PROMPTS.keys())
def test_plain_text_site_prompts_at_the_end_are_dropped(tail):
    text = f"{TITLE}\n{TITLE}\n\n{BODY}\n\n{tail}\n"
    assert extract_plain_text(text) == CleanedArticle(title=TITLE, text=BODY)


STORY_LAST_PARAGRAPHS = {
    "quote with you": '"If you build it, the trams will come," the mayor said.',
    "plain sentence": "The council meets again on Friday to set the budget.",
    "site words in the story": "Readers who want to follow the debate can subscribe to the council's minutes, "
                               "which are published online every Thursday.",
    "second person in the story": "You can still cross the old bridge on foot until the works begin next "
                                  "spring, the council said.",
    "social network in the story": "The mayor announced the decision on Facebook late on Tuesday, after a "
                                   "meeting that ran for six hours.",
    "short last line": "Work starts in March.",
}


@pytest.mark.parametrize("last", STORY_LAST_PARAGRAPHS.values(), ids=STORY_LAST_PARAGRAPHS.keys())
def test_plain_text_story_last_paragraph_is_kept_even_before_prompts(last):
    text = f"{TITLE}\n\n{BODY}\n\n{last}\n"
    assert extract_plain_text(text).text == f"{BODY}\n\n{last}"
    prompted = f"{TITLE}\n\n{BODY}\n\n{last}\n\n\nPlease let us know if you're having issues with commenting.\n"
    assert extract_plain_text(prompted).text == f"{BODY}\n\n{last}"


def test_plain_text_wrapped_last_paragraph_is_one_line_of_the_story():
    """A hard-wrapped paragraph whose last line alone would read like a prompt."""
    text = (f"{TITLE}\n\n{BODY}\n\nThe paper will keep readers informed as the works go on, and those who\n"
            "subscribe to the weekly digest will get the timetable first.\n")
    assert extract_plain_text(text).text.endswith("those who subscribe to the weekly digest will get the timetable first.")


def test_plain_text_boilerplate_words_inside_body_are_kept():
    para = "Readers can subscribe to the council's minutes, which are published online."
    text = f"{TITLE}\n\n{para}\n\n{PARAS[0]}"
    assert extract_plain_text(text).text == f"{para}\n\n{PARAS[0]}"


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\x00\x00"])
def test_plain_text_empty(text):
    assert extract_plain_text(text) == CleanedArticle()


def test_plain_text_crlf():
    text = f"{TITLE}\r\n\r\n{PARAS[0]}\r\n\r\n{PARAS[1]}"
    assert extract_plain_text(text).text == f"{PARAS[0]}\n\n{PARAS[1]}"


def _words_in_tiny_divs(text: str) -> str:
    """Prose chopped into three-word <div>s: nothing for the paragraph walk to vote on."""
    words = text.split()
    return "".join(f"<div>{' '.join(words[i:i + 3])}</div>" for i in range(0, len(words), 3))


def test_json_ld_article_body_used_when_the_walk_finds_nothing():
    long_body = " ".join(PARAS * 2)
    head = ld('{"@type": "NewsArticle", "articleBody": "%s"}' % long_body)
    page = f"<html><head>{head}</head><body>{_words_in_tiny_divs(long_body)}</body></html>"
    assert extract_article(page).text == long_body


def test_json_ld_article_body_not_on_the_page_is_ignored():
    other = " ".join(["Unrelated words about a different story entirely, nothing shared."] * 12)
    head = ld('{"@type": "NewsArticle", "articleBody": "%s"}' % other)
    assert extract_article(article_page(head=head)).text == BODY


def test_random_tag_soup_never_raises(caplog):
    """Also asserts nothing reached extract_article's last-resort exception handler."""
    import random

    rng = random.Random(1234)
    pieces = ["<div>", "</div>", "<p>", "</p>", "<a href='x'>", "</a>", "<script>", "</script>",
              "<table><tr><td>", "</td>", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#xD800;",
              "\x00", "<br/>", "<article class='comments'>", "<h1>", "</h1>", "<?php ?>", "<svg><math>",
              "words, more words and commas, ", "\ufffd", "<meta charset='utf-16'>", '"', "'", "<", ">"]
    for _ in range(300):
        page = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 60)))
        result = extract_article(page.encode("utf-8") if rng.random() < 0.5 else page)
        assert isinstance(result.text, str)
    assert not [r for r in caplog.records if r.name == "searchsvc.clean"]


@pytest.mark.parametrize("text", [
    "Reuter", "Sign up for our newsletter", "Get the NEWSLETTER today", "— Share this story —",
    "Please share it with friends", "We accept all cookies here", "This site requires JavaScript to run.",
    "Read more: Oil prices fall", "Oil prices fell on Monday, traders said.", "newsletter\nsignup",
    "The story was good. © 2024 Example Media", "Jane Doe contributed to this report.",
    "Mail us (opens in a new tab)", "Reporting by Jane Doe; Editing by John Roe", "Reuters", "",
    "contributed", "xnewsletter", "Like this article? Share it", "Photo: AP", "| Advertisement |",
])
def test_whole_text_vocabulary_answers_as_its_regex(text):
    """The fast matchers skip the '.*' alternatives only where they cannot match: same answers as the regex."""
    from searchsvc.clean.vocabulary import (BOILERPLATE_TEXT, PLAIN_TEXT_PROMPTS, is_boilerplate_text,
                                            is_plain_text_prompt)

    assert is_boilerplate_text(text) == bool(BOILERPLATE_TEXT.match(text))
    assert is_plain_text_prompt(text) == bool(PLAIN_TEXT_PROMPTS.match(text))
    assert is_boilerplate_text.anchored.pattern != BOILERPLATE_TEXT.pattern  # the split did find '.*' alternatives
