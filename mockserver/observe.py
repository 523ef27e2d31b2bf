"""Journal and fault-rule plumbing shared by every face of the mock (adapter, SOAP, admin).

A handler calls :func:`begin` once it knows what the request is, asks
:func:`injected_fault` whether a fault rule applies (delay rules sleep there and
return None), and turns a rule into a response with :func:`fault_response`.
The journal entry is written when the response leaves (an ``after_request``
hook installed by :func:`install`), so handlers only set ``outcome`` when it is
not "ok"; :func:`record` does it explicitly when a face needs to.

Typical use in a face::

    obs = observe.begin("soap", "RetrievePropertiesEx", task_ids=["task-525"], user=user)
    rule = observe.injected_fault(obs)
    if rule is not None:
        return observe.fault_response(obs, rule, render_fault)  # render_fault(fault, message)
    ...
    obs.outcome = "ManagedObjectNotFound"  # when answering a fault

Passwords never pass through here: an observation holds a user name only.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request

from vismock.faults import RequestCanceled
from vismock.mockserver import store
from vismock.mockserver.models import Backend, Face, FaultRule, JournalEntry

log = logging.getLogger("vismock.mockserver")

BACKEND_KEY = "vismock.backend"
OBSERVATION_KEY = "vismock_observation"
WRITER_KEY = "vismock.journal_writer"
FAULT_INJECTED = "fault-injected"
DELAY_SLICE_SECONDS = 0.05  # how soon a delayed request notices a reset

RenderError = Callable[[str, str], Response]
"""``render_error(fault_type, message)``: the face's own well-formed error response."""


@dataclass(slots=True)
class Observation:
    """What the journal will say about the current request; handlers may update the fields."""

    face: Face
    operation: str
    task_ids: tuple[str, ...] = ()
    user: str | None = None
    outcome: str = "ok"
    http_status: int | None = None  # None: taken from the response
    started: float = field(default_factory=time.perf_counter)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    recorded: bool = False
    generation: int | None = None  # the backend's reset generation when the request started


def backend() -> Backend:
    """The Backend of the running app."""
    found: Backend = current_app.extensions[BACKEND_KEY]
    return found


def begin(face: Face, operation: str, task_ids: Iterable[str] = (), user: str | None = None) -> Observation:
    """Start observing the current request; it is journaled when its response leaves."""
    observation = Observation(
        face=face,
        operation=operation,
        task_ids=tuple(task_ids),
        user=user or None,
        generation=backend().generation(),
    )
    setattr(g, OBSERVATION_KEY, observation)
    return observation


def current() -> Observation | None:
    found: Observation | None = g.get(OBSERVATION_KEY)
    return found


def injected_fault(observation: Observation) -> FaultRule | None:
    """The fault rule to apply to this request, if any (consumed atomically across workers).

    A delay rule sleeps here and returns None: the request then proceeds normally.
    """
    rule = backend().take_fault(
        face=observation.face, operation=observation.operation, task_ids=observation.task_ids
    )
    if rule is None:
        return None
    if rule.action == "delay":
        delay(max(0.0, rule.delay_seconds), observation.generation)
        return None
    return rule


def delay(seconds: float, generation: int | None) -> None:
    """Sleep *seconds*, unless the mock is reset meanwhile: then this request belongs to a state
    that is gone, and it ends with RequestCanceled instead of going on in the new one."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, DELAY_SLICE_SECONDS))
        if generation is not None and backend().generation() != generation:
            raise RequestCanceled("vismock was reset while this request was delayed")


def fault_response(observation: Observation, rule: FaultRule, render_error: RenderError) -> Response:
    """The response a non-delay rule asks for.

    "error": the face's well-formed error (its usual HTTP status); "status": the same
    body with ``rule.http_status``; "malformed": that body cut in half; "drop": the
    connection is closed without an answer (as far as the server allows).
    """
    observation.outcome = FAULT_INJECTED
    response = render_error(rule.fault, rule.message)
    if rule.action == "status":
        response.status_code = rule.http_status
    elif rule.action == "malformed":
        body = response.get_data()
        response.set_data(body[: max(1, len(body) // 2)])
    elif rule.action == "drop":
        observation.http_status = 0
        return _dropped_connection()
    return response


def record(
    observation: Observation, http_status: int | None = None, writer: JournalWriter | None = None
) -> None:
    """Write the journal entry for *observation* (once; later calls do nothing).

    *writer*: the app's journal writer, for callers outside a Flask request (the fast path).
    """
    if observation.recorded:
        return
    observation.recorded = True
    status = observation.http_status if observation.http_status is not None else (http_status or 200)
    entry = JournalEntry(
        time=observation.time,
        face=observation.face,
        operation=observation.operation,
        task_ids=observation.task_ids,
        user=observation.user,
        outcome=observation.outcome,
        http_status=status,
        latency_ms=round((time.perf_counter() - observation.started) * 1000.0, 3),
        generation=observation.generation,
    )
    try:
        (writer or journal_writer()).record(entry)
    except Exception:  # the journal must never turn an answer into a failure
        log.exception("could not record journal entry for %s %s", observation.face, observation.operation)


class JournalWriter:
    """Writes journal entries for one process, in one of two modes.

    Synchronous (``flush_seconds`` None, the default): every caller returns only once
    its entry is committed, so a journal read that follows a response always sees
    it. Concurrent callers share transactions (group commit): whoever holds the
    write lock writes every entry queued so far, and threads queue on a Python lock
    instead of colliding inside SQLite, whose busy handler sleeps whole milliseconds.

    Write-behind (``flush_seconds`` set; ``vismock serve`` uses 5 ms): entries are
    queued and a background thread commits them in batches at least that often,
    taking the journal's SQLite write off the request path. Readers call
    :meth:`settle` first: it flushes this process's queue and waits long enough for
    every other worker's flusher to have run. At most ``max_pending`` entries wait;
    beyond that a caller writes synchronously (memory stays bounded).
    """

    def __init__(
        self, backend: Backend, flush_seconds: float | None = None, max_pending: int = 10_000
    ) -> None:
        self.backend = backend
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[JournalEntry] = []
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0

    def record(self, entry: JournalEntry) -> None:
        with self._queue_lock:
            self._queue.append(entry)
            pending = len(self._queue)
        if self.flush_seconds is None or pending > self.max_pending:
            self.flush()
        else:
            self._ensure_flusher()

    def flush(self) -> None:
        """Commit everything queued so far in this process (returns once it is written)."""
        with self._write_lock:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if batch:
                self._write(batch)

    def settle(self) -> None:
        """Before reading the journal: this process's entries written, other workers' too."""
        self.flush()
        if self.flush_seconds is not None:
            time.sleep(3 * self.flush_seconds)

    def _write(self, batch: list[JournalEntry]) -> None:
        record_many: Callable[[list[JournalEntry]], None] | None = getattr(self.backend, "record_many", None)
        if record_many is not None:
            record_many(batch)
            return
        for entry in batch:
            self.backend.record(entry)

    def _ensure_flusher(self) -> None:
        if self._flusher is not None and self._flusher_pid == store.current_pid():
            return
        with self._queue_lock:  # one flusher per process (a forked child starts its own)
            if self._flusher is None or self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="vismock-journal", daemon=True
                )
                self._flusher.start()
                atexit.register(self.flush)

    def _flush_forever(self) -> None:
        interval = self.flush_seconds or 0.005
        while True:
            time.sleep(interval)
            try:
                self.flush()
            except Exception:
                log.exception("could not write journal entries")


def journal_writer(app: Flask | None = None) -> JournalWriter:
    """The app's journal writer (created on first use)."""
    app = app or current_app
    writer: JournalWriter | None = app.extensions.get(WRITER_KEY)
    if writer is None:
        flush_seconds = app.config.get("VISMOCK_JOURNAL_FLUSH_SECONDS")
        created = JournalWriter(app.extensions[BACKEND_KEY], float(flush_seconds) if flush_seconds else None)
        writer = app.extensions.setdefault(WRITER_KEY, created)
    return writer


def install(app: Flask) -> None:
    """Journal every observed request as its response leaves (also for error pages)."""

    @app.after_request
    def _journal_response(response: Response) -> Response:
        observation = current()
        if observation is not None:
            record(observation, response.status_code)
        return response

    @app.teardown_request
    def _journal_unanswered(_error: BaseException | None) -> None:
        observation = current()
        if observation is not None and not observation.recorded:
            observation.outcome = observation.outcome if observation.outcome != "ok" else "server-error"
            record(observation, 500)


def entry_to_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "time": entry.time.isoformat().replace("+00:00", "Z"),
        "face": entry.face,
        "operation": entry.operation,
        "task_ids": list(entry.task_ids),
        "user": entry.user,
        "outcome": entry.outcome,
        "http_status": entry.http_status,
        "latency_ms": entry.latency_ms,
    }


# -- dropping a connection


def _dropped_connection() -> Response:
    """Close the client's socket when the server exposes it; otherwise promise a body never sent.

    gunicorn and werkzeug expose the socket in the environ; waitress exposes its
    channel through ``waitress.client_disconnected``. Elsewhere (granian), a
    Content-Length the body never reaches makes the server abort the connection.
    """
    if _shutdown_socket(request.environ):
        return Response(b"", status=200)
    return Response(_never_complete(), status=200, headers={"Content-Length": "1024"})


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
