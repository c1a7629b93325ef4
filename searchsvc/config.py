"""One settings object for every door.

Settings flow one way: defaults, then ``SEARCHSVC_*`` environment variables
(read here and nowhere else), then command-line flags; the finished
``Settings`` is handed down to the core.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

ENV_PREFIX = "SEARCHSVC_"


def _cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


CORES = _cores()


def _setting(default, help, **kwargs):
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class Settings:
    index: Path = _setting(Path("index"), "Index home folder (holds the live index generation).")
    host: str = _setting("127.0.0.1", "Address `serve` listens on.")
    port: int = _setting(8000, "Port `serve` listens on.")
    threads: int = _setting(8, "Worker threads of the WSGI server.")
    processes: int = _setting(
        CORES, "Server processes sharing `serve`'s port, each with `threads` threads (default: one per core).")
    pin_cores: bool = _setting(
        True, "With one process per core or fewer, each of `serve`'s processes keeps to a core of its own "
        "(`serve --no-pin-cores` lets the system move them).")
    workers: int = _setting(CORES, "Processes that clean and index files during a reindex (default: one per core).")
    per_page: int = _setting(10, "Results per page when the request does not say; also how many articles with "
                             "every word of a short query fill a page (fewer: articles with most of the words follow).")
    max_per_page: int = _setting(100, "Largest `per_page` accepted.")
    max_page: int = _setting(1000, "Deepest `page` accepted (deeper pages: use the `next` cursor).")
    max_query_chars: int = _setting(2000, "Longest query accepted, in characters.")
    max_query_terms: int = _setting(200, "Most query words used; the rest are ignored.")
    max_prefix_terms: int = _setting(256, "Most index words all `prefix*` of one query expand to (the most frequent).")
    max_phrase_words: int = _setting(32, "Words of a quoted phrase matched as a phrase; a longer one matches on its first "
                                     "`max_phrase_words`.")
    max_phrase_documents: int = _setting(
        400_000, "Documents whose word positions one query's phrases may read (each phrase word counts the "
        "documents it is checked in); past it, a phrase is decided by the words checked so far.")
    max_file_bytes: int = _setting(20 * 1024 * 1024, "Larger HTML/text files are skipped with a reason.")
    writer_timeout: float = _setting(30.0, "Seconds a reindex waits for another reindex's lock.")
    snippet_chars: int = _setting(240, "Approximate length of one snippet passage.")
    recent_half_life_days: float = _setting(30.0, "Half-life of the age decay in `sort=recent`.")
    cache_entries: int = _setting(2048, "Result-cache entries per index generation (0 turns the cache off).")
    cache_bytes: int = _setting(64 * 1024 * 1024, "Result-cache size per server process, in bytes of the pages "
                                "it holds (estimated; 0 turns the cache off).")
    cursor_key: str = _setting(
        "", "Secret that signs cursors (`next` tokens); empty: one made once and kept in the index home as "
        "`cursor.key`, shared by every process and replica that reads that folder.", repr=False)
    warm_postings: int = _setting(
        4_000_000, "Postings of the most frequent words a server decodes before it answers, and in the background "
        "after each new commit, for index segments without postings arrays (written before them; about 16 bytes "
        "each; 0 turns warming off).")
    access_log: bool = _setting(True, "`serve` writes one line per request on stderr: method, path, status, time "
                                "(`serve --quiet` turns it off).")

    def __post_init__(self):
        """Values no door could use are refused here, whichever door they came through, with the variable's name."""
        for name, lo, hi in (("port", 0, 65535), ("threads", 1, 1024), ("processes", 1, 1024)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be between {lo} and {hi}, not {value}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults, then ``SEARCHSVC_<FIELD>`` variables, then non-None ``overrides``."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw not in (None, ""):
                values[f.name] = _coerce(f, raw)
        values.update({k: _coerce(cls._field(k), v) for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **overrides) -> "Settings":
        """A copy with the non-None ``overrides`` applied."""
        return dataclasses.replace(
            self, **{k: _coerce(self._field(k), v) for k, v in overrides.items() if v is not None}
        )

    @classmethod
    def _field(cls, name):
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
        raise TypeError(f"unknown setting {name!r}")

    @classmethod
    def describe(cls) -> list[tuple[str, str, object, str]]:
        """(field, environment variable, default, help) for docs and ``--help``."""
        return [
            (f.name, ENV_PREFIX + f.name.upper(), f.default, f.metadata["help"])
            for f in dataclasses.fields(cls)
        ]


def _coerce(f, value):
    default = f.default
    if isinstance(default, Path):
        return Path(value)
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{ENV_PREFIX}{f.name.upper()} must be a whole number, not {value!r}")
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{ENV_PREFIX}{f.name.upper()} must be a number, not {value!r}")
    return value
