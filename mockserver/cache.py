"""The one bounded cache of the mock: a thread-safe map of at most ``size`` entries.

Every remembered value in the server goes through it (decoded requests, parsed SOAP calls, task
specs, fault rules, rendered TaskInfos, remembered answers), so memory stays bounded the same way
everywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most *size* entries; when full, ``put`` drops the oldest.

    Reads take no lock (a dict lookup is atomic in CPython), so the hot path of a server with
    dozens of threads never queues on one; writes are serialised. The oldest entry goes first:
    the caches here hold what pollers ask again and again, which is re-added as soon as it is
    asked again after being dropped.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a cache holds at least one entry, not {size}")
        self.size = size
        # An OrderedDict drops its oldest entry at once; a dict's first key, after many entries
        # were dropped from its front, is found by a scan past their empty slots (in a cache of
        # every poll's new body, a scan at every put).
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._items.pop(key, None)  # re-added as the newest
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value of *key*, or ``make()`` stored under it (made outside the lock)."""
        found = self._items.get(key)
        return found if found is not None else self.put(key, make())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


A = TypeVar("A", bound=Hashable)
R = TypeVar("R")


def memoize(size: int) -> Callable[[Callable[[A], R]], Callable[[A], R]]:
    """A decorator: a one-argument function's results by argument, in a BoundedCache of *size*."""

    def decorate(function: Callable[[A], R]) -> Callable[[A], R]:
        cache: BoundedCache[A, R] = BoundedCache(size)

        def remembered(argument: A) -> R:
            return cache.get_or_make(argument, lambda: function(argument))

        remembered.__doc__ = function.__doc__
        return remembered

    return decorate
