"""Accounts and SOAP sessions.

A session is the ``vmware_soap_session`` cookie of a vim25 client: Login creates it, Logout, its
lifetime on the mock's clock (an event on the registry's schedule) and reset end it, and with it
everything it owns (property collectors and filters, views, event collectors: served objects whose
``_session`` names it). Each session is an object of the registry stored under a hash of its key,
so the key itself (a secret) is never in the state, its file, the journal or a log line. (The SOAP
face's remembered answers are keyed by the cookie's value, in memory only, for as long as the
answer is remembered.)

How busy a session is (vim25 ``UserSession.callCount`` and ``lastActiveTime``) is counted on every
call, answers from memory included; it is kept beside the state, not in it (a count is not a change
any answer but the session's own depends on), and reading it marks that answer volatile.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vismock.errors import VismockError
from vismock.faults import InvalidState
from vismock.mockserver.state.registry import ManagedObject, Registry

DEFAULT_ACCOUNTS: Mapping[str, str] = {"vismock": "vismock"}
OBJECTS_PER_SESSION = 10_000
SESSION_PREFIX = "session:"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session as vim25's UserSession shows it (never its key: a hash of it)."""

    key_hash: str
    user: str
    login_us: int
    last_active_us: int
    calls: int
    ip: str
    agent: str


class Session(ManagedObject):
    """``user``, ``login_us``, ``ip``, ``agent``; its id is ``session:`` and the hash of its key."""

    vim_type = "vismock.Session"
    served = False

    @property
    def user(self) -> str:
        return str(self._props["user"])

    @property
    def key_hash(self) -> str:
        return self.id[len(SESSION_PREFIX) :]

    @property
    def login_us(self) -> int:
        return int(self._props["login_us"])

    def added(self) -> None:
        self._schedule_expiry()

    def restored(self) -> None:
        self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        lifetime = self._props.get("lifetime_us")
        if lifetime is not None:
            # Alive through the last microsecond of its lifetime, gone after it.
            self.state.schedule(self.login_us + int(lifetime) + 1, self._expire)

    def _expire(self, _due_us: int) -> None:
        if self.state.find(self.id) is self:
            end_session(self.state, self)

    def owned(self) -> list[ManagedObject]:
        """The served objects this session made (collectors, filters, views...), oldest first."""
        return [obj for obj in self.state.all(ManagedObject) if obj.get("_session") == self.id]


def end_session(registry: Registry, session: Session) -> None:
    """The session and everything it owns are gone (inside a transaction)."""
    for obj in session.owned():
        registry.remove(obj)
    registry.remove(session)


class Sessions:
    """The accounts, and the sessions in the registry with their activity."""

    def __init__(
        self,
        registry: Registry,
        *,
        accounts: Mapping[str, str] | None = None,
        cap: int = 10_000,
        lifetime: float | None = None,
    ) -> None:
        """*cap*: sessions a user may hold at once (a new login beyond it ends that user's least
        recently active one: nobody can log others out); *lifetime*: seconds of mock-clock time
        after which a session ends (None: never)."""
        if cap < 1:
            raise VismockError(f"session_cap must be at least 1, not {cap}")
        if lifetime is not None and not lifetime > 0:
            raise VismockError(f"session_lifetime must be positive seconds or None, not {lifetime}")
        self._registry = registry
        self._accounts = dict(accounts) if accounts is not None else dict(DEFAULT_ACCOUNTS)
        self.cap = cap
        self._lifetime_us = None if lifetime is None else round(lifetime * 1_000_000)
        self._activity: dict[str, tuple[int, int]] = {}  # key hash -> (calls, last active µs)
        self._activity_lock = threading.Lock()

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
        """A new session key (the vmware_soap_session cookie value) for *user*."""
        key = secrets.token_hex(20)
        registry = self._registry
        with registry.transaction():
            mine = [s for s in registry.all(Session) if s.user == user]
            if len(mine) >= self.cap:
                end_session(registry, min(mine, key=self._last_active))
            props: dict[str, Any] = {"user": user, "login_us": registry.now_us(), "ip": ip, "agent": agent}
            if self._lifetime_us is not None:
                props["lifetime_us"] = self._lifetime_us
            registry.add(Session(SESSION_PREFIX + key_hash(key), props))
        return key

    def session(self, key: str) -> Session | None:
        """The live session of cookie *key* (None: unknown, ended or expired)."""
        found = self._registry.find(SESSION_PREFIX + key_hash(key))
        return found if isinstance(found, Session) else None

    def user(self, key: str) -> str | None:
        session = self.session(key)
        return None if session is None else session.user

    def touch(self, session: Session) -> None:
        """One call more of *session*, active now (beside the state: no revision)."""
        with self._activity_lock:
            calls, _ = self._activity.get(session.key_hash, (0, 0))
            self._activity[session.key_hash] = (calls + 1, self._registry.now_us())

    def _last_active(self, session: Session) -> int:
        return max(self._activity.get(session.key_hash, (0, 0))[1], session.login_us)

    def info(self, session: Session) -> SessionInfo:
        """*session* as UserSession shows it (its activity read: a volatile answer)."""
        self._registry.note_volatile()
        calls, active = self._activity.get(session.key_hash, (0, session.login_us))
        props = session.props
        return SessionInfo(
            session.key_hash, session.user, session.login_us, max(active, session.login_us), calls,
            str(props.get("ip", "")), str(props.get("agent", "")),
        )  # fmt: skip

    def live(self) -> list[SessionInfo]:
        """Every live session, oldest first."""
        return [self.info(session) for session in self._registry.all(Session)]

    def end(self, session: Session) -> None:
        """Logout: the session and everything it owns are gone."""
        with self._registry.transaction():
            end_session(self._registry, session)
        with self._activity_lock:
            self._activity.pop(session.key_hash, None)

    def forget_activity(self) -> None:
        with self._activity_lock:
            self._activity.clear()

    # -- what a session owns

    def check_room(self, session: Session) -> None:
        """InvalidState when *session* keeps :data:`OBJECTS_PER_SESSION` objects: a client that
        never destroys what it creates would grow the state."""
        owned = session.owned()
        if len(owned) >= OBJECTS_PER_SESSION:
            raise InvalidState(
                f"The session keeps {len(owned)} objects (collectors, filters, views, event collectors),"
                " the most vismock allows; destroy some first"
            )
