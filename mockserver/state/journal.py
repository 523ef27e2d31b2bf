"""The journal: every request the faces answered, as the tests read it back.

In memory, capped (the oldest entries go first), appended without touching the state's revision
(recording a request changes no answer). An entry is there as soon as the request is answered, so
a test reading the journal after a response always sees it. With a store (``--db``) entries are
also written behind, in batches, by a background thread: the journal survives a restart, give or
take the last few milliseconds of a killed server. Passwords never get here: an entry holds a user
name only.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vismock.errors import VismockError
from vismock.mockserver.state.clock import from_us, to_us
from vismock.mockserver.state.models import Face, JournalEntry

if TYPE_CHECKING:
    from vismock.mockserver.state.store import Store

log = logging.getLogger("vismock.mockserver")
FLUSH_SECONDS = 0.05

ROW_NAMES = (
    "time_us",
    "face",
    "operation",
    "task_ids",
    "user",
    "outcome",
    "http_status",
    "entity",
    "latency_ms",
)
Row = tuple[Any, ...]
"""A journal entry as kept: time_us, face, operation, task_ids, user, outcome, http_status, entity,
latency_ms (latency last: an answer given again from memory changes its time and latency)."""


def row_of(entry: JournalEntry) -> Row:
    return (
        to_us(entry.time), entry.face, entry.operation, entry.task_ids, entry.user, entry.outcome,
        entry.http_status, entry.entity, entry.latency_ms,
    )  # fmt: skip


class Journal:
    def __init__(
        self, cap: int = 10_000, store: Store | None = None, generation: Callable[[], int] = lambda: 0
    ) -> None:
        """*generation*: the state's reset generation now (an entry of a request that started
        before the last reset is left out: it belongs to a state now gone)."""
        if cap < 1:
            raise VismockError(f"journal_cap must be at least 1, not {cap}")
        self.cap = cap
        self._generation = generation
        self._rows: deque[tuple[int, Row]] = deque(maxlen=cap)  # (id, row)
        self._next_id = 1
        self._lock = threading.Lock()
        self._store = store
        self._pending: list[dict[str, Any]] = []
        self._flusher: threading.Thread | None = None
        self._stopped = threading.Event()
        if store is not None:
            self._restore(store)

    def record(self, entry: JournalEntry) -> None:
        self.record_row(entry.generation, row_of(entry))

    def record_row(self, generation: int | None, row: Row) -> None:
        """Append one row (the hot path makes it without an entry)."""
        if generation is not None and generation != self._generation():
            return
        with self._lock:
            self._rows.append((self._next_id, row))
            self._next_id += 1
            if self._store is not None:
                self._pending.append(_stored(row))
                self._start_flusher()

    def entries(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        limit: int | None = None,
        entity: str | None = None,
    ) -> list[JournalEntry]:
        """Matching entries, oldest first; *limit*: only the newest *limit* of them."""
        found = [
            _entry(entry_id, row) for entry_id, row in self._matching(task, outcome, face, operation, entity)
        ]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return found

    def count(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        entity: str | None = None,
    ) -> int:
        return sum(1 for _ in self._matching(task, outcome, face, operation, entity))

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._pending.clear()
        if self._store is not None:
            self._store.clear_journal()

    def flush(self) -> None:
        """Write what waits for the store (the flusher does it every 50 ms)."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending and self._store is not None:
            self._store.append_journal(pending, self.cap)

    def _matching(
        self,
        task: str | None,
        outcome: str | None,
        face: str | None,
        operation: str | None,
        entity: str | None,
    ) -> Iterable[tuple[int, Row]]:
        with self._lock:
            rows = list(self._rows)
        for entry_id, row in rows:
            if (
                (task is None or task in row[3])
                and (outcome is None or row[5] == outcome)
                and (face is None or row[1] == face)
                and (operation is None or row[2] == operation)
                and (entity is None or row[7] == entity)
            ):
                yield entry_id, row

    def close(self) -> None:
        """Write what waits and stop writing behind (the state is closing)."""
        self._stopped.set()
        self.flush()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            # The thread and the exit hooks hold the journal weakly: a state dropped unclosed (tests,
            # embedders) goes with its file, its thread ending at its next turn.
            this = weakref.ref(self)
            self._flusher = threading.Thread(
                target=_flush_forever, args=(this, self._stopped), name="vismock-journal", daemon=True
            )
            self._flusher.start()
            # A clean stop writes what waits; a server worker process ends with os._exit (no atexit:
            # multiprocessing's finalizers run instead).
            atexit.register(_flush_if_alive, this)
            if "multiprocessing" in sys.modules:
                from multiprocessing import util

                util.Finalize(None, _flush_if_alive, args=(this,), exitpriority=100)

    def _restore(self, store: Store) -> None:
        for data in store.journal()[-self.cap :]:
            self._rows.append((self._next_id, _row(data)))
            self._next_id += 1


def _flush_forever(journal: weakref.ref[Journal], stopped: threading.Event) -> None:
    while not stopped.wait(FLUSH_SECONDS) and _flush_if_alive(journal):
        pass


def _flush_if_alive(journal: weakref.ref[Journal]) -> bool:
    """Flush the journal if it still exists (False: it was collected)."""
    found = journal()
    if found is None:
        return False
    try:
        found.flush()
    except Exception:
        log.exception("could not write journal entries to the state file")
    return True


def _stored(row: Row) -> dict[str, Any]:
    return {
        name: list(value) if name == "task_ids" else value for name, value in zip(ROW_NAMES, row, strict=True)
    }


def _row(data: dict[str, Any]) -> Row:
    return tuple(tuple(data[name]) if name == "task_ids" else data[name] for name in ROW_NAMES)


def _entry(entry_id: int, row: Row) -> JournalEntry:
    time_us, face, operation, task_ids, user, outcome, http_status, entity, latency_ms = row
    time: datetime = from_us(time_us)
    return JournalEntry(
        time=time, face=face, operation=operation, task_ids=tuple(task_ids), user=user, outcome=outcome,
        http_status=http_status, latency_ms=latency_ms, id=entry_id, entity=entity,
    )  # fmt: skip
