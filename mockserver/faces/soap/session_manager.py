"""SessionManager: Login (the ``vmware_soap_session`` cookie), Logout, SessionIsActive,
``currentSession`` (readable without a session, as on vCenter: unset then), ``sessionList`` and
the locales."""

from __future__ import annotations

import hashlib
import uuid

from vismock.faults import InvalidLogin
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.service_instance import SESSION_MANAGER
from vismock.mockserver.faces.soap.wire import MoRef, Value
from vismock.mockserver.state.db import from_us
from vismock.mockserver.state.sessions import SessionInfo

COOKIE_NAME = "vmware_soap_session"
LOCALE = "en"  # the one locale vismock's messages are in

session_manager = managed_type("SessionManager", singleton=SESSION_MANAGER.value)


@session_manager.method("Login", authenticated=False)
def login(call: Call) -> Value:
    user = call.soap.text("userName") or ""
    password = call.soap.text("password") or ""
    if not user or not call.backend.sessions.check_login(user, password):
        raise InvalidLogin()
    key = call.backend.sessions.create(user, ip=call.request.remote_addr, agent=call.request.user_agent)
    call.observation.user = user
    call.headers.append(("Set-Cookie", f"{COOKIE_NAME}={key}; Path=/; HttpOnly"))
    info = call.backend.sessions.info(key)
    assert info is not None  # just created
    return user_session(call, info)


@session_manager.method("Logout")
def logout(call: Call) -> None:
    call.backend.sessions.end(call.required_session())


@session_manager.method("SessionIsActive")
def session_is_active(call: Call) -> Value:
    key = call.soap.text("sessionID") or ""
    user = call.soap.text("userName") or ""
    return wire.text_value(
        "xsd:boolean", wire.bool_text(bool(key) and call.backend.sessions.user(key) == user)
    )


@session_manager.property("currentSession", default=True, public=True)
def current_session(call: Call, ref: MoRef, loaded: object) -> Value | None:
    """The caller's session; unset without one (a client checking a cached cookie reads this)."""
    call.observation.not_remembered()  # its callCount and lastActiveTime move with every call
    info = call.backend.sessions.info(call.session) if call.session else None
    return None if info is None else user_session(call, info)


@session_manager.property("sessionList", default=True)
def session_list(call: Call, ref: MoRef, loaded: object) -> Value:
    call.observation.not_remembered()
    return wire.data_array("UserSession", [user_session(call, info) for info in call.backend.sessions.live()])


@session_manager.property("defaultLocale", default=True)
def default_locale(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.text_value("xsd:string", LOCALE)


@session_manager.property("supportedLocaleList", default=True)
def supported_locales(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.string_array([LOCALE])


@session_manager.property("messageLocaleList", default=True)
def message_locales(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.string_array([LOCALE])


def public_key(key: str) -> str:
    """What UserSession.key shows of a session: a hash of its cookie, never the cookie itself
    (it identifies a session; it does not authenticate)."""
    return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16]))


def user_session(call: Call, info: SessionInfo) -> Value:
    call.observation.not_remembered()  # it shows the session's activity now
    return wire.data_object(
        "UserSession",
        [
            ("key", public_key(info.key)),
            ("userName", info.user),
            ("fullName", info.user),
            ("loginTime", wire.format_datetime(from_us(info.login_us))),
            ("lastActiveTime", wire.format_datetime(from_us(info.last_active_us))),
            ("locale", LOCALE),
            ("messageLocale", LOCALE),
            ("extensionSession", "false"),
            ("ipAddress", info.ip or "-"),
            ("userAgent", info.agent),
            ("callCount", str(info.calls)),
        ],
    )
