"""The record cleaning hands to the indexer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class CleanedArticle:
    title: str = ""
    text: str = ""
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
