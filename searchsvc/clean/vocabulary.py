"""The words boilerplate is made of, in class and id names and in short blocks of text.

One place for the vocabulary every stage (junk removal, scoring, pruning,
rendering and the plain-text rules) reads.
"""
from __future__ import annotations

import re

BOILERPLATE_WORDS = (
    "nav", "navbar", "navigation", "menu", "footer", "share", "sharing", "social", "related",
    "recommend", "recommended", "recommendations", "promo", "newsletter", "subscribe", "subscription",
    "cookie", "cookies", "consent", "gdpr", "banner", "ad", "ads", "advert", "advertisement",
    "adslot", "sponsor", "sponsored", "comment", "comments", "disqus", "popup", "modal", "breadcrumb",
    "breadcrumbs", "tags", "sidebar", "widget", "masthead", "header", "toolbar", "outbrain",
    "taboola", "signup", "paywall", "more-stories", "trending", "popular", "caption", "credit",
    "byline", "dateline", "timestamp", "author", "print", "skip", "jump", "inline-ad",
    "rail", "read-more", "readmore", "newsletters", "follow", "login", "register", "pagination", "pager",
)
BOILERPLATE_CLASS = re.compile(
    r"(?:^|[\s_\-])(?:%s)(?:$|[\s_\-\d])" % "|".join(re.escape(w) for w in BOILERPLATE_WORDS), re.I)
CONTENT_CLASS = re.compile(r"article|body|content|entry|main|post|story|text|prose", re.I)
STRONG_CONTENT = re.compile(r"article[-_]?body|articlebody|story[-_]?body|post[-_]?body|entry[-_]?content"
                             r"|article[-_]?content|article[-_]?text|story[-_]?text", re.I)

# Short blocks made of this vocabulary are prompts and furniture, not prose.
BOILERPLATE_TEXT = re.compile(
    r"^(?:advertisement|ad|sponsored|leave a (?:comment|reply)|\d+\s+comments?|comments?|"
    r"(?:sign up|subscribe)\b.*|.*\bnewsletter\b.*|share(?: this)?(?: article| story| on \w+)?|"
    r"(?:read|see) (?:more|also|next)\b.*|related(?: articles| stories| coverage)?:?.*|"
    r"follow us\b.*|click here\b.*|(?:copyright|©).*|all rights reserved\.?|"
    r"we use cookies\b.*|.*\baccept (?:all )?cookies\b.*|continue reading.*|"
    r"this (?:article|story) (?:was|has been) (?:updated|corrected).{0,40}|"
    r"(?:photo|image|video|graphic)s?(?: credit)?:.*|advertisement\s*-\s*scroll to continue.*|"
    r"tags?:?|.*\bshare (?:it|this)\b.*|like this (?:story|article)\b.*|.*\b(?:requires|enable) javascript\b.*|"
    r"\[\w+(?:\s[^\]]*)?\])$",  # the last: an unrendered [shortcode ...]
    re.I)
MAX_BOILERPLATE_TEXT = 160  # longer blocks are prose even if they use the vocabulary

# Blocks about a picture (captions, credits, galleries), by class or id, in a few languages.
PICTURE_CLASS = re.compile(r"(?:^|[\s_\-])(?:image|img|photo|picture|pic|gallery|slide|slider|media|caption|"
                           r"legend|credits?|foto|bild|imagen|zdjecie)s?(?:$|[\s_\-\d])", re.I)

# Comment sections by their name in the languages pages are written in.
COMMENT_WORDS = r"comments?|comment-?list|kommentare?|commentaires?|comentarios?|commenti|komentarze?|reacties"
OFF_TOPIC_AREA = re.compile(
    r"(?:^|[\s_\-])(?:" + COMMENT_WORDS + r"|disqus|footer|sidebar|related|recommend\w*|outbrain|taboola|"
    r"newsletter|promo|widgets?|respond|replies)(?:$|[\s_\-\d])", re.I)
STATE_PREFIX = re.compile(r"(?:^|\s)(?:no|has|with|show|hide|is|enable|disable)[-_]\S*", re.I)
COMMENT_AREA = re.compile(r"(?:^|[\s_\-])(?:" + COMMENT_WORDS + r"|replies|reply|respond|"
                           r"discussion|disqus)(?:$|[\s_\-\d])", re.I)
