"""The words boilerplate is made of, in class and id names and in short blocks of text.

One place for the vocabulary every stage (junk removal, scoring, pruning,
rendering and the plain-text rules) reads.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .tree import split_words


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression (``|`` outside groups and character classes)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: its | is a character; a ] first in it is one too
            i += 2 if pattern.startswith("[^", i) else 1
            i += 1 if pattern.startswith("]", i) else 0
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and not depth:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return parts + [pattern[start:]]


class WholeText:
    """``re.compile(head + "(?:" + "|".join(alternatives) + ")" + tail, flags).match(text)`` as a bool, faster.

    An alternative opening with ``.*`` (".*\\bnewsletter\\b.*") is tried at every
    character of every text; it can only match a text its rest is found in, so
    texts without any such rest are matched against the other alternatives
    alone (the same answer: the missing ones could not have matched).  Short
    blocks of every page are asked.
    """

    def __init__(self, head: str, alternatives: list[str], tail: str, flags: int = 0):
        alts = [alt for group in alternatives for alt in _alternatives(group)]
        floating = [alt[2:] for alt in alts if alt.startswith(".*")]
        self.regex = re.compile(f"{head}(?:{'|'.join(alts)}){tail}", flags)
        self.anchored = re.compile(f"{head}(?:{'|'.join(a for a in alts if not a.startswith('.*'))}){tail}", flags)
        self.floating = re.compile("|".join(f"(?:{rest})" for rest in floating), flags) if floating else None
        self._answers = lru_cache(maxsize=16384)(self._answer)  # "Reuter", "Advertisement": the same lines recur

    def __call__(self, text: str) -> bool:
        return self._answers(text)

    def _answer(self, text: str) -> bool:
        whole = self.regex if self.floating is not None and self.floating.search(text) else self.anchored
        return whole.match(text) is not None


BOILERPLATE_WORDS = (
    "nav", "navbar", "navigation", "menu", "footer", "share", "sharing", "social", "related",
    "recommend", "recommended", "recommendations", "promo", "newsletter", "subscribe", "subscription",
    "cookie", "cookies", "consent", "gdpr", "banner", "ad", "ads", "advert", "advertisement",
    "adslot", "sponsor", "sponsored", "comment", "comments", "disqus", "popup", "modal", "breadcrumb",
    "breadcrumbs", "tags", "sidebar", "widget", "masthead", "header", "toolbar", "outbrain",
    "taboola", "signup", "paywall", "more-stories", "trending", "popular", "caption", "credit",
    "byline", "dateline", "timestamp", "author", "print", "skip", "jump", "inline-ad",
    "rail", "read-more", "readmore", "newsletters", "follow", "login", "register", "pagination", "pager",
    "news-letter", "teasers", "affiliate", "linkbox", "werbung", "anzeige", "kommentar", "kommentare",
    "commentaires", "comentarios", "commenti", "komentarze", "reacties", "disclosure", "relatedposts",
)
BOILERPLATE_CLASS = re.compile(
    r"(?:^|[\s_\-])(?:%s)(?:$|[\s_\-\d])" % "|".join(re.escape(w) for w in BOILERPLATE_WORDS), re.I)
CONTENT_CLASS = re.compile(r"article|body|content|entry|main|post|story|text|prose", re.I)
STRONG_CONTENT = re.compile(r"article[-_]?body|articlebody|story[-_]?body|post[-_]?body|entry[-_]?content"
                             r"|article[-_]?content|article[-_]?text|story[-_]?text", re.I)

# Short blocks that open with these words point elsewhere ("Read also: <another story>"), in the
# languages news is written in: English, German, French, Spanish, Italian, Portuguese, Dutch,
# Polish, Czech and the Scandinavian languages.
TEASER_LEAD_INS = (
    r"(?:read|see) (?:more|also|next)", r"also read", r"more on this", r"you (?:may|might) also like",
    r"further reading", r"related(?: articles| stories| coverage| content)?", r"recommended",
    r"lesen sie (?:auch|mehr|hier)", r"auch lesen", r"mehr (?:zum thema|themen|dazu|lesen)", r"weiterlesen",
    r"zum weiterlesen", r"weitere informationen", r"siehe auch", r"passend (?:dazu|zum thema)",
    r"das könnte (?:sie|dich|euch) (?:auch )?interessieren", r"auch interessant",
    r"(?:à )?lire (?:aussi|également|la suite)", r"voir aussi", r"sur le même sujet", r"en savoir plus",
    r"le[ae] (?:también|más)", r"leer más", r"ver también", r"(?:le|te) puede interesar",
    r"(?:te )?puede interesarte", r"más información", r"(?:noticias|notas|artículos) relacionad[oa]s",
    r"ähnliche (?:beiträge|artikel)", r"verwandte (?:beiträge|artikel|themen)", r"articles? similaires?",
    r"articoli correlati", r"related posts",
    r"leggi (?:anche|di più|tutto)", r"potrebbe interessarti", r"vedi anche",
    r"leia (?:também|mais)", r"veja também", r"saiba mais", r"lees (?:ook|meer)",
    r"czytaj (?:też|także|więcej)", r"zobacz (?:też|także)", r"dowiedz się więcej",
    r"čtěte (?:také|též)", r"přečtěte si (?:také|též)", r"läs (?:också|mer)", r"l[æe]s (?:også|mere?)",
)

# Whole short blocks of this vocabulary are the site talking to the reader, not the story:
# comment, rating, sharing and listening prompts, advertising labels, tables of contents,
# author boxes, picture credits.
SITE_PROMPTS = (
    r"advertisement|ad|sponsored|anzeige|werbung|publicidad|publicité|pubblicità|reklama",
    r"leave a (?:comment|reply)|\d+\s+comments?|comments?|no comments(?: yet)?",
    r"(?:keine )?kommentare?|kommentieren|kommentar schreiben|commentaires?|commenter|comentarios?|commenti",
    r"(?:sign up|subscribe)\b.*|.*\bnewsletter\b.*",
    r"share(?: this)?(?: article| story| on \w+)?|.*\bshare (?:it|this)\b.*",
    r"(?:artikel )?teilen|partager|compartir|condividi",
    r"follow us\b.*|click here\b.*|(?:copyright|©).*|all rights reserved\.?",
    r"we use cookies\b.*|.*\baccept (?:all )?cookies\b.*|continue reading.*",
    r"this (?:article|story) (?:was|has been) (?:updated|corrected).{0,40}",
    r"(?:photo|image|video|graphic|foto|bild|titelbild|imagen|zdjęcie)s?(?: credits?)?\s*:.*",
    r"(?:credits?|crédits?|crédito)(?: photos?| fotos?)?\s*:.*",
    r"advertisement\s*-\s*scroll to continue.*|tags?:?|like this (?:story|article)\b.*",
    r".*\b(?:requires|enable) javascript\b.*",
    r"(?:table of )?contents|inhaltsverzeichnis|sommaire|índice|spis treści",
    r"(?:lesezeit:?\s*)?\d+\s*(?:min\.?|minutes?|minuten|minutos)(?:\s+(?:read|lesezeit|de lectura|de lecture))?",
    r"(?:reading time|lesezeit|tiempo de lectura|temps de lecture)\s*:?\s*\d+.{0,12}",
    r"externer inhalt|external content|contenido externo|contenu externe",
    r"(?:source|sources|quelle|quellen|quellenangaben|fuente|fuentes|fonte|źródło|bron)\s*:.{0,60}",
    r"\*?\s*(?:werbung|anzeige|advertisement|sponsored|publicidad|publicité)\s*[:.|*]\s*.*",
    r"(?:about|über) (?:the|den|die) (?:author|autor|autorin)|sobre el autor|à propos de l'auteur|o autorze",
    r"(?:wie bewerten sie|rate|bewerten sie) (?:this|diesen|den) (?:article|artikel)\b.*",
    r"was this (?:article|page) helpful\?",
    r"(?:listen to this (?:article|story)|artikel anhören|escucha esta nota(?: aquí)?)\b.*",
    r"écouter (?:cet|l')article\b.*",
    r"\[\w+(?:\s[^\]]*)?\]",  # an unrendered [shortcode ...]
)
_PROMPTS, _LEAD_INS = "|".join(SITE_PROMPTS), "|".join(TEASER_LEAD_INS)
# dashes, bars and bullets around a label are decoration
is_boilerplate_text = WholeText(r"^[\s\-–—|•·»>:]*", [_PROMPTS, rf"(?:{_LEAD_INS})\b.*?"], r"[\s\-–—|•·«<:.]*$", re.I)
BOILERPLATE_TEXT = is_boilerplate_text.regex
MAX_BOILERPLATE_TEXT = 160  # longer blocks are prose even if they use the vocabulary

# Plain text has no markup to name its parts; these say a line is the site's, not the story's.
# Whole short lines: the wire's credits and the site's standing lines.
_WIRES = r"associated press|ap|reuters|afp|agence france-presse|dpa|upi|bloomberg|xinhua|ansa|efe|pa|aap|cnn"
is_plain_text_prompt = WholeText(r"^", [
    r"\(?\s*(?:additional )?(?:reporting|writing|editing|compiled|research|graphics?) by\b.*",
    r".*\bcontributed (?:to )?(?:this |the )?(?:report|reporting|story|article)\b.*",
    rf"[-—–(\s]*(?:the )?(?:{_WIRES})[)\s.]*",
    r".*(?:\bcopyright\b|©|\(c\)\s*\d{4}|\ball rights reserved\b).*",
    r"(?:this|the) (?:story|article|post|report) (?:has been|was|is being) (?:updated|corrected|changed)\b.*",
    r"(?:please |to )?report an? (?:typo|error|mistake|correction)\b.*",
    r"(?:spotted|found|see|notice) an? (?:typo|error|mistake)\b.*",
    r"(?:have|got) an? (?:news )?(?:tip|story idea|story|question)\b.*|(?:news )?tips?:.*",
    r"send (?:us )?(?:a |your )?(?:tips?|news|photos?|story|stories|letters?)\b.*",
    r"(?:please )?let us know\b.*|tell us\b.*|contact us\b.*|e-?mail us\b.*|write to us\b.*",
    r"click (?:here|to|on)\b.*|tap (?:here|to)\b.*|(?:download|get) (?:our|the) (?:\w+ )?app\b.*",
    r"(?:follow|like|join) us\b.*|(?:more|related) (?:stories|news|coverage|articles)\b.*",
    r".*\(opens in (?:a )?new (?:window|tab)\)",
    r"comments (?:are|have been) (?:closed|disabled|moderated)\b.*|thanks? (?:you )?for reading\b.*",
    r"editor'?s'? note:.*|(?:this (?:article|story) )?(?:was )?originally (?:appeared|published|ran)\b.*",
    r"a version of this (?:article|story)\b.*",
    r"check back (?:later )?for updates\b.*|this is a (?:developing|breaking) (?:news )?story\b.*",
    r"more:.*|(?:posted|filed) (?:in|under)\b.*|(?:the )?(?:story|article) continues (?:below|after|on)\b.*",
    r"[\w .'-]{3,40} (?:is|was) an? (?:[\w-]+ ){0,3}(?:reporter|correspondent|writer|editor|columnist|journalist|"
    r"contributor|producer)\b.*",  # the writer's line about themselves
], r"$", re.I)
PLAIN_TEXT_PROMPTS = is_plain_text_prompt.regex
# The reader addressed: "you", or an imperative opening the line or a sentence or clause in it.
CALL_TO_ACTION = re.compile(
    r"\b(?:you|your|you're|you've|you'll|yours|yourself)\b|(?:^|[.!?,:;]\s+)(?:please|let us|click|tap|follow|"
    r"subscribe|sign up|share|download|get|send|e-?mail|contact|report|tell|join|read|watch|listen|visit|like|"
    r"don't miss|have|got|check out|support|donate|register|log in|leave|write|call|text|see|submit)\b", re.I)
# The site talking about itself and its services rather than about the news.
SITE_TALK = re.compile(
    r"\b(?:comment(?:s|ing|ers?)?|newsletters?|subscri\w*|apps?|app store|google play|typos?|tips?|shar(?:e|ing)|"
    r"follow|twitter|facebook|instagram|linkedin|whatsapp|telegram|inbox|e-?mail|notifications?|alerts?|"
    r"podcasts?|website|site|account|sign(?:ed)? (?:in|up)|log(?:ged)? in|feedback|this (?:article|story)|"
    r"letters? to the editor|"
    r"(?:issues?|problems?|trouble) (?:with|using|viewing|loading))\b", re.I)
# A short line that is no sentence and uses any of these words is furniture of the site.
FURNITURE_WORDS = re.compile(r"\b(?:%s|%s)\b" % (
    "|".join(re.escape(w).replace(r"\-", "[- ]?") for w in BOILERPLATE_WORDS),
    r"terms|privacy|policy|tagged|filed|posted|categor(?:y|ies)|loading|sponsored content"), re.I)

# The lead (standfirst, dek) of a story, by class or id.
LEAD_CLASS = re.compile(r"(?:^|[\s_\-])(?:lead|intro|introduction|standfirst|summary|excerpt|abstract|perex|"
                        r"teaser|epigraph|chapo|sommario|subtitle|subheadline|sub-headline|deck|dek)(?:$|[\s_\-\d])",
                        re.I)

# Blocks about a picture (captions, credits, galleries), by class or id, in a few languages.
PICTURE_CLASS = re.compile(r"(?:^|[\s_\-])(?:image|img|photo|picture|pic|gallery|media|caption|"
                           r"legend|credits?|foto|bild|imagen|zdjecie)s?(?:$|[\s_\-\d])", re.I)

# Comment sections by their name in the languages pages are written in.
COMMENT_WORDS = r"comments?|comment-?list|kommentare?|commentaires?|comentarios?|commenti|komentarze?|reacties"
OFF_TOPIC_AREA = re.compile(
    r"(?:^|[\s_\-])(?:" + COMMENT_WORDS + r"|disqus|footer|sidebar|related|recommend\w*|outbrain|taboola|"
    r"newsletter|promo|widgets?|respond|replies|disclosure)(?:$|[\s_\-\d])", re.I)
STATE_PREFIX = re.compile(r"(?:^|\s)(?:no|has|with|show|hide|is|enable|disable)[-_]\S*", re.I)
COMMENT_AREA = re.compile(r"(?:^|[\s_\-])(?:" + COMMENT_WORDS + r"|replies|reply|respond|"
                           r"discussion|disqus)(?:$|[\s_\-\d])", re.I)


# Class and id strings repeat within a page and across a site's pages: each is judged once.

@lru_cache(maxsize=16384)
def names_boilerplate(marks: str) -> bool:
    """The class/id names boilerplate (camelCase words split)."""
    return BOILERPLATE_CLASS.search(split_words(marks)) is not None


@lru_cache(maxsize=16384)
def names_off_topic_area(marks: str) -> bool:
    """The class/id names a comments, footer, sidebar or related area (not a state like 'has-comments')."""
    return OFF_TOPIC_AREA.search(STATE_PREFIX.sub(" ", marks)) is not None


@lru_cache(maxsize=16384)
def names_picture(marks: str) -> bool:
    return PICTURE_CLASS.search(split_words(marks)) is not None


@lru_cache(maxsize=16384)
def names_lead(marks: str) -> bool:
    return LEAD_CLASS.search(split_words(marks)) is not None
