"""What every face shares: the request and reply, the one path a request takes, the journal entry,
fault rules, the body cap, remembered answers, and the WSGI glue.

A face (``vismock.mockserver.faces.adapter``, ``.soap``) is Flask-free: :func:`serve` turns a WSGI
environ into a :class:`FaceRequest`, runs it through :func:`exchange` and gives a :class:`Reply`;
the Flask views and the fast path (``vismock.mockserver.fastpath``) both call it, so each rule
below lives here once:

* the body cap (:func:`read_body`): a body over it is refused before it is read, in the face's
  own form (its ``too_large``);
* the error guard (:func:`exchange`): anything unexpected is logged (never the body: it may hold a
  password) and answered with the face's ``internal_error``; a face never answers 500 by accident;
* fault rules (:func:`injected_fault`, :func:`fault_reply`);
* the journal entry of every request, written when its reply is ready, and its access-log line
  (only while the ``vismock.access`` logger is enabled: one check per request);
* remembered answers (:class:`RememberedAnswers`): an answer computed without any change of the
  state (and without reading anything volatile: the time, a session's call count, a random draw) is
  the same for the same request until the state's revision moves, so it is given again from
  memory, journal included. No reader declares anything: the registry's revision is raised by every
  change, the clock's changes (a task's next step, a session's expiry) included, since they are
  events on its schedule fired before anything is read.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.http import HTTP_STATUS_CODES

from vismock.faults import RequestCanceled
from vismock.mockserver.accesslog import ACCESS, AccessRecord, log_access, log_access_row
from vismock.mockserver.cache import BoundedCache, memoize
from vismock.mockserver.state.journal import Row, row_of
from vismock.mockserver.state.models import Face as FaceName
from vismock.mockserver.state.models import FaultRule, JournalEntry

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.mockserver")
INFO = logging.INFO

FAULT_INJECTED = "fault-injected"
DELAY_SLICE_SECONDS = 0.05  # how soon a delayed request notices a reset
MAX_REMEMBERED_BODY = 16 * 1024  # pollers send small bodies; a large one is not worth remembering
CHUNK = 64 * 1024


@dataclass(slots=True)  # not frozen: made for every request (a frozen init costs several times more)
class FaceRequest:
    """One request to a face, as read from the wire."""

    method: str
    path: str
    body: bytes
    content_type: str = ""
    cookie: str = ""  # the Cookie header
    user_agent: str = ""
    remote_addr: str = ""
    environ: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the server's, to drop a connection


@dataclass(frozen=True, slots=True)
class Reply:
    """A face's answer: status, body and its type, extra headers; or a connection to drop."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False  # a fault rule: close the connection without answering
    # The WSGI status line and headers, made once (a remembered reply is sent again and again).
    wsgi_status: str = field(init=False, repr=False, compare=False)
    wsgi_headers: list[tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *self.headers,
        ]
        object.__setattr__(self, "wsgi_status", _status_line(self.status))
        object.__setattr__(self, "wsgi_headers", headers)


@dataclass(slots=True)
class Observation:
    """What the journal will say about a request."""

    face: FaceName
    operation: str
    task_ids: tuple[str, ...] = ()
    user: str | None = None
    outcome: str = "ok"
    entity: str | None = None  # the managed entity the call acted on (a VM's id), when one
    http_status: int | None = None  # None: the reply's
    generation: int | None = None  # the state's reset generation when the request started
    started: float = field(default_factory=time.perf_counter)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def entry(self, http_status: int) -> JournalEntry:
        return JournalEntry(
            time=self.time,
            face=self.face,
            operation=self.operation,
            task_ids=self.task_ids,
            user=self.user,
            outcome=self.outcome,
            http_status=self.http_status if self.http_status is not None else http_status,
            latency_ms=round((time.perf_counter() - self.started) * 1000.0, 3),
            generation=self.generation,
            entity=self.entity,
        )


class Face(Protocol):
    """A face of the mock: how it reads requests and words its answers."""

    name: FaceName

    def answer(self, request: FaceRequest, observation: Observation, services: Services) -> Reply:
        """The reply to *request*; updates *observation* (operation, tasks, user, outcome)."""

    def memo_key(self, environ: Mapping[str, Any], body: bytes) -> Hashable | None:
        """What the answer depends on besides the state (None: never remember it)."""

    def recalled(self, environ: Mapping[str, Any], services: Services) -> None:
        """A request answered from memory: what the face counts of every request (the SOAP
        face, the session's calls) it counts here too."""

    def too_large(self, limit: int) -> Reply:
        """The refusal of a body over *limit* bytes, in this face's form."""

    def internal_error(self) -> Reply:
        """The answer to an unexpected failure, in this face's form."""

    def error(self, fault_type: str, message: str) -> Reply:
        """A well-formed error of a vim25 fault type (what an injected "error" rule answers)."""


# -- the one path ----------------------------------------------------------------------------------


def serve(face: Face, environ: WSGIEnvironment, services: Services) -> Reply:
    """The reply to the WSGI request *environ* sent to *face*: from memory when an equal
    request's answer still holds, else by the face under the error guard; journaled either way."""
    started = time.perf_counter()
    limit = services.settings.max_content_length
    try:
        body = read_body(environ, limit)
    except BodyTooLarge:
        return exchange_refused(face, services, face.too_large(limit), environ.get("REMOTE_ADDR"))
    key = face.memo_key(environ, body) if len(body) <= MAX_REMEMBERED_BODY else None
    if key is not None:
        remembered = services.answers.recall(key)
        if remembered is not None:
            face.recalled(environ, services)
            row = remembered.row(started)
            services.journal.record_row(services.backend.generation(), row)
            if ACCESS.isEnabledFor(INFO):  # off (quiet, or in tests): this check is all it costs
                log_access_row(row, environ.get("REMOTE_ADDR"))
            return remembered.reply
    request = FaceRequest(
        method=str(environ.get("REQUEST_METHOD", "")),
        path=str(environ.get("PATH_INFO", "")),
        body=body,
        content_type=str(environ.get("CONTENT_TYPE", "")),
        cookie=str(environ.get("HTTP_COOKIE", "")),
        user_agent=str(environ.get("HTTP_USER_AGENT", "")),
        remote_addr=str(environ.get("REMOTE_ADDR", "")),
        environ=environ,
    )
    return exchange(face, request, services, key, started)


def exchange(
    face: Face, request: FaceRequest, services: Services, key: Hashable | None = None, started: float = 0.0
) -> Reply:
    """Answer *request* on *face* under the error guard, journal it, and remember the answer under
    *key* when it holds beyond this request."""
    observation = Observation(
        face=face.name,
        operation="(unparsed)",
        generation=services.backend.generation(),
        started=started or time.perf_counter(),
    )
    registry = services.backend.registry
    registry.settle()  # the clock's changes first: the revision below is the one the answer reads
    before = (registry.revision, registry.volatile_reads)
    try:
        reply = face.answer(request, observation, services)
    except Exception:
        # A bug or a store failure: the face's own error, details in the log (never the body).
        log.exception("%s face: unexpected error answering %s", face.name, observation.operation)
        observation.outcome = "SystemError"
        registry.note_volatile()
        reply = face.internal_error()
    entry = observation.entry(reply.status)
    services.journal.record(entry)
    if ACCESS.isEnabledFor(INFO):
        log_access(AccessRecord.from_entry(entry, request.remote_addr or None))
    # Remembered only if nothing changed and nothing volatile was read meanwhile (by this request
    # or another): then the same request gets the same answer until the revision moves.
    if key is not None and not reply.drop and (registry.revision, registry.volatile_reads) == before:
        services.answers.remember(key, before[0], observation, reply)
    return reply


def exchange_refused(face: Face, services: Services, reply: Reply, remote_addr: str | None = None) -> Reply:
    """Journal (and log) a request refused before it was read (its body over the cap)."""
    observation = Observation(face=face.name, operation="(unread)", outcome="invalid")
    observation.generation = services.backend.generation()
    entry = observation.entry(reply.status)
    services.journal.record(entry)
    if ACCESS.isEnabledFor(INFO):
        log_access(AccessRecord.from_entry(entry, remote_addr))
    return reply


# -- the body cap ---------------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """The request body is over the cap; nothing more of it is read."""


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The request body, at most *limit* bytes: an announced larger one is refused before a byte
    of it is read, a chunked one as soon as it passes the limit."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            length = 0
        if length > limit:
            raise BodyTooLarge()
        return bytes(stream.read(length)) if length > 0 else b""
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and no end marker: HTTP says there is no body
    parts: list[bytes] = []
    size = 0
    while chunk := stream.read(min(CHUNK, limit + 1 - size)):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
    return b"".join(parts)


# -- fault rules ----------------------------------------------------------------------------------


def injected_fault(observation: Observation, services: Services) -> FaultRule | None:
    """The fault rule to apply to this request, if any (consumed atomically across workers).

    A delay rule sleeps here and returns None: the request then proceeds normally. An answer
    that any rule matched is not remembered (its rule may fire by chance, or run out).
    """
    faults = services.backend.faults
    face, operation, task_ids = observation.face, observation.operation, observation.task_ids
    if not faults.matching(face=face, operation=operation, task_ids=task_ids):
        return None
    services.backend.registry.note_volatile()  # a rule may fire by chance, or run out
    rule = faults.take(face=face, operation=operation, task_ids=task_ids)
    if rule is not None and rule.action == "delay":
        delay(services, max(0.0, rule.delay_seconds), observation.generation)
        return None
    return rule


def delay(services: Services, seconds: float, generation: int | None) -> None:
    """Sleep *seconds*, unless the mock is reset meanwhile: then this request belongs to a state
    that is gone, and it ends with RequestCanceled instead of going on in the new one."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, DELAY_SLICE_SECONDS))
        if generation is not None and services.backend.generation() != generation:
            raise RequestCanceled("vismock was reset while this request was delayed")


def fault_reply(observation: Observation, rule: FaultRule, face: Face) -> Reply:
    """The reply a non-delay rule asks for.

    "error": the face's well-formed error (its usual HTTP status); "status": the same body with
    ``rule.http_status``; "malformed": that body cut in half; "drop": no answer at all.
    """
    observation.outcome = FAULT_INJECTED
    reply = face.error(rule.fault, rule.message)
    if rule.action == "status":
        return replace(reply, status=rule.http_status)
    if rule.action == "malformed":
        return replace(reply, body=reply.body[: max(1, len(reply.body) // 2)])
    if rule.action == "drop":
        observation.http_status = 0
        return replace(reply, drop=True)
    return reply


# -- remembered answers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RememberedAnswer:
    revision: int
    journal: Row  # the journal row of each request answered this way, but for its time and latency
    reply: Reply

    def row(self, started: float) -> Row:
        """The journal row of one more request answered from memory, *started* (perf_counter)."""
        latency_ms = round((time.perf_counter() - started) * 1000.0, 3)
        return (time.time_ns() // 1000, *self.journal[1:-1], latency_ms)


class RememberedAnswers:
    """Answers that hold until the state's revision moves.

    A poller sends the same body again and again; while the state's revision stands (after the
    events the clock brought are fired), computing it again would give the same bytes and the same
    journal entry.
    """

    def __init__(self, services: Services, size: int = 1024) -> None:
        self._services = services
        self._answers: BoundedCache[Hashable, RememberedAnswer] = BoundedCache(size)

    def recall(self, key: Hashable) -> RememberedAnswer | None:
        found = self._answers.get(key)
        if found is None:
            return None
        registry = self._services.backend.registry
        registry.settle()
        return found if found.revision == registry.revision else None

    def remember(self, key: Hashable, revision: int, observation: Observation, reply: Reply) -> None:
        row = row_of(observation.entry(reply.status))
        self._answers.put(key, RememberedAnswer(revision, row, reply))


# -- WSGI ------------------------------------------------------------------------------------------


def send(reply: Reply, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """*reply* on the wire (or the connection dropped, as far as the server lets us)."""
    if reply.drop:
        return drop_connection(environ, start_response)
    start_response(reply.wsgi_status, list(reply.wsgi_headers))
    return [reply.body]


def drop_connection(environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Close the client's socket when the server exposes it; otherwise promise a body never sent.

    gunicorn and werkzeug expose the socket in the environ; waitress exposes its channel through
    ``waitress.client_disconnected``. Elsewhere (granian), a Content-Length the body never reaches
    makes the server abort the connection.
    """
    if _shutdown_socket(environ):
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Length", "1024")])
    return _never_complete()


def _shutdown_socket(environ: Mapping[str, Any]) -> bool:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is None:
        checker = environ.get("waitress.client_disconnected")
        channel = getattr(checker, "__self__", None)
        sock = getattr(channel, "socket", None)
    if not isinstance(sock, socket.socket):
        return False
    with contextlib.suppress(OSError):  # already gone: the effect we wanted
        sock.shutdown(socket.SHUT_RDWR)
    return True


def _never_complete() -> Iterator[bytes]:
    """An empty body under a Content-Length of 1024: the server must abort the connection."""
    yield from ()


def _status_line(status: int) -> str:
    """The status line werkzeug would send (so the fast path and Flask's views answer alike)."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown').upper()}"


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie *name* in a Cookie header (werkzeug's parsing, remembered per header)."""
    return _cookie_values(header).get(name) or None


@memoize(256)
def _cookie_values(header: str) -> dict[str, str]:
    from werkzeug.http import parse_cookie

    return dict(parse_cookie(header))


def xml_media_type(content_type: str) -> bool:
    """Whether *content_type* is XML (or absent): what both faces accept."""
    return _xml_media_type(content_type)


@memoize(256)
def _xml_media_type(content_type: str) -> bool:
    from werkzeug.http import parse_options_header

    media_type = parse_options_header(content_type)[0].lower()
    return not media_type or media_type in XML_MEDIA_TYPES or media_type.endswith("+xml")


XML_MEDIA_TYPES = frozenset({"text/xml", "application/xml"})
Render = Callable[[str, str], Reply]
