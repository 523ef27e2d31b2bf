"""Accounts, SOAP sessions and what each session owns (property collectors, filters, views, event
collectors).

A session is the ``vmware_soap_session`` cookie of a vim25 client: Login creates it, Logout and
reset end it, and with it everything it owns. What a session owns is stored as the SOAP face
hands it over (a kind, an owner, opaque JSON): this part knows who owns what, not what it means.
How busy a session is (its calls, its last activity) is counted in shared memory
(:mod:`.activity`), not in the database: every request touches it.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from vismock.errors import VismockError
from vismock.faults import InvalidState
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.state import db
from vismock.mockserver.state.activity import ActivityCounters, session_tag
from vismock.mockserver.state.clock import Clock

DEFAULT_ACCOUNTS: Mapping[str, str] = {"vismock": "vismock"}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        key TEXT PRIMARY KEY, user TEXT NOT NULL, created_us INTEGER NOT NULL)""",
    # What a session owns (opaque to the state: the SOAP face's JSON); *owner*: the object it
    # belongs to (a filter's collector), destroyed with it.
    """CREATE TABLE IF NOT EXISTS session_objects (
        id TEXT PRIMARY KEY, session TEXT NOT NULL, kind TEXT NOT NULL, owner TEXT, data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS session_objects_session ON session_objects (session, kind)",
    "DROP TABLE IF EXISTS soap_filters",  # before session_objects, filters had a table of their own
)
# Added to the sessions table after its first release: where the session's client is.
_CLIENT_COLUMNS = {"ip": "TEXT NOT NULL DEFAULT ''", "agent": "TEXT NOT NULL DEFAULT ''"}
_SELECT_SESSION = "SELECT user, created_us, rowid FROM sessions WHERE key = ?"
_SESSION_COLUMNS = "key, user, created_us, rowid, ip, agent"
SessionRow = tuple[str, int, int]  # user, created_us, rowid (its activity slot)
SLOTS_CACHE = 4096
OBJECTS_PER_SESSION = 10_000


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session as vim25's UserSession shows it (the key is the cookie: never show it)."""

    key: str
    user: str
    login_us: int
    last_active_us: int
    calls: int
    ip: str
    agent: str


@dataclass(frozen=True, slots=True)
class SessionObject:
    id: str
    kind: str
    owner: str | None
    data: str


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
        self._add_client_columns()
        self._accounts = dict(accounts) if accounts is not None else dict(DEFAULT_ACCOUNTS)
        self._cap = cap
        self._lifetime_us = None if lifetime is None else round(lifetime * 1_000_000)
        # A live session's rowid is within the newest *cap* ones: rowid modulo cap is its own slot.
        self._activity = ActivityCounters(database.path, cap)
        # Each live session's activity slot and tag, by key (what every call needs to count it).
        self._slots: BoundedCache[str, tuple[int, int]] = BoundedCache(SLOTS_CACHE)
        # Each key's stored row (user, created_us, rowid; None: no such session) as of a settings
        # revision: every SOAP call checks its session, and a power operation's start (the only
        # write most calls see) leaves sessions alone.
        self._rows: BoundedCache[str, tuple[int, SessionRow | None]] = BoundedCache(SLOTS_CACHE)

    def _add_client_columns(self) -> None:
        with self._db.write(changes_state=False) as tx:
            present = {row[1] for row in tx.execute("PRAGMA table_info(sessions)")}
            for column, declaration in _CLIENT_COLUMNS.items():
                if column not in present:
                    tx.execute(f"ALTER TABLE sessions ADD COLUMN {column} {declaration}")

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM sessions")
        tx.execute("DELETE FROM session_objects")

    def close(self) -> None:
        self._activity.close()

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

    def create(self, user: str, *, ip: str = "", agent: str = "") -> str:
        """A new session key (the vmware_soap_session cookie value); its client at *ip* says it
        is *agent* (its User-Agent)."""
        key = secrets.token_hex(20)
        with self._db.write() as tx:
            now_us = self._clock.now_us(tx)
            cursor = tx.execute(
                "INSERT INTO sessions (key, user, created_us, ip, agent) VALUES (?, ?, ?, ?, ?)",
                (key, user, now_us, ip, agent),
            )
            newest = cursor.lastrowid or 0
            ended = [
                row[0]
                for row in tx.execute("SELECT key FROM sessions WHERE rowid <= ?", (newest - self._cap,))
            ]
            for old in ended:
                self._end(tx, old)
            self._activity.start(newest, session_tag(key), now_us)
        self._slots.put(key, (newest, session_tag(key)))
        return key

    def user(self, key: str) -> str | None:
        """The user of a live session, or None for unknown / ended / expired keys."""
        row = self._row(key)
        if row is None:
            return None
        user, created_us, slot = row
        if self._lifetime_us is not None and self._clock.now_us() - created_us > self._lifetime_us:
            return None
        self._slot(key, slot)
        return str(user)

    def _row(self, key: str) -> SessionRow | None:
        """Session *key*'s stored row, read from SQLite once per settings revision."""
        revision = self._db.revision.settings()  # before reading: a later change moves it again
        found = self._rows.get(key)
        if found is not None and found[0] == revision:
            return found[1]
        row = self._db.connection().execute(_SELECT_SESSION, (key,)).fetchone()
        stored: SessionRow | None = None if row is None else (str(row[0]), int(row[1]), int(row[2]))
        self._rows.put(key, (revision, stored))
        return stored

    def touch(self, key: str) -> None:
        """One call more of live session *key*, active now (no database write)."""
        found = self._slots.get(key)
        if found is None:
            row = self._db.connection().execute(_SELECT_SESSION, (key,)).fetchone()
            if row is None:
                return
            found = self._slot(key, row[2])
        self._activity.touch(found[0], found[1], self._clock.now_us())

    def _slot(self, key: str, slot: int) -> tuple[int, int]:
        """The session's activity slot and tag, remembered."""
        found = self._slots.get(key)
        if found is None or found[0] != slot:
            found = self._slots.put(key, (slot, session_tag(key)))
        return found

    def info(self, key: str) -> SessionInfo | None:
        """Live session *key* as UserSession shows it; None when it is not live."""
        if self.user(key) is None:
            return None
        row = (
            self._db.connection()
            .execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else self._info(row)

    def live(self) -> list[SessionInfo]:
        """Every live session, oldest first."""
        rows = self._db.connection().execute(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY rowid")
        now_us = self._clock.now_us()
        return [
            self._info(row)
            for row in rows.fetchall()
            if self._lifetime_us is None or now_us - row[2] <= self._lifetime_us
        ]

    def _info(self, row: tuple[str, str, int, int, str, str]) -> SessionInfo:
        key, user, created_us, slot, ip, agent = row
        activity = self._activity.read(slot, session_tag(key))
        calls, active_us = (activity.calls, activity.last_active_us) if activity else (0, created_us)
        return SessionInfo(key, user, created_us, max(active_us, created_us), calls, ip, agent)

    def end(self, key: str) -> None:
        """Logout: the session and everything it owns are gone."""
        with self._db.write() as tx:
            self._end(tx, key)

    @staticmethod
    def _end(tx: sqlite3.Connection, key: str) -> None:
        tx.execute("DELETE FROM sessions WHERE key = ?", (key,))
        tx.execute("DELETE FROM session_objects WHERE session = ?", (key,))

    # -- what a session owns (not task state: writing it leaves the revision alone, so an answer
    #    that reads it must not be remembered)

    def add_object(
        self, session: str, object_id: str, kind: str, data: str, owner: str | None = None
    ) -> None:
        """Keep a new object of *session*; InvalidState when it already keeps
        :data:`OBJECTS_PER_SESSION` (a client that never destroys what it creates would grow the store)."""
        with self._db.write(changes_state=False) as tx:
            kept = tx.execute(
                "SELECT COUNT(*) FROM session_objects WHERE session = ?", (session,)
            ).fetchone()[0]
            if kept >= OBJECTS_PER_SESSION:
                raise InvalidState(
                    f"The session keeps {kept} objects (collectors, filters, views, event collectors),"
                    " the most vismock allows; destroy some first"
                )
            tx.execute(
                "INSERT INTO session_objects (id, session, kind, owner, data) VALUES (?, ?, ?, ?, ?)",
                (object_id, session, kind, owner, data),
            )

    def object(self, session: str, object_id: str) -> SessionObject | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT id, kind, owner, data FROM session_objects WHERE id = ? AND session = ?",
                (object_id, session),
            )
            .fetchone()
        )
        return None if row is None else SessionObject(*row)

    def objects(self, session: str, kind: str, owner: str | None = None) -> list[SessionObject]:
        """The session's objects of *kind* (owned by *owner*, when given), oldest first."""
        query = "SELECT id, kind, owner, data FROM session_objects WHERE session = ? AND kind = ?"
        parameters: tuple[str, ...] = (session, kind)
        if owner is not None:
            query, parameters = query + " AND owner = ?", (*parameters, owner)
        rows = self._db.connection().execute(query + " ORDER BY rowid", parameters)
        return [SessionObject(*row) for row in rows.fetchall()]

    def replace_object(self, session: str, object_id: str, data: str) -> bool:
        with self._db.write(changes_state=False) as tx:
            cursor = tx.execute(
                "UPDATE session_objects SET data = ? WHERE id = ? AND session = ?", (data, object_id, session)
            )
            return cursor.rowcount > 0

    def remove_object(self, session: str, object_id: str) -> bool:
        """Destroy one object and what it owns; False when the session has no such object."""
        with self._db.write(changes_state=False) as tx:
            tx.execute("DELETE FROM session_objects WHERE owner = ? AND session = ?", (object_id, session))
            cursor = tx.execute(
                "DELETE FROM session_objects WHERE id = ? AND session = ?", (object_id, session)
            )
            return cursor.rowcount > 0
