"""The vim25 SOAP face: ``/sdk`` (and ``/sdk/vim``) for pyVmomi, govc and the adapter operation.

One dispatcher over the managed object types (one module each, see :mod:`.objects`): it parses
the call, checks the session, applies fault rules, finds the method on the ``_this`` object's
type and renders what the handler returns. A fault is a SOAP fault whose ``<{Type}Fault>``
detail pyVmomi and govmomi turn into typed exceptions (HTTP 500, as vCenter).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lxml import etree

from vismock.faults import InvalidRequest, MethodNotFound, NotAuthenticated, VimFault, fault_named
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.faces.common import (
    FaceRequest,
    Observation,
    Reply,
    cookie_value,
    fault_reply,
    injected_fault,
)
from vismock.mockserver.faces.soap import (  # noqa: F401  (each module registers its type)
    entities,
    event_manager,
    property_collector,
    search_index,
    service_instance,
    session_manager,
    task,
    task_manager,
    view_manager,
    virtual_machine,
    wire,
)
from vismock.mockserver.faces.soap.objects import Answer, Call, Method, callable_without_session, method_of
from vismock.mockserver.faces.soap.session_manager import COOKIE_NAME
from vismock.mockserver.faces.soap.wire import MoRef, SoapRequest, Value
from vismock.mockserver.state.models import Face as FaceName

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.mockserver")

PATHS = ("/sdk", "/sdk/vim")
CONTENT_TYPE = "text/xml; charset=utf-8"
INTERNAL_ERROR = "vismock could not answer this call (internal error; see the server log)"
PARSED_CALLS = 256
MAX_PARSED_BODY = 8 * 1024


class SoapFace:
    name: FaceName = "soap"

    def __init__(self) -> None:
        # A client polling a task sends the same bytes again and again: parse small bodies once
        # (the tree is only read afterwards, never changed).
        self._parsed: BoundedCache[bytes, SoapRequest] = BoundedCache(PARSED_CALLS)

    def memo_key(self, environ: Mapping[str, Any], body: bytes) -> Hashable | None:
        return (self.name, body, cookie_value(environ.get("HTTP_COOKIE", ""), COOKIE_NAME))

    def answer(self, request: FaceRequest, observation: Observation, services: Services) -> Reply:
        try:
            soap = self.parsed(request.body)
        except VimFault as fault:
            observation.outcome = fault.fault_type
            return self.fault(fault)
        observation.operation = soap.method
        observation.task_ids = tuple(requested_task_ids(soap))
        if soap.this is not None and soap.this.type in wire.MANAGED_ENTITY_TYPES:
            observation.entity = soap.this.value  # the journal says which entity a call acted on
        try:
            return self._dispatch(request, soap, observation, services)
        except VimFault as fault:
            observation.outcome = fault.fault_type
            return self.fault(fault, context=soap.this)
        except Exception:
            log.exception("SOAP face: unexpected error answering %s", soap.method)
            observation.outcome = "SystemError"
            observation.not_remembered()
            return self.fault(fault_named("SystemError", INTERNAL_ERROR), context=soap.this)

    def _dispatch(
        self, request: FaceRequest, soap: SoapRequest, observation: Observation, services: Services
    ) -> Reply:
        session = cookie_value(request.cookie, COOKIE_NAME)
        user = services.backend.sessions.user(session) if session else None
        observation.user = user
        if session is not None and user is not None:
            services.backend.sessions.touch(session)  # UserSession.callCount, lastActiveTime
        method = method_of(soap.this, soap.method)
        if user is None and not callable_without_session(soap.method):
            raise NotAuthenticated()
        rule = injected_fault(observation, services)
        if rule is not None:
            return fault_reply(observation, rule, self)
        if method is None or soap.this is None:
            raise MethodNotFound(soap.method)
        if not method.remembered:
            observation.not_remembered()
        call = Call(services, request, soap, observation, session if user else None, user)
        body = wire.response_envelope(soap.method, _filler(method, method.handler(call)))
        return Reply(200, body, CONTENT_TYPE, tuple(call.headers))

    def recalled(self, environ: Mapping[str, Any], services: Services) -> None:
        session = cookie_value(environ.get("HTTP_COOKIE", ""), COOKIE_NAME)
        if session is not None:
            services.backend.sessions.touch(session)  # remembered only while the session lives

    def parsed(self, body: bytes) -> SoapRequest:
        found = self._parsed.get(body)
        if found is None:
            found = wire.parse_request(body)  # raises for a bad body: nothing kept
            if len(body) <= MAX_PARSED_BODY and found.method != "Login":  # no password kept around
                self._parsed.put(body, found)
        return found

    # -- the face's own words

    def fault(self, fault: VimFault, *, context: MoRef | None = None) -> Reply:
        return Reply(500, wire.fault_envelope(fault, context=context), CONTENT_TYPE)

    def error(self, fault_type: str, message: str) -> Reply:
        return self.fault(fault_named(fault_type, message))

    def too_large(self, limit: int) -> Reply:
        return self.fault(InvalidRequest(f"The request body is larger than the limit of {limit} bytes"))

    def internal_error(self) -> Reply:
        return self.fault(fault_named("SystemError", INTERNAL_ERROR))


def _filler(method: Method, answer: Answer) -> wire.Fill | None:
    """How the response element holds *answer*: no returnval, one, or one per value."""
    if answer is None:
        return None
    values: Sequence[Value] = [answer] if isinstance(answer, Value) else answer

    def fill(response: etree._Element) -> None:
        for value in values:
            if method.typed:
                wire.sub_value(response, "returnval", value)
            else:
                value.fill(wire.sub(response, "returnval"))

    return fill


def requested_task_ids(soap: SoapRequest) -> list[str]:
    """The Task morefs a call names (its ``_this`` or spec objects), for the journal and fault rules."""
    ids = [(element.text or "").strip() for element in soap.call.iter() if element.get("type") == "Task"]
    return list(dict.fromkeys(ids))
