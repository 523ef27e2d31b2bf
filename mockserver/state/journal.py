"""The journal: every request the faces answered, as the tests read it back.

:class:`Journal` is the table (capped: the oldest entries go first); :class:`JournalWriter`
writes a process's entries to it, synchronously or written behind in batches. Passwords never get
here: an entry holds a user name only.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from vismock.errors import VismockError
from vismock.mockserver.cache import memoize
from vismock.mockserver.state import db
from vismock.mockserver.state.models import Face, JournalEntry

log = logging.getLogger("vismock.mockserver")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL, face TEXT NOT NULL,
        operation TEXT NOT NULL, task_ids TEXT NOT NULL, user TEXT, outcome TEXT NOT NULL,
        http_status INTEGER NOT NULL, entity TEXT, latency_ms REAL NOT NULL)""",
)
# Added after the first release: a state file made before it gains the column when opened.
ADDED_COLUMNS = (("entity", "TEXT"),)


class Journal:
    def __init__(self, database: db.Database, cap: int = 10_000) -> None:
        if cap < 1:
            raise VismockError(f"journal_cap must be at least 1, not {cap}")
        self._db = database
        self.cap = cap
        database.create_tables(SCHEMA)
        _add_missing_columns(database)

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM journal")

    def record(self, entry: JournalEntry) -> None:
        """Append; the oldest entries beyond ``cap`` are dropped."""
        self.record_many([entry])

    def record_many(self, entries: Sequence[JournalEntry]) -> None:
        """Append several entries in one transaction (one trim to ``cap`` at the end)."""
        self.record_rows([(entry.generation, row_of(entry)) for entry in entries])

    def record_rows(self, rows: Sequence[tuple[int | None, Row]]) -> None:
        """Append (generation, row) pairs as :func:`row_of` makes them. A row of a request that
        started before the last reset is left out: it belongs to a state now gone."""
        if not rows:
            return
        with self._db.write(changes_state=False) as tx:
            # Read in the transaction: a reset (which raises it in its own) is wholly before or after.
            generation = self._db.revision.generation()
            rows = [row for started_in, row in rows if started_in in (None, generation)]
            if not rows:
                return
            tx.executemany(
                "INSERT INTO journal (time_us, face, operation, task_ids, user, outcome, http_status,"
                " entity, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            newest = tx.execute("SELECT MAX(id) FROM journal").fetchone()[0] or 0
            tx.execute("DELETE FROM journal WHERE id <= ?", (newest - self.cap,))

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
        where, params = _filter(task, outcome, face, operation, entity)
        sql = (
            "SELECT id, time_us, face, operation, task_ids, user, outcome, http_status, entity, latency_ms"
            f" FROM journal{where} ORDER BY id DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        rows = self._db.connection().execute(sql, params).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def count(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        entity: str | None = None,
    ) -> int:
        where, params = _filter(task, outcome, face, operation, entity)
        row = self._db.connection().execute(f"SELECT COUNT(*) FROM journal{where}", params).fetchone()
        return int(row[0])

    def clear(self) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM journal")


Row = tuple[Any, ...]
"""A journal entry as stored: time_us, face, operation, task_ids (JSON), user, outcome, http_status,
entity, latency_ms (latency last: an answer given again from memory changes its time and latency)."""


def row_of(entry: JournalEntry) -> Row:
    return (
        db.to_us(entry.time),
        entry.face,
        entry.operation,
        ids_json(entry.task_ids),
        entry.user,
        entry.outcome,
        entry.http_status,
        entry.entity,
        entry.latency_ms,
    )


@memoize(1024)
def ids_json(task_ids: tuple[str, ...]) -> str:
    """The task ids as stored (a poller's entries repeat the same few)."""
    return json.dumps(list(task_ids))


def _filter(
    task: str | None, outcome: str | None, face: str | None, operation: str | None, entity: str | None = None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if task is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(journal.task_ids) WHERE value = ?)")
        params.append(task)
    for column, value in (("outcome", outcome), ("face", face), ("operation", operation), ("entity", entity)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    entry_id, time_us, face, operation, task_ids, user, outcome, http_status, entity, latency_ms = row
    return JournalEntry(
        time=db.from_us(time_us),
        face=face,
        operation=operation,
        task_ids=tuple(json.loads(task_ids)),
        user=user,
        outcome=outcome,
        http_status=http_status,
        latency_ms=latency_ms,
        id=entry_id,
        entity=entity,
    )


def _add_missing_columns(database: db.Database) -> None:
    with database.write(changes_state=False) as tx:
        present = {row[1] for row in tx.execute("PRAGMA table_info(journal)")}
        for name, kind in ADDED_COLUMNS:
            if name not in present:
                tx.execute(f"ALTER TABLE journal ADD COLUMN {name} {kind}")


class JournalWriter:
    """Writes journal entries for one process, in one of two modes.

    Synchronous (``flush_seconds`` None, the default): every caller returns only once
    its entry is committed, so a journal read that follows a response always sees
    it. Concurrent callers share transactions (group commit): whoever holds the
    write lock writes every entry queued so far, and threads queue on a Python lock
    instead of colliding inside SQLite, whose busy handler sleeps whole milliseconds.

    Write-behind (``flush_seconds`` set; ``vismock serve`` uses 5 ms): entries are
    queued and a background thread commits them in batches at least that often,
    taking the journal's SQLite write off the request path. Readers call
    :meth:`settle` first: it flushes this process's queue and waits long enough for
    every other worker's flusher to have run. At most ``max_pending`` entries wait;
    beyond that a caller writes synchronously (memory stays bounded).
    """

    def __init__(
        self, journal: Journal, flush_seconds: float | None = None, max_pending: int = 10_000
    ) -> None:
        self.journal = journal
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        # Appends and pops of a deque are atomic: a request queues its entry without a lock.
        self._queue: deque[tuple[int | None, Row]] = deque()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0

    def record(self, entry: JournalEntry) -> None:
        self.record_row(entry.generation, row_of(entry))

    def record_row(self, generation: int | None, row: Row) -> None:
        """Queue one row as :func:`row_of` makes it (the hot path makes it without an entry)."""
        self._queue.append((generation, row))
        if self.flush_seconds is None or len(self._queue) > self.max_pending:
            self.flush()
        else:
            self._ensure_flusher()

    def flush(self) -> None:
        """Commit everything queued so far in this process (returns once it is written)."""
        with self._write_lock:
            batch = []
            while self._queue:
                batch.append(self._queue.popleft())
            if batch:
                self._write(batch)

    def settle(self) -> None:
        """Before reading the journal: this process's entries written, other workers' too."""
        self.flush()
        if self.flush_seconds is not None:
            time.sleep(3 * self.flush_seconds)

    def _write(self, batch: list[tuple[int | None, Row]]) -> None:
        self.journal.record_rows(batch)

    def _ensure_flusher(self) -> None:
        if self._flusher is not None and self._flusher_pid == db.current_pid():
            return
        with self._start_lock:  # one flusher per process (a forked child starts its own)
            if self._flusher is None or self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="vismock-journal", daemon=True
                )
                self._flusher.start()
                atexit.register(self.flush)

    def _flush_forever(self) -> None:
        interval = self.flush_seconds or 0.005
        while True:
            time.sleep(interval)
            try:
                self.flush()
            except Exception:
                log.exception("could not write journal entries")
