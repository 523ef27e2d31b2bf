"""The adapter face: ``POST /adapter`` answers a VIS adapter request as the adapter would.

The request's ``operation-name`` picks the operation (``vismock.adapter.operations``: one module
per catalog operation); it runs against the mock's state. Error rules:

* the body is not XML, not a valid ``<vmware-infrastructure-request>``, too large or not
  XML-typed: HTTP 4xx (400, 413, 415) with an error envelope whose ``error-detail`` elements
  list every problem (path, line, reason);
* the request is valid but the operation fails (unknown task, wrong password): HTTP 200 with
  ``status`` ``error``, the vim25 fault type and a message;
* anything unexpected inside the mock: HTTP 200, ``status`` ``error``, fault ``SystemError``
  (logged without the request body). Never an HTTP 500.

Every response body is produced by ``Codec.encode`` and so validates against the response schema.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vismock.adapter import operations
from vismock.adapter.operations import VirtualMachine, error_response
from vismock.codec import Codec, CodecError, ValidationIssue
from vismock.codec.parsing import ParseFailure
from vismock.faults import InvalidLogin, VimFault
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.faces.common import (
    FaceRequest,
    Observation,
    Reply,
    fault_reply,
    injected_fault,
    xml_media_type,
)
from vismock.mockserver.objects.base import Context, property_type
from vismock.mockserver.objects.search_index import SearchIndex
from vismock.mockserver.objects.virtual_machine import VirtualMachine as VmObject
from vismock.mockserver.state import Backend
from vismock.mockserver.state.models import Face as FaceName
from vismock.mockserver.vim25.values import MoRef
from vismock.schemas import REQUEST_ROOT

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.mockserver")

PATH = "/adapter"
CONTENT_TYPE = "text/xml; charset=utf-8"
NOT_XML = "the request is not well-formed XML"
INVALID_REQUEST = "the request is not a valid vmware-infrastructure-request"
PARSE_FAILURES = {
    "unsafe": "the request uses an XML feature refused on untrusted input (DTD or entities)",
    "size": "the request is too large",
}
INTERNAL_ERROR = "vismock could not answer this request (internal error; see the server log)"
# The last resort when even encoding an error envelope fails; valid against the response schema
# (tests check it).
FALLBACK_BODY = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<vmware-infrastructure-response><metadata>"
    b"<status>error</status><error>" + INTERNAL_ERROR.encode() + b"</error><fault>SystemError</fault>"
    b"</metadata></vmware-infrastructure-response>\n"
)
DECODED_REQUESTS = 1024
MAX_DECODED_BODY = 16 * 1024


class BadRequest(Exception):
    """The request cannot be read: answered with *status* and the located *issues*."""

    def __init__(self, status: int, message: str, issues: Iterable[ValidationIssue]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issues = tuple(issues)


class StateVCenter:
    """The mock's state as the vCenter an operation runs against, for *user*: the same vim25
    methods and properties the SOAP face serves, with a method's refusals raised (the adapter
    checks before it calls, so each is its own error envelope); notes which VM and task a request
    acted on (for the journal)."""

    def __init__(self, backend: Backend, observation: Observation, user: str | None = None) -> None:
        self._backend = backend
        self._observation = observation
        self._user = user

    def task_info(self, task_id: str) -> dict[str, Any]:
        return self._backend.tasks.info(task_id, poll=True)

    def virtual_machines(self, name: str) -> list[VirtualMachine]:
        found = [self._seen(vm) for vm in self._backend.registry.all(VmObject) if vm.name == name]
        if len(found) == 1:
            self._observation.entity = found[0].id
        return found

    @staticmethod
    def _seen(vm: VmObject) -> VirtualMachine:
        running = vm.running_task()
        return VirtualMachine(vm.id, vm.name, vm.power_state, vm.template, running.id if running else None)

    def read(self, ref: MoRef, path: str) -> Any:
        property_type(ref.type, path)  # InvalidProperty, as vCenter answers
        with self._backend.registry.transaction():
            return self._backend.lookup(ref).read(path)

    def find(self, inventory_path: str) -> MoRef | None:
        index = self._backend.registry.find("SearchIndex")
        assert isinstance(index, SearchIndex)
        with self._backend.registry.transaction():
            return index.find_by_inventory_path(self._context(), inventoryPath=inventory_path)

    def call(self, ref: MoRef, method: str, **args: Any) -> Any:
        result = self._backend.invoke(ref, method, context=self._context(), **args)
        return result.value if isinstance(result, MoRef) and result.type == "Task" else result

    def _context(self) -> Context:
        return Context(self._backend, user=self._user, observation=self._observation, refuse=True)


class AdapterFace:
    name: FaceName = "adapter"

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        # Pollers send the same small body again and again: decode it once.
        self._decoded: BoundedCache[bytes, dict[str, Any]] = BoundedCache(DECODED_REQUESTS)

    def memo_key(self, environ: Mapping[str, Any], body: bytes) -> Hashable | None:
        return (self.name, environ.get("CONTENT_TYPE", ""), body)

    def answer(self, request: FaceRequest, observation: Observation, services: Services) -> Reply:
        try:
            return self._answer(request, observation, services)
        except BadRequest as bad:
            observation.outcome = "invalid"
            return self.envelope(_invalid_response(bad), bad.status)
        except VimFault as fault:  # raised around the operation (a delay ended by a reset)
            observation.outcome = fault.fault_type
            services.backend.registry.note_volatile()
            return self.envelope(error_response(fault.message, fault.fault_type), 200)

    def _answer(self, request: FaceRequest, observation: Observation, services: Services) -> Reply:
        if not xml_media_type(request.content_type):
            media_type = request.content_type.split(";")[0].strip().lower()
            raise BadRequest(415, f"Content-Type {media_type!r} is not XML; send text/xml", ())
        data = self.decoded(request.body)
        observation.operation = str(data["operation-name"])
        observation.task_ids = tuple(operations.task_ids(data))
        user = str(data.get("user-name") or "").strip() or None
        observation.user = user
        rule = injected_fault(observation, services)
        if rule is not None:
            return fault_reply(observation, rule, self)
        response = self._operation_response(services.backend, data, user, observation)
        if response["metadata"]["status"] != "success":
            observation.outcome = str(response["metadata"].get("fault") or "error")
        return self.envelope(response, 200)

    @staticmethod
    def _operation_response(
        backend: Backend, data: Mapping[str, Any], user: str | None, observation: Observation
    ) -> dict[str, Any]:
        # An empty user-name means "the adapter's configured account": nothing to check.
        if user is not None and not backend.sessions.check_login(user, str(data.get("password") or "")):
            fault = InvalidLogin()
            return error_response(fault.message, fault.fault_type)
        vcenter = StateVCenter(backend, observation, user or backend.sessions.default_user())
        with backend.registry.transaction():  # the checks and the call at one instant, as one change
            return operations.respond(data, vcenter)

    def decoded(self, body: bytes) -> dict[str, Any]:
        """The decoded request in *body*, or BadRequest listing every problem."""
        found = self._decoded.get(body)
        if found is None:
            found = decode_request(self.codec, body)
            if len(body) <= MAX_DECODED_BODY:
                self._decoded.put(body, found)
        return found

    # -- the face's own words

    def envelope(self, data: Mapping[str, Any], status: int) -> Reply:
        """The response envelope of *data* (the fallback body if even encoding fails)."""
        try:
            body = self.codec.encode(data, root="vmware-infrastructure-response")
        except Exception:
            log.exception("adapter face: could not encode a response envelope")
            body, status = FALLBACK_BODY, 200 if status < 400 else status
        return Reply(status, body, CONTENT_TYPE)

    def error(self, fault_type: str, message: str) -> Reply:
        return self.envelope(error_response(message, fault_type), 200)

    def recalled(self, environ: Mapping[str, Any], services: Services) -> None:
        """Nothing to count: the adapter face has no sessions."""

    def too_large(self, limit: int) -> Reply:
        return self.envelope(error_response(f"request body is larger than the limit of {limit} bytes"), 413)

    def internal_error(self) -> Reply:
        return self.envelope(error_response(INTERNAL_ERROR, "SystemError"), 200)

    def http_error(self, code: int, name: str, hint: str) -> Reply:
        """An HTTP-level refusal of /adapter (such as GET: 405) as an error envelope."""
        return self.envelope(error_response(f"{code} {name}: {hint}"), code)


def decode_request(codec: Codec, body: bytes) -> dict[str, Any]:
    """The decoded request in *body*, or BadRequest listing every problem."""
    try:
        tree = codec.parse(body)
    except ParseFailure as failure:
        raise BadRequest(400, PARSE_FAILURES.get(failure.issue.kind, NOT_XML), [failure.issue]) from None
    root = tree.getroot()
    if root.tag != REQUEST_ROOT:
        issue = ValidationIssue(
            reason=f"root element is {root.tag!r}; expected {REQUEST_ROOT!r}",
            path=tree.getpath(root),
            line=root.sourceline,
        )
        raise BadRequest(400, INVALID_REQUEST, [issue])
    try:
        return codec.decode_tree(tree)
    except CodecError as error:
        raise BadRequest(400, INVALID_REQUEST, error.issues) from None


def _invalid_response(bad: BadRequest) -> dict[str, Any]:
    return error_response(bad.message, None, [_detail(issue) for issue in bad.issues])


def _detail(issue: ValidationIssue) -> dict[str, Any]:
    detail: dict[str, Any] = {"path": issue.path or "/", "reason": issue.reason}
    if issue.line is not None and issue.line >= 0:
        detail["line"] = issue.line
    return detail
