"""SessionManager: Login (the ``vmware_soap_session`` cookie), Logout, SessionIsActive, currentSession."""

from __future__ import annotations

import hashlib

from lxml import etree

from vismock.faults import InvalidLogin
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.service_instance import SESSION_MANAGER
from vismock.mockserver.faces.soap.wire import MoRef, Value

COOKIE_NAME = "vmware_soap_session"

session_manager = managed_type("SessionManager", singleton=SESSION_MANAGER.value)


@session_manager.method("Login", authenticated=False)
def login(call: Call) -> Value:
    user = call.soap.text("userName") or ""
    password = call.soap.text("password") or ""
    if not user or not call.backend.sessions.check_login(user, password):
        raise InvalidLogin()
    key = call.backend.sessions.create(user)
    call.observation.user = user
    call.headers.append(("Set-Cookie", f"{COOKIE_NAME}={key}; Path=/; HttpOnly"))
    return user_session(call, key, user)


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


@session_manager.property("currentSession", default=True)
def current_session(call: Call, ref: MoRef, loaded: object) -> Value | None:
    if call.session is None or call.user is None:
        return None
    return user_session(call, call.session, call.user)


def user_session(call: Call, key: str, user: str) -> Value:
    now = wire.format_datetime(call.backend.clock.now())
    call.observation.not_remembered()  # it shows the time now

    def fill(element: etree._Element) -> None:
        # The key is a hash of the cookie, never the cookie itself: it identifies, it does not authenticate.
        wire.sub(element, "key", hashlib.sha256(key.encode()).hexdigest()[:36])
        wire.sub(element, "userName", user)
        wire.sub(element, "fullName", user)
        wire.sub(element, "loginTime", now)
        wire.sub(element, "lastActiveTime", now)
        wire.sub(element, "locale", "en")
        wire.sub(element, "messageLocale", "en")
        wire.sub(element, "extensionSession", "false")
        wire.sub(element, "ipAddress", call.request.remote_addr)
        wire.sub(element, "userAgent", call.request.user_agent)
        wire.sub(element, "callCount", "0")

    return Value("UserSession", fill)
