"""``--db FILE``: the state written through to SQLite, and read back at start.

The registry (:mod:`.registry`) keeps the state in memory; with a store, every transaction that
changed objects writes them here (one SQLite transaction, each changed object's row replaced or
deleted) before it ends, so before the answer acknowledging the change is sent. A server killed at
any moment restarts from the file with every acknowledged change. The journal is written behind
(see :class:`~.journal.Journal`): it records requests, it is not state answers depend on.

Rows hold an object's class (its ``vim_type``) and its properties in the stored form of
:mod:`.stored`. Secrets never reach the file: sessions are stored under a hash of their key.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vismock.errors import VismockError
from vismock.mockserver.state import stored

if TYPE_CHECKING:
    from vismock.mockserver.state.registry import ManagedObject

FORMAT = "vismock-state-2"  # the layout of this file; another one is refused, not misread
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS objects (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)""",
)
_UPSERT = (
    "INSERT INTO objects (id, seq, kind, data) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, data = excluded.data"
)
_SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class StoreError(VismockError):
    """The file cannot be used as a state file (another program's database, another format)."""


class Store:
    """One SQLite file in WAL mode, written by the one server process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # NORMAL in WAL mode: a COMMIT is in the WAL file when it returns, so a change survives
            # the death of the process (kill -9); only an OS crash may lose the last commits.
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._check_format()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a vismock state file ({error})") from None
        self._seq = self._max_seq()

    def _check_format(self) -> None:
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path}: not a vismock state file (tables: {', '.join(sorted(tables))})")
        for statement in SCHEMA:
            self._conn.execute(statement)
        found = self.meta("format")
        if found is None and not (tables - {"meta"}):
            self.set_meta({"format": FORMAT})
        elif found != FORMAT:
            raise StoreError(
                f"{self.path}: a state file of another vismock version ({found or 'unknown format'});"
                " remove it or give another --db"
            )

    def _max_seq(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()
        return int(row[0])

    # -- objects

    def write(self, changed: Mapping[str, ManagedObject | None]) -> None:
        """Replace the rows of the objects *changed* names (None: the object was removed)."""
        rows, gone = [], []
        for object_id, obj in changed.items():
            if obj is None:
                gone.append((object_id,))
            else:
                self._seq += 1
                rows.append((object_id, self._seq, obj.vim_type, _data(obj)))
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM objects WHERE id = ?", gone)
            self._conn.executemany(_UPSERT, rows)

    def replace_all(self, objects: Iterable[ManagedObject], meta: Mapping[str, str] = {}) -> None:
        """The whole state at once (a scenario loaded, a reset), with *meta* set."""
        rows = [(obj.id, seq, obj.vim_type, _data(obj)) for seq, obj in enumerate(objects, 1)]
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM objects")
            self._conn.executemany(_UPSERT, rows)
            self._conn.executemany(_SET_META, list(meta.items()))
        self._seq = len(rows)

    def objects(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every stored object in the order it was first stored: (id, kind, properties)."""
        rows = self._conn.execute("SELECT id, kind, data FROM objects ORDER BY seq").fetchall()
        return [(object_id, kind, _props(data)) for object_id, kind, data in rows]

    # -- meta

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(_SET_META, list(values.items()))

    # -- the journal (written behind; see journal.Journal)

    def append_journal(self, entries: Sequence[Mapping[str, Any]], cap: int) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO journal (entry) VALUES (?)", [(json.dumps(entry),) for entry in entries]
            )
            newest = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM journal").fetchone()[0]
            self._conn.execute("DELETE FROM journal WHERE id <= ?", (newest - cap,))

    def journal(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT entry FROM journal ORDER BY id").fetchall()
        return [json.loads(text) for (text,) in rows]

    def clear_journal(self) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM journal")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _data(obj: ManagedObject) -> str:
    return json.dumps(
        {name: stored.encode(value) for name, value in obj.props.items()}, separators=(",", ":")
    )


def _props(data: str) -> dict[str, Any]:
    return {name: stored.decode(value) for name, value in json.loads(data).items()}
