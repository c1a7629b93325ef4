"""Page dates in their common forms, read as naive UTC datetimes."""
from __future__ import annotations

import email.utils
import re
from datetime import datetime, timedelta, timezone

from .tree import norm

_MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for name in names}
_ZONES = {"utc": 0, "gmt": 0, "z": 0, "ut": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
          "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "bst": 1, "cet": 1, "cest": 2}
_WEEKDAY = re.compile(r"^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+", re.I)
_TIME = (r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
         r"\s*(?P<ampm>[ap]\.?m\.?)?)?"
         r"(?:\s*(?P<zone>[a-z]{1,4}|[+-]\d{2}:?\d{2}))?")
_MONTH_FIRST = re.compile(r"^(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})"
                          + _TIME + r"$", re.I)
_DAY_FIRST = re.compile(r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>[a-z]+)\.?,?\s+(?P<year>\d{4})"
                        + _TIME + r"$", re.I)
_SLASHED = re.compile(r"^(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})"
                      r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$")


def parse_date(value: str) -> datetime | None:
    """A naive UTC datetime from the common page date formats; None rather than a guess."""
    if not isinstance(value, str):
        return None
    text = norm(value.replace("\x00", ""))
    if not text or len(text) > 80:
        return None
    for parser in (_parse_iso, _parse_rfc2822, _parse_slashed, _parse_words):
        try:
            parsed = parser(text)
        except (ValueError, TypeError, OverflowError, IndexError):
            parsed = None
        if parsed is not None:
            return _to_naive_utc(parsed) if 1000 <= parsed.year <= 9999 else None
    return None


def _to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


_ISO_DATE = re.compile(r"^\d{4}-?\d{2}-?\d{2}(?:$|[T ])")
_SUBSECONDS = re.compile(r"(\.\d{6})\d+")
_ZULU = re.compile(r"[zZ]$")
_UTC_NAME = re.compile(r"\s*(UTC|GMT)$")
_RFC2822 = re.compile(r"\d{1,2}\s+[a-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}", re.I)


def _parse_iso(text: str) -> datetime | None:
    if not _ISO_DATE.match(text):
        return None
    candidate = _SUBSECONDS.sub(r"\1", text.replace(" ", "T", 1) if "T" not in text else text)
    candidate = _ZULU.sub("+00:00", candidate)
    candidate = _UTC_NAME.sub("+00:00", candidate)
    return datetime.fromisoformat(candidate)


def _parse_rfc2822(text: str) -> datetime | None:
    if not _RFC2822.search(text):
        return None
    return email.utils.parsedate_to_datetime(text)


def _parse_slashed(text: str) -> datetime | None:
    match = _SLASHED.match(text)
    if not match:
        return None
    return _build(match, int(match["month"]))


def _parse_words(text: str) -> datetime | None:
    text = _WEEKDAY.sub("", text)
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        match = pattern.match(text)
        if match:
            month = _MONTHS.get(match["month"].lower())
            if month is None:
                return None
            return _build(match, month)
    return None


def _build(match, month: int) -> datetime | None:
    """datetime from a regex match with year/day and optional time, am/pm and zone groups."""
    groups = match.groupdict()
    hour = int(groups.get("hour") or 0)
    minute = int(groups.get("minute") or 0)
    second = int(groups.get("second") or 0)
    ampm = (groups.get("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    value = datetime(int(match["year"]), month, int(match["day"]), hour, minute, second)
    zone = (groups.get("zone") or "").lower()
    if zone:
        if zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            value = value.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))
        elif zone in _ZONES:
            value = value.replace(tzinfo=timezone(timedelta(hours=_ZONES[zone])))
        else:
            return None
    return value


_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
    r"|\b(?:published|updated|posted|last|first|on|at|am|pm|a\.m\.|p\.m\.|[A-Z]{2,4})\b|\d+(?:st|nd|rd|th)?|[^\w\s]", re.I)


_YEAR_OR_TIME = re.compile(r"\b(?:19|20)\d{2}\b|\d{1,2}:\d{2}")


def is_dateline(text: str) -> bool:
    """Text that is only a date/time stamp, e.g. 'Published: 10:48, Tue, Nov 19, 2019'."""
    if len(text) > 100 or not _YEAR_OR_TIME.search(text):
        return False
    return len(_DATE_WORDS.sub(" ", text).split()) <= 1
