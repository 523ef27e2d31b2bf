"""SessionManager: Login (the ``vmware_soap_session`` cookie), Logout, SessionIsActive,
``currentSession`` (readable without a session, as on vCenter: unset then), ``sessionList`` and
the locales."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from vismock.faults import InvalidLogin
from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.state.clock import from_us
from vismock.mockserver.state.registry import ManagedObject, derived
from vismock.mockserver.state.sessions import Session, SessionInfo, Sessions
from vismock.mockserver.vim25.values import Data

COOKIE_NAME = "vmware_soap_session"
LOCALE = "en"  # the one locale vismock's messages are in


class SessionManager(ManagedObject):
    vim_type = "SessionManager"
    permanent = True
    public_properties = frozenset({"currentSession"})

    def __init__(self, object_id: str = "SessionManager", props: Mapping[str, Any] | None = None) -> None:
        locales = {"defaultLocale": LOCALE, "supportedLocaleList": (LOCALE,), "messageLocaleList": (LOCALE,)}
        super().__init__(object_id, props or locales)

    def _sessions(self) -> Sessions:
        sessions: Sessions = self.state.backend.sessions
        return sessions

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        """``currentSession`` is the reader's (unset without one: a client checking a cached
        cookie reads it)."""
        return {"currentSession": None if session is None else user_session(self._sessions().info(session))}

    @derived
    def sessionList(self) -> tuple[Data, ...]:
        return tuple(user_session(info) for info in self._sessions().live())

    @vim_method("Login", authenticated=False)
    def login(self, ctx: Context, userName: str, password: str, locale: str | None = None) -> Data:
        sessions = ctx.backend.sessions
        if not userName or not sessions.check_login(userName, password):
            raise InvalidLogin()
        key = sessions.create(userName, ip=ctx.remote_addr, agent=ctx.user_agent)
        ctx.user = ctx.observation.user = userName  # type: ignore[attr-defined]
        ctx.headers.append(("Set-Cookie", f"{COOKIE_NAME}={key}; Path=/; HttpOnly"))
        session = sessions.session(key)
        assert session is not None  # just created
        sessions.touch(session)  # the Login is the session's first call
        return user_session(sessions.info(session))

    @vim_method("Logout")
    def logout(self, ctx: Context) -> None:
        ctx.backend.sessions.end(ctx.required_session())

    @vim_method("SessionIsActive")
    def session_is_active(self, ctx: Context, sessionID: str, userName: str) -> bool:
        session = ctx.backend.sessions.session(sessionID) if sessionID else None
        return session is not None and session.user == userName


def public_key(key_hash: str) -> str:
    """What UserSession.key shows of a session: a hash of its cookie, never the cookie itself
    (it identifies a session; it does not authenticate)."""
    return str(uuid.UUID(hex=key_hash[:32]))


def user_session(info: SessionInfo) -> Data:
    return Data(
        "UserSession",
        key=public_key(info.key_hash),
        userName=info.user,
        fullName=info.user,
        loginTime=from_us(info.login_us),
        lastActiveTime=from_us(info.last_active_us),
        locale=LOCALE,
        messageLocale=LOCALE,
        extensionSession=False,
        ipAddress=info.ip or "-",
        userAgent=info.agent,
        callCount=info.calls,
    )


__all__ = ["COOKIE_NAME", "Session", "SessionManager", "public_key", "user_session"]
