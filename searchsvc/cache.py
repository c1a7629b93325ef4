"""The result cache: the same request on the same index generation gets the same page.

Search traffic repeats itself (a few queries make most of it): a page costs
milliseconds to compute and microseconds to look up. An entry is keyed by the
whole request (the query and every parameter) and lives only as long as the
index generation it was computed on: the first lookup under another generation
empties the cache, so a reindex is visible on the next request.
At most ``entries`` pages and ``max_bytes`` of them are kept
(``Settings.cache_entries``, ``Settings.cache_bytes``; either 0 turns the cache off),
the least recently used leaving first. A page's bytes are what ``weigh`` says
(``ResultPage.approximate_bytes``): without a byte bound, a few pages of
megabyte titles times the entries would hold a gigabyte.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class ResultCache(Generic[V]):
    def __init__(self, entries: int, max_bytes: int, weigh: Callable[[V], int]):
        on = entries > 0 and max_bytes > 0
        self.entries, self.max_bytes = (entries, max_bytes) if on else (0, 0)
        self._weigh = weigh
        self._generation: Hashable = None
        self._pages: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, generation: Hashable, key: Hashable) -> V | None:
        """The page stored for ``key`` under ``generation``, or None."""
        if not self.entries:
            return None
        with self._lock:
            self._follow(generation)
            found = self._pages.get(key)
            if found is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, generation: Hashable, key: Hashable, page: V) -> None:
        """Keep ``page`` for ``key`` if it was computed on the generation the cache now follows.

        ``get`` moves the cache to the generation it is asked about, so a page
        finished after a newer generation was served is dropped, never mixed in.
        A page larger than the whole byte budget is not kept.
        """
        if not self.entries:
            return
        size = self._weigh(page)
        if size > self.max_bytes:
            return
        with self._lock:
            if generation != self._generation:
                return
            old = self._pages.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._pages[key] = (page, size)
            self.bytes += size
            while len(self._pages) > self.entries or self.bytes > self.max_bytes:
                _, (_, dropped) = self._pages.popitem(last=False)
                self.bytes -= dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)

    def _follow(self, generation: Hashable) -> None:
        if generation != self._generation:
            self._pages.clear()
            self.bytes = 0
            self._generation = generation
