"""Accounts, SOAP sessions and what each session owns (its property filters).

A session is the ``vmware_soap_session`` cookie of a vim25 client: Login creates it, Logout and
reset end it, and with it everything it owns. Filters are stored as the SOAP face hands them over
(opaque JSON): this part knows who owns what, not what it means.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import uuid
from collections.abc import Mapping

from vismock.errors import VismockError
from vismock.mockserver.state import db
from vismock.mockserver.state.clock import Clock

DEFAULT_ACCOUNTS: Mapping[str, str] = {"vismock": "vismock"}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        key TEXT PRIMARY KEY, user TEXT NOT NULL, created_us INTEGER NOT NULL)""",
    # A session's property filters (opaque to the state: the SOAP face's JSON).
    """CREATE TABLE IF NOT EXISTS soap_filters (
        id TEXT PRIMARY KEY, session TEXT NOT NULL, spec TEXT NOT NULL, partial INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS soap_filters_session ON soap_filters (session)",
)
_SELECT_SESSION = "SELECT user, created_us FROM sessions WHERE key = ?"


class Sessions:
    def __init__(
        self,
        database: db.Database,
        clock: Clock,
        *,
        accounts: Mapping[str, str] | None = None,
        cap: int = 10_000,
        lifetime: float | None = None,
    ) -> None:
        """*accounts* None: vismock/vismock. *cap*: at most that many sessions are kept (the
        oldest end: clients that never log out would grow the store); *lifetime*: seconds of
        mock-clock time after which a session is no longer accepted (None: never)."""
        if cap < 1:
            raise VismockError(f"session_cap must be at least 1, not {cap}")
        if lifetime is not None and not lifetime > 0:
            raise VismockError(f"session_lifetime must be positive seconds or None, not {lifetime}")
        self._db = database
        self._clock = clock
        database.create_tables(SCHEMA)
        self._accounts = dict(accounts) if accounts is not None else dict(DEFAULT_ACCOUNTS)
        self._cap = cap
        self._lifetime_us = None if lifetime is None else round(lifetime * 1_000_000)

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM sessions")
        tx.execute("DELETE FROM soap_filters")

    @property
    def expire(self) -> bool:
        """True when sessions end after a lifetime on the mock's clock (so a session's user can change)."""
        return self._lifetime_us is not None

    # -- accounts

    def check_login(self, user: str, password: str) -> bool:
        expected = self._accounts.get(user)
        # Compare in constant time, and spend the same effort for unknown users.
        reference = (expected if expected is not None else password + "\0").encode()
        return hmac.compare_digest(reference, password.encode()) and expected is not None

    def default_user(self) -> str:
        """The first account: who the adapter's configured account is when a request names none."""
        return next(iter(self._accounts), "")

    # -- sessions

    def create(self, user: str) -> str:
        """A new session key (the vmware_soap_session cookie value)."""
        key = secrets.token_hex(20)
        with self._db.write() as tx:
            cursor = tx.execute(
                "INSERT INTO sessions (key, user, created_us) VALUES (?, ?, ?)",
                (key, user, self._clock.now_us(tx)),
            )
            newest = cursor.lastrowid or 0
            ended = [
                row[0]
                for row in tx.execute("SELECT key FROM sessions WHERE rowid <= ?", (newest - self._cap,))
            ]
            for old in ended:
                self._end(tx, old)
        return key

    def user(self, key: str) -> str | None:
        """The user of a live session, or None for unknown / ended / expired keys."""
        row = self._db.connection().execute(_SELECT_SESSION, (key,)).fetchone()
        if row is None:
            return None
        user, created_us = row
        if self._lifetime_us is not None and self._clock.now_us() - created_us > self._lifetime_us:
            return None
        return str(user)

    def end(self, key: str) -> None:
        """Logout: the session and everything it owns are gone."""
        with self._db.write() as tx:
            self._end(tx, key)

    @staticmethod
    def _end(tx: sqlite3.Connection, key: str) -> None:
        tx.execute("DELETE FROM sessions WHERE key = ?", (key,))
        tx.execute("DELETE FROM soap_filters WHERE session = ?", (key,))

    # -- property filters (owned by a session; not task state: writing them leaves the revision)

    def add_filter(self, session: str, spec: str, partial: bool) -> str:
        filter_id = f"filter-{uuid.uuid4().hex}"
        with self._db.write(changes_state=False) as tx:
            tx.execute(
                "INSERT INTO soap_filters (id, session, spec, partial) VALUES (?, ?, ?, ?)",
                (filter_id, session, spec, int(partial)),
            )
        return filter_id

    def remove_filter(self, session: str, filter_id: str) -> bool:
        with self._db.write(changes_state=False) as tx:
            cursor = tx.execute("DELETE FROM soap_filters WHERE id = ? AND session = ?", (filter_id, session))
            return cursor.rowcount > 0

    def filters(self, session: str) -> list[tuple[str, str]]:
        """(filter id, spec) of the session's filters, oldest first."""
        rows = self._db.connection().execute(
            "SELECT id, spec FROM soap_filters WHERE session = ? ORDER BY rowid", (session,)
        )
        return [(str(filter_id), str(spec)) for filter_id, spec in rows]
