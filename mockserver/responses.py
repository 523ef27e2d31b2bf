"""The adapter face: ``POST /adapter`` answers a VIS adapter request as the adapter would.

Error rules:

* the body is not XML, not a valid ``<vmware-infrastructure-request>``, too large
  or not XML-typed: HTTP 4xx (400, 413, 415) with an error envelope whose
  ``error-detail`` elements list every problem (path, line, reason);
* the request is valid but the operation fails (unknown task, wrong password):
  HTTP 200 with ``status`` ``error``, the vim25 fault type and a message;
* anything unexpected inside the mock: HTTP 200, ``status`` ``error``, fault
  ``SystemError`` (logged without the request body). Never an HTTP 500.

Every response body is produced by ``Codec.encode`` and so validates against
the response schema.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vismock.adapter.operation import error_response, requested_tasks, retrieve_task_status
from vismock.codec import Codec, CodecError, ValidationIssue
from vismock.codec.parsing import ParseFailure
from vismock.faults import InvalidLogin, VimFault
from vismock.mockserver import observe
from vismock.mockserver.models import Backend

log = logging.getLogger("vismock.mockserver")

adapter_blueprint = Blueprint("adapter", __name__)

OPERATION = "Retrieve_Task_Status"
CONTENT_TYPE = "text/xml; charset=utf-8"
XML_MEDIA_TYPES = frozenset({"text/xml", "application/xml"})
CACHE_KEY = "vismock.adapter_cache"
REQUEST_ROOT = "vmware-infrastructure-request"
NOT_XML = "the request is not well-formed XML"
INVALID_REQUEST = "the request is not a valid vmware-infrastructure-request"
PARSE_FAILURES = {
    "unsafe": "the request uses an XML feature refused on untrusted input (DTD or entities)",
    "size": "the request is too large",
}
INTERNAL_ERROR = "vismock could not answer this request (internal error; see the server log)"
# The last resort when even encoding an error envelope fails; valid against the response schema
# (tests/test_adapter_face.py checks it).
FALLBACK_BODY = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<vmware-infrastructure-response><metadata>"
    b"<status>error</status><error>" + INTERNAL_ERROR.encode() + b"</error><fault>SystemError</fault>"
    b"</metadata></vmware-infrastructure-response>\n"
)


class BadRequest(Exception):
    """The request cannot be read: answered with *status* and the located *issues*."""

    def __init__(self, status: int, message: str, issues: Iterable[ValidationIssue]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issues = tuple(issues)


@adapter_blueprint.post("/adapter")
def adapter() -> Response:
    observation = observe.begin("adapter", OPERATION)
    try:
        return _answer(observation)
    except BadRequest as bad:
        observation.outcome = "invalid"
        return _envelope(_invalid_response(bad), bad.status)
    except VimFault as fault:  # raised around the operation (a delay ended by a reset)
        observation.outcome = fault.fault_type
        return _envelope(error_response(fault.message, fault.fault_type), 200)
    except Exception:
        # No request body in the log: it may hold a password.
        log.exception("adapter face: unexpected error answering %s", OPERATION)
        observation.outcome = "SystemError"
        return _envelope(error_response(INTERNAL_ERROR, "SystemError"), 200)


def _answer(observation: observe.Observation) -> Response:
    data = _decoded_request(_cache())
    observation.task_ids = tuple(requested_tasks(data))
    user = str(data.get("user-name") or "").strip() or None
    observation.user = user
    rule = observe.injected_fault(observation)
    if rule is not None:
        return observe.fault_response(observation, rule, _render_fault)
    response = operation_response(_backend(), data, user)
    if response["metadata"]["status"] != "success":
        observation.outcome = str(response["metadata"].get("fault") or "error")
    return _envelope(response, 200)


def operation_response(backend: Backend, data: Mapping[str, Any], user: str | None) -> dict[str, Any]:
    # An empty user-name means "the adapter's configured account": nothing to check.
    if user is not None and not backend.check_login(user, str(data.get("password") or "")):
        fault = InvalidLogin()
        return error_response(fault.message, fault.fault_type)
    return retrieve_task_status(data, backend)


def _decoded_request(cache: EnvelopeCache) -> dict[str, Any]:
    _check_media_type()
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        raise BadRequest(413, f"request body is larger than the limit of {limit} bytes", ()) from None
    return cache.decoded(body)


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


def _check_media_type() -> None:
    media_type = request.mimetype
    if media_type and media_type not in XML_MEDIA_TYPES and not media_type.endswith("+xml"):
        raise BadRequest(415, f"Content-Type {media_type!r} is not XML; send text/xml", ())


def _invalid_response(bad: BadRequest) -> dict[str, Any]:
    details = [_detail(issue) for issue in bad.issues]
    return error_response(bad.message, None, details)


def _detail(issue: ValidationIssue) -> dict[str, Any]:
    detail: dict[str, Any] = {"path": issue.path or "/", "reason": issue.reason}
    if issue.line is not None and issue.line >= 0:
        detail["line"] = issue.line
    return detail


def adapter_http_error(error: HTTPException) -> Response:
    """An HTTP-level refusal of /adapter (such as GET: 405) as an error envelope."""
    if error.code == 413:
        hint = f"the body is larger than the limit of {current_app.config.get('MAX_CONTENT_LENGTH')} bytes"
    elif error.code == 405:
        hint = "POST a vmware-infrastructure-request to /adapter"
    else:
        hint = error.description or error.name
    message = f"{error.code} {error.name}: {hint}"
    response = _envelope(error_response(message), error.code or 400)
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _render_fault(fault: str, message: str) -> Response:
    return _envelope(error_response(message, fault), 200)


def _envelope(data: Mapping[str, Any], status: int) -> Response:
    return envelope_with(_cache(), data, status)


def envelope_with(cache: EnvelopeCache, data: Mapping[str, Any], status: int) -> Response:
    """The response envelope of *data* (the fallback body if even encoding fails)."""
    try:
        body = cache.encoded(data)
    except Exception:
        log.exception("adapter face: could not encode a response envelope")
        body, status = FALLBACK_BODY, 200 if status < 400 else status
    return Response(body, status=status, content_type=CONTENT_TYPE)


def _cache() -> EnvelopeCache:
    return envelope_cache(current_app)


def envelope_cache(app: Flask) -> EnvelopeCache:
    """The app's request/response cache (created on first use)."""
    cache: EnvelopeCache | None = app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = app.extensions.setdefault(CACHE_KEY, EnvelopeCache(app.extensions["vismock.codec"]))
    return cache


class EnvelopeCache:
    """Remembers decoded requests by their bytes and encoded responses by their content.

    Both conversions are pure functions, and adapter clients poll with the same
    request and mostly get the same answer (a finished task never changes), so
    this skips parsing, validation and serialisation on the hot path. Bounded
    (least recently used entries go first); only small bodies are kept.
    """

    def __init__(self, codec: Codec, size: int = 1024, max_body: int = 16 * 1024) -> None:
        self.codec = codec
        self.max_body = max_body
        self._requests: LRU[bytes, dict[str, Any]] = LRU(size)
        self._responses: LRU[str, bytes] = LRU(size)

    def decoded(self, body: bytes) -> dict[str, Any]:
        found = self._requests.get(body)
        if found is None:
            found = decode_request(self.codec, body)
            if len(body) <= self.max_body:
                self._requests.put(body, found)
        return found

    def encoded(self, data: Mapping[str, Any]) -> bytes:
        # repr is a faithful key here: it tells str, bool and int apart and is written in C.
        key = repr(data)
        found = self._responses.get(key)
        if found is None:
            found = self.codec.encode(data, root="vmware-infrastructure-response")
            if len(found) <= self.max_body:
                self._responses.put(key, found)
        return found


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _backend() -> Backend:
    return observe.backend()
