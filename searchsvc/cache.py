"""The result cache: the same request on the same index generation gets the same page.

Search traffic repeats itself (a few queries make most of it): a page costs
milliseconds to compute and microseconds to look up. An entry is keyed by the
whole request (the query and every parameter) and lives only as long as the
index generation it was computed on: the first lookup under another generation
empties the cache, so a reindex is visible on the next request.
At most ``entries`` pages are kept (``Settings.cache_entries``; 0 turns the
cache off), the least recently used leaving first.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable, Generic, TypeVar

V = TypeVar("V")


class ResultCache(Generic[V]):
    def __init__(self, entries: int):
        self.entries = max(0, entries)
        self._generation: Hashable = None
        self._pages: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, generation: Hashable, key: Hashable) -> V | None:
        """The page stored for ``key`` under ``generation``, or None."""
        if not self.entries:
            return None
        with self._lock:
            self._follow(generation)
            page = self._pages.get(key)
            if page is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return page

    def put(self, generation: Hashable, key: Hashable, page: V) -> None:
        """Keep ``page`` for ``key`` if it was computed on the generation the cache now follows.

        ``get`` moves the cache to the generation it is asked about, so a page
        finished after a newer generation was served is dropped, never mixed in.
        """
        if not self.entries:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                self._pages.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)

    def _follow(self, generation: Hashable) -> None:
        if generation != self._generation:
            self._pages.clear()
            self._generation = generation
