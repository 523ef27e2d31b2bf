"""The mock's clock: real time plus an offset, or frozen at an instant; shared by every worker.

Every lifecycle reads it, so tests are deterministic: freeze, add a task, advance. It never jumps
back by itself (resume keeps the offset); :meth:`Clock.freeze` at an earlier instant is the one
way back, and it asks the parts that keep times (the tasks) to stay consistent with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vismock.errors import VismockError
from vismock.mockserver.state import db

# Far from datetime's limits even with a timeline's offsets added.
CLOCK_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, tzinfo=UTC))
MAX_ADVANCE_SECONDS = 100 * 365 * 86_400  # a century: far past any timeline, far from datetime's limits

SCHEMA = (
    # One row: frozen_us set = frozen there; offset_us is added to real time otherwise.
    """CREATE TABLE IF NOT EXISTS clock (
        id INTEGER PRIMARY KEY CHECK (id = 1), frozen_us INTEGER, offset_us INTEGER NOT NULL DEFAULT 0)""",
    "INSERT OR IGNORE INTO clock (id, frozen_us, offset_us) VALUES (1, NULL, 0)",
)

Rewind = Callable[[sqlite3.Connection, int], None]
"""Called inside the transaction that sets the clock back to the given instant (microseconds)."""


class Clock:
    def __init__(self, database: db.Database, on_rewind: Rewind | None = None) -> None:
        self._db = database
        database.create_tables(SCHEMA)
        self.on_rewind = on_rewind
        self._cached: tuple[int, int | None, int] = (-1, None, 0)  # revision, frozen_us, offset_us

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("UPDATE clock SET frozen_us = NULL, offset_us = 0")

    # -- reading

    def now_us(self, conn: sqlite3.Connection | None = None) -> int:
        """Microseconds since the epoch on the mock's clock. With *conn*, read inside that
        transaction; without, from the row as of the current settings revision (no query between
        changes; a power operation's start leaves the clock row alone)."""
        if conn is not None:
            frozen_us, offset_us = conn.execute("SELECT frozen_us, offset_us FROM clock").fetchone()
            return db.clock_now_us(frozen_us, offset_us)
        revision = self._db.revision.settings()  # before reading: a later change moves it again
        cached_revision, frozen_us, offset_us = self._cached
        if cached_revision != revision:
            frozen_us, offset_us = (
                self._db.connection().execute("SELECT frozen_us, offset_us FROM clock").fetchone()
            )
            self._cached = (revision, frozen_us, offset_us)
        return db.clock_now_us(frozen_us, offset_us)

    def now(self) -> datetime:
        """The mock's clock (aware UTC): real time unless frozen, plus any advance."""
        return db.from_us(self.now_us())

    def state(self) -> dict[str, Any]:
        """``{"now": datetime, "frozen": bool, "offset_seconds": float}`` for the admin API."""
        frozen_us, offset_us = (
            self._db.connection().execute("SELECT frozen_us, offset_us FROM clock").fetchone()
        )
        now_us = db.clock_now_us(frozen_us, offset_us)
        return {
            "now": db.from_us(now_us),
            "frozen": frozen_us is not None,
            "offset_seconds": (now_us - db.real_time_us()) / 1_000_000,
        }

    # -- moving it

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at *at* (aware) or at the current mock time.

        *at* may lie before the clock (tests pin a fixed instant): then ``on_rewind`` makes every
        part that recorded times after *at* consistent with it (see Tasks.rewind).
        """
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise VismockError("freeze(at=...) needs an aware datetime (with a time zone)")
        if at is not None and not CLOCK_RANGE[0] <= at <= CLOCK_RANGE[1]:
            raise VismockError(f"freeze(at={at.isoformat()}): the clock stays within years 1970..8999")
        with self._db.write() as tx:
            frozen_us = db.to_us(at) if at is not None else self.now_us(tx)
            if frozen_us < self.now_us(tx) and self.on_rewind is not None:
                self.on_rewind(tx, frozen_us)
            tx.execute("UPDATE clock SET frozen_us = ?", (frozen_us,))
        return db.from_us(frozen_us)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (frozen or running) by *seconds* (>= 0)."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise VismockError(
                f"advance({seconds!r}): the clock moves forward by 0..{MAX_ADVANCE_SECONDS} seconds at a time"
            )
        delta_us = round(seconds * 1_000_000)
        with self._db.write() as tx:
            tx.execute(
                "UPDATE clock SET frozen_us = frozen_us + ?, offset_us = CASE WHEN frozen_us IS NULL"
                " THEN offset_us + ? ELSE offset_us END",
                (delta_us, delta_us),
            )
            now = db.from_us(self.now_us(tx))
            if now > CLOCK_RANGE[1]:
                raise VismockError(f"advance({seconds!r}) would take the clock past year 8999")
            return now

    def resume(self) -> datetime:
        """Let the clock run again from where it stands (it never jumps backwards)."""
        with self._db.write() as tx:
            now_us = self.now_us(tx)
            tx.execute("UPDATE clock SET frozen_us = NULL, offset_us = ?", (now_us - db.real_time_us(),))
        return db.from_us(now_us)
