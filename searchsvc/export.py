"""Exporting the index: every article as it was cleaned, in the JSON Lines form ``reindex`` reads.

One record a line, in the index's document order: ``id``, ``title``,
``text``, ``url``, ``published`` (ISO 8601, UTC), ``author``, ``source``,
``topics`` and ``group`` (the near-duplicate group: the id of its first
article, the article's own id when it has no near-duplicates). ``reindex``
reads every field but ``group`` (it groups again as it indexes), so a round
trip gives the same index; any other engine can be fed the cleaned articles
(docs/scaling.md maps them onto an OpenSearch index).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import orjson

from searchsvc import schema
from searchsvc.config import Settings
from searchsvc.errors import SourceError
from searchsvc.store import IndexHome


@dataclass
class ExportReport:
    articles: int
    destination: str

    def summary(self) -> str:
        return f"exported {self.articles} articles to {self.destination}"


def article_records(settings: Settings) -> Iterator[dict]:
    """Every live article of the index at ``settings.index`` as an export record, in document order."""
    ix = IndexHome(settings.index).open_index()
    with ix.searcher() as searcher:
        for stored in searcher.reader().all_stored_fields():
            yield _record(stored)


def _record(stored: dict) -> dict:
    published = stored.get(schema.PUBLISHED)
    doc_id = stored[schema.ID]
    return {
        "id": doc_id,
        "title": stored.get(schema.TITLE) or "",
        "text": stored.get(schema.BODY) or "",
        "url": stored.get(schema.URL) or None,
        "published": published.isoformat() + "Z" if published is not None else None,  # stored as naive UTC
        "author": stored.get(schema.AUTHOR) or None,
        "source": stored.get(schema.SOURCE) or None,
        "topics": [t for t in (stored.get(schema.TOPICS) or "").split(",") if t],
        "group": stored.get(schema.GROUP) or doc_id,
    }


def export(settings: Settings, out: Path | str) -> ExportReport:
    """Write every article to ``out`` ("-": standard output).

    A file is written beside its destination and renamed over it when
    complete: an export that fails or is killed never leaves half a file
    under the name another program may be waiting to read.
    """
    if str(out) == "-":
        return ExportReport(_write(settings, sys.stdout.buffer), "standard output")
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            count = _write(settings, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise SourceError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return ExportReport(count, str(out))


def _write(settings: Settings, fh: IO[bytes]) -> int:
    count = 0
    for record in article_records(settings):
        fh.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count
