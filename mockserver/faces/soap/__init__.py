"""The vim25 SOAP face: ``/sdk`` (and ``/sdk/vim``) for pyVmomi, govc, govmomi and the VIS
operations over SOAP.

One dispatcher for every method of every managed type (the types themselves, with their methods,
are :mod:`vismock.mockserver.objects`): it parses the call with the vim25 model (the arguments
typed by the method's declaration), checks the session, applies fault rules, finds ``_this`` in
the state and the method on its type, calls it inside one transaction of the state, and renders
what it returned by the method's declared return type. A fault is a SOAP fault whose
``<{Type}Fault>`` detail pyVmomi and govmomi turn into typed exceptions (HTTP 500, as vCenter).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from vismock.faults import (
    InvalidArgument,
    InvalidProperty,
    InvalidRequest,
    ManagedObjectNotFound,
    MethodNotFound,
    NotAuthenticated,
    NotSupported,
    VimFault,
    fault_named,
)
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.faces.common import (
    FaceRequest,
    Observation,
    Reply,
    cookie_value,
    fault_reply,
    injected_fault,
)
from vismock.mockserver.objects.base import EVERY_OBJECT, Context, Method
from vismock.mockserver.state.models import Face as FaceName
from vismock.mockserver.state.registry import KINDS, ManagedObject
from vismock.mockserver.vim25 import xml
from vismock.mockserver.vim25.typemodel import model
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.mockserver")

PATHS = ("/sdk", "/sdk/vim")
CONTENT_TYPE = "text/xml; charset=utf-8"
COOKIE_NAME = "vmware_soap_session"
INTERNAL_ERROR = "vismock could not answer this call (internal error; see the server log)"
PARSED_CALLS = 256
MAX_PARSED_BODY = 8 * 1024


class SoapFace:
    name: FaceName = "soap"

    def __init__(self) -> None:
        # A client polling a task sends the same bytes again and again: parse small bodies once
        # (a parsed call is immutable values only).
        self._parsed: BoundedCache[bytes, xml.SoapCall] = BoundedCache(PARSED_CALLS)

    def memo_key(self, environ: Mapping[str, Any], body: bytes) -> Hashable | None:
        return (self.name, body, cookie_value(environ.get("HTTP_COOKIE", ""), COOKIE_NAME))

    def answer(self, request: FaceRequest, observation: Observation, services: Services) -> Reply:
        try:
            call = self.parsed(request.body)
        except VimFault as fault:
            # vCenter reads the whole call before it checks the session (NotAuthenticated is the
            # method's own permission check): a call it cannot read is InvalidRequest, session or not.
            observation.outcome = fault.fault_type
            return self.fault(fault)
        observation.operation = call.method
        observation.task_ids = tuple(task_ids_of(call))
        if call.this is not None and model().is_subtype(call.this.type, "ManagedEntity"):
            observation.entity = call.this.value  # the journal says which entity a call acted on
        try:
            return self._dispatch(request, call, observation, services)
        except VimFault as fault:
            observation.outcome = fault.fault_type
            return self.fault(fault, context=call.this)
        except Exception:
            log.exception("SOAP face: unexpected error answering %s", call.method)
            observation.outcome = "SystemError"
            services.backend.registry.note_volatile()
            return self.fault(fault_named("SystemError", INTERNAL_ERROR), context=call.this)

    def _dispatch(
        self, request: FaceRequest, call: xml.SoapCall, observation: Observation, services: Services
    ) -> Reply:
        backend = services.backend
        cookie = cookie_value(request.cookie, COOKIE_NAME)
        session = backend.sessions.session(cookie) if cookie else None
        observation.user = session.user if session is not None else None
        if session is not None:
            backend.sessions.touch(session)  # UserSession.callCount, lastActiveTime
        method = method_of(call.this, call.method)
        if session is None and not callable_without_session(call.method):
            raise NotAuthenticated()
        rule = injected_fault(observation, services)
        if rule is not None:
            return fault_reply(observation, rule, self)
        if method is None or call.this is None or call.args is None:
            raise MethodNotFound(call.method)
        ctx = Context(
            backend,
            user=observation.user,
            session=session,
            observation=observation,
            remote_addr=request.remote_addr,
            user_agent=request.user_agent,
        )
        result = backend.invoke(call.this, call.method, context=ctx, **_arguments(method, call.args))
        return Reply(200, self.rendered(call, result), CONTENT_TYPE, tuple(ctx.headers))

    @staticmethod
    def rendered(call: xml.SoapCall, result: Any) -> bytes:
        """The response of *call* holding *result*, typed by the method's declared return."""
        assert call.this is not None
        declared = model().method(call.this.type, call.method)
        returns = declared.returns if declared is not None else None
        content = "" if returns is None else xml.render("returnval", result, returns.type, returns.array)
        return xml.response_envelope(call.method, content)

    def recalled(self, environ: Mapping[str, Any], services: Services) -> None:
        cookie = cookie_value(environ.get("HTTP_COOKIE", ""), COOKIE_NAME)
        session = services.backend.sessions.session(cookie) if cookie else None
        if session is not None:
            services.backend.sessions.touch(session)  # every call counts, answered from memory too

    def parsed(self, body: bytes) -> xml.SoapCall:
        found = self._parsed.get(body)
        if found is None:
            found = xml.parse_call(body)  # raises for a bad body: nothing kept
            if len(body) <= MAX_PARSED_BODY and found.method != "Login":  # no password kept around
                self._parsed.put(body, found)
        return found

    # -- the face's own words

    def fault(self, fault: VimFault, *, context: MoRef | None = None) -> Reply:
        return Reply(500, fault_envelope(fault, context), CONTENT_TYPE)

    def error(self, fault_type: str, message: str) -> Reply:
        return self.fault(fault_named(fault_type, message))

    def too_large(self, limit: int) -> Reply:
        return self.fault(InvalidRequest(f"The request body is larger than the limit of {limit} bytes"))

    def internal_error(self) -> Reply:
        return self.fault(fault_named("SystemError", INTERNAL_ERROR))


API_VERSION = "8.0.3.0"
PRIOR_API_VERSIONS = ("8.0.2.0", "8.0.1.0", "8.0.0.0", "7.0.3.0", "7.0.2.0", "7.0.1.0", "7.0", "6.7", "6.5")


def service_versions_document() -> bytes:
    """``/sdk/vimServiceVersions.xml``: which vim25 versions the face speaks."""
    prior = "".join(f"<version>{version}</version>" for version in PRIOR_API_VERSIONS)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<namespaces version="1.0"><namespace><name>urn:vim25</name>'
        f"<version>{API_VERSION}</version><priorVersions>{prior}</priorVersions></namespace></namespaces>\n"
    ).encode()


def fault_envelope(fault: VimFault, context: MoRef | None = None) -> bytes:
    """The SOAP fault of *fault* (a type vim25 does not know goes as SystemError naming it)."""
    fault_type = fault.fault_type if fault.fault_type in model().fault_types() else "SystemError"
    message = fault.message if fault_type == fault.fault_type else f"{fault.fault_type}: {fault.message}"
    fields: dict[str, Any] = dict(fault.fields())
    if fault_type == "ManagedObjectNotFound" and isinstance(fault, ManagedObjectNotFound):
        fields.setdefault("obj", MoRef(fault.mo_type, fault.mo_id))
    if fault_type == "MethodNotFound" and isinstance(fault, MethodNotFound):
        fields.setdefault("method", fault.method)
    if fault_type == "InvalidProperty" and isinstance(fault, InvalidProperty):
        fields.setdefault("name", fault.name)
    if fault_type == "InvalidArgument" and isinstance(fault, InvalidArgument) and fault.invalid_property:
        fields.setdefault("invalidProperty", fault.invalid_property)
    if fault_type == "NotAuthenticated":
        fields.setdefault("privilegeId", "System.View")
    return xml.fault_envelope(fault_type, fields, message, context=context)


# -- methods by type


def class_of(vim_type: str) -> type[ManagedObject]:
    """The class serving vim25 type *vim_type*: its own, else its nearest supertype's (a type the
    mock has no class for answers what every ManagedObject does: Fetch)."""
    for name in model().lineage(vim_type) if vim_type in model() else ():
        found = KINDS.get(name)
        if found is not None and found.served:
            return found
    return ManagedObject


def method_of(this: MoRef | None, name: str) -> Method | None:
    """The method *name* of *this*'s type (or a supertype's), None when it has none."""
    found: Method | None = class_of(this.type if this is not None else "ManagedObject").methods.get(name)
    return found or EVERY_OBJECT.get(name)


@cache
def callable_without_session(name: str) -> bool:
    """Whether some type offers method *name* without a session (Login...): such a call on the
    wrong object is MethodNotFound, not NotAuthenticated."""
    return any(
        not method.authenticated
        for cls in KINDS.values()
        for method_name, method in cls.methods.items()
        if method_name == name
    )


def _arguments(method: Method, given: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments the method takes; one it was sent but does not take is NotSupported
    (the mock says so rather than ignoring what a client asked for)."""
    accepted = _parameters(method.function)
    sent = {name: value for name, value in given.items() if value is not None}
    unsupported = sorted(name for name in sent if name not in accepted)
    if unsupported:
        raise NotSupported(f"vismock does not support the argument {unsupported[0]!r} of {method.name}")
    return sent


@cache
def _parameters(function: Callable[..., Any]) -> frozenset[str]:
    return frozenset(list(inspect.signature(function).parameters)[2:])  # after self, ctx


def task_ids_of(call: xml.SoapCall) -> Iterator[str]:
    """The Task morefs a call names (its ``_this`` or its arguments), for the journal and fault rules."""
    seen: set[str] = set()
    values: list[Any] = [call.this, *(call.args or {}).values()]
    while values:
        value = values.pop(0)
        if isinstance(value, MoRef):
            if value.type == "Task" and value.value not in seen:
                seen.add(value.value)
                yield value.value
        elif isinstance(value, Data):
            values.extend(value.fields().values())
        elif isinstance(value, tuple):
            values.extend(value)
