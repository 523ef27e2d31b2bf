"""A WSGI fast path in front of Flask for the two hot requests: ``POST /adapter`` and a SOAP
``RetrieveProperties[Ex]`` of Task properties on ``POST /sdk``.

A poller sends the same small body again and again; Flask's request machinery costs more than
answering it. This middleware answers those requests with the faces' own functions (same
decoded-request cache, same backend calls, same rendering caches), so every request still
gets the TaskInfo of the mock's clock and task state now, its session checked and its journal
entry (with latency) written. Whatever it does not handle itself goes to Flask unchanged,
decided before any side effect (no poll counted, no rule consumed):

* any other method or path, a chunked or large body, a non-XML Content-Type;
* a body the faces would refuse (parse or validation errors: Flask renders those);
* any fault rule stored at all (Flask's path consumes and applies it);
* SOAP: no live session, other methods, objects other than Tasks.

Between changes of the stored state it skips SQLite reads that cannot give a different answer:
whether any fault rule exists, a session key's user (when sessions never expire) and the
TaskInfo of a finished task are remembered per :class:`store.Revision`, a counter every process
raises after each state write. Tasks still running are read on every request (their TaskInfo
follows the clock), and so is every poll-counted read.

tests/test_fastpath.py checks that both paths give byte-identical responses for the same state.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from werkzeug.http import parse_cookie, parse_options_header
from werkzeug.wrappers import Response

from vismock.adapter.operation import error_response, requested_tasks
from vismock.faults import VimFault
from vismock.mockserver import lifecycle, observe, responses, soap, store
from vismock.mockserver.models import Backend
from vismock.mockserver.vim25 import SystemError as VimSystemError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

log = logging.getLogger("vismock.mockserver")

MAX_FAST_BODY = 16 * 1024
SOAP_PATHS = frozenset({"/sdk", "/sdk/vim"})
SOAP_FAST_METHODS = frozenset({"RetrievePropertiesEx", "RetrieveProperties"})
HEADER_CACHE_ENTRIES = 256
FAST_MEMO_KEY = "fastpath:eligible"
ANSWER_MEMO_KEY = "fastpath:answer"


@dataclass(frozen=True, slots=True)
class StoredState:
    """Stored state as of one revision: whether any fault rule exists, users of session keys seen."""

    revision: int
    fault_rules: bool
    session_users: dict[str, str | None]
    finished_tasks: dict[str, dict[str, Any]]


class RememberingBackend:
    """The backend as the fast path hands it to the faces: the TaskInfo of a finished task is
    remembered for the revision it was read at.

    A finished task's TaskInfo cannot change until something is written (a restart, a replaced
    task, a clock change: all move the revision), so while the revision stands it is the same as
    reading it again. A read that counts a poll writes, which moves the revision at once.
    Everything else goes to the backend.
    """

    def __init__(self, backend: Backend, finished: dict[str, dict[str, Any]]) -> None:
        self._backend = backend
        self._finished = finished
        # Whether everything read through this object was a finished task's TaskInfo (then the
        # whole answer is as constant as they are, until the revision moves).
        self.reads = 0
        self.only_finished = True

    def task_info(self, task_id: str, *, poll: bool = True) -> dict[str, Any]:
        self.reads += 1
        found = self._finished.get(task_id)
        if found is not None and poll:
            return dict(found)  # as Backend.task_info: a fresh dict each time
        self.only_finished = False  # until it proves finished (an exception keeps it False)
        info = self._backend.task_info(task_id, poll=poll)
        if poll and info.get("state") in lifecycle.TERMINAL_STATES:
            if len(self._finished) >= HEADER_CACHE_ENTRIES:
                self._finished.clear()
            self._finished[task_id] = dict(info)
            self.only_finished = True
        return info

    def task_infos(self, task_ids: Sequence[str], *, poll: bool = True) -> list[dict[str, Any]]:
        return [self.task_info(task_id, poll=poll) for task_id in task_ids]

    def __getattr__(self, name: str) -> Any:
        self.only_finished = False  # some other read: nothing known about its constancy
        return getattr(self._backend, name)


@dataclass(frozen=True, slots=True)
class Reply:
    """A response as sent: status line, Content-Type and body."""

    status: str
    status_code: int
    content_type: str
    body: bytes

    @classmethod
    def of(cls, response: Response) -> Reply:
        return cls(response.status, response.status_code, response.content_type or "", response.get_data())


@dataclass(frozen=True, slots=True)
class RememberedAnswer:
    """A SOAP call's whole answer, valid for one revision and session (its journal outcome too)."""

    revision: int
    session: str
    outcome: str
    reply: Reply


class NotFast(Exception):
    """This request is Flask's to answer (raised only before any side effect)."""


class FastPath:
    """WSGI middleware: answers hot requests itself, hands everything else to *wrapped*."""

    def __init__(self, app: Flask, wrapped: WSGIApplication) -> None:
        self.app = app
        self.wrapped = wrapped
        self._media_types: dict[str, bool] = {}
        self._session_keys: dict[str, str | None] = {}
        backend: Backend = app.extensions[observe.BACKEND_KEY]
        self._revision = store.Revision(backend.path)
        # Session users can be remembered between state changes only if sessions never expire.
        self._remember_sessions = not backend.sessions_expire
        self._state = StoredState(-1, True, {}, {})

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        is_adapter = path == "/adapter"
        if environ.get("REQUEST_METHOD") != "POST" or not (is_adapter or path in SOAP_PATHS):
            return self.wrapped(environ, start_response)
        body = self._small_body(environ)
        if body is None:
            return self.wrapped(environ, start_response)
        try:
            response = self._adapter(environ, body) if is_adapter else self._soap(environ, body)
        except NotFast:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads the body we already took
            return self.wrapped(environ, start_response)
        return _reply(response, environ, start_response)

    # -- what qualifies

    def _small_body(self, environ: WSGIEnvironment) -> bytes | None:
        """The body when its Content-Length is small and within the app's cap; None otherwise."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None  # chunked or nonsense: Flask's checks apply
        cap = self.app.config.get("MAX_CONTENT_LENGTH")
        if not 0 < length <= MAX_FAST_BODY or (cap is not None and length > cap):
            return None
        body: bytes = environ["wsgi.input"].read(length)
        if len(body) != length:
            environ["wsgi.input"] = io.BytesIO(body)
            return None  # a short body: Flask reports it
        return body

    def _backend(self) -> Backend:
        backend: Backend = self.app.extensions[observe.BACKEND_KEY]
        if self._stored_state(backend).fault_rules:
            raise NotFast  # a rule may apply: Flask's path draws and consumes it
        return backend

    def _stored_state(self, backend: Backend) -> StoredState:
        """What this path needs of the stored state, re-read only when the shared revision moved
        (any process's change of rules, sessions, tasks or clock moves it)."""
        revision = self._revision.value()  # before reading: a later change moves it again
        state = self._state
        if state.revision != revision:
            state = self._state = StoredState(revision, bool(backend.list_faults()), {}, {})
        return state

    def _task_source(self, backend: Backend, state: StoredState | None = None) -> Backend:
        """*backend*, remembering finished TaskInfos unless tasks are generated (dynamic mode)."""
        if backend.dynamic:
            return backend
        state = state or self._stored_state(backend)
        return cast(Backend, RememberingBackend(backend, state.finished_tasks))

    def _session_user(self, backend: Backend, session: str) -> str | None:
        if not self._remember_sessions:
            return backend.session_user(session)
        users = self._stored_state(backend).session_users
        if session not in users:
            if len(users) >= HEADER_CACHE_ENTRIES:
                users.clear()
            users[session] = backend.session_user(session)
        return users[session]

    def _xml_media_type(self, content_type: str) -> bool:
        """The adapter face's Content-Type rule (responses._check_media_type), cached per header."""
        allowed = self._media_types.get(content_type)
        if allowed is None:
            media_type = parse_options_header(content_type)[0].lower()
            allowed = not media_type or media_type in responses.XML_MEDIA_TYPES or media_type.endswith("+xml")
            _bounded_put(self._media_types, content_type, allowed)
        return allowed

    def _session_key(self, environ: WSGIEnvironment) -> str | None:
        """The session cookie as ``request.cookies`` gives it, parsed once per Cookie header."""
        header = environ.get("HTTP_COOKIE", "")
        if header not in self._session_keys:
            _bounded_put(self._session_keys, header, parse_cookie(header).get(soap.COOKIE_NAME) or None)
        return self._session_keys[header]

    # -- the adapter face (as responses.adapter)

    def _adapter(self, environ: WSGIEnvironment, body: bytes) -> Response | Reply:
        if not self._xml_media_type(environ.get("CONTENT_TYPE", "")):
            raise NotFast
        cache = responses.envelope_cache(self.app)
        try:
            data = cache.decoded(body)
        except responses.BadRequest:
            raise NotFast from None
        backend = self._backend()
        task_ids = tuple(requested_tasks(data))
        user = str(data.get("user-name") or "").strip() or None
        observation = observe.Observation(
            face="adapter",
            operation=responses.OPERATION,
            task_ids=task_ids,
            user=user,
            generation=backend.generation(),
        )
        try:
            answer = responses.operation_response(self._task_source(backend), data, user)
            if answer["metadata"]["status"] != "success":
                observation.outcome = str(answer["metadata"].get("fault") or "error")
        except Exception:
            log.exception("adapter face: unexpected error answering %s", responses.OPERATION)
            observation.outcome = "SystemError"
            answer = error_response(responses.INTERNAL_ERROR, "SystemError")
        return self._journaled(observation, lambda: responses.envelope_with(cache, answer, 200))

    # -- the SOAP face (as soap.soap_call and soap.dispatch)

    def _soap(self, environ: WSGIEnvironment, body: bytes) -> Response | Reply:
        try:
            call = soap.parsed_call(body)
        except VimFault:
            raise NotFast from None
        if call.method not in SOAP_FAST_METHODS or not _reads_tasks_only(call):
            raise NotFast
        method = soap.METHODS[call.method]
        if call.this is None or call.this.type != method.this_type:
            raise NotFast
        backend = self.app.extensions[observe.BACKEND_KEY]
        session = self._session_key(environ)
        user = self._session_user(backend, session) if session is not None else None
        if session is None or user is None:
            raise NotFast  # NotAuthenticated: Flask's path
        state = self._stored_state(backend)
        if state.fault_rules:
            raise NotFast  # a rule may apply: Flask's path draws and consumes it
        task_ids: tuple[str, ...] = call.memo.get("fastpath:task_ids") or tuple(soap.requested_task_ids(call))
        call.memo["fastpath:task_ids"] = task_ids
        observation = observe.Observation(
            face="soap", operation=call.method, task_ids=task_ids, user=user, generation=backend.generation()
        )
        remembered: RememberedAnswer | None = call.memo.get(ANSWER_MEMO_KEY)
        if remembered is not None and (remembered.revision, remembered.session) == (state.revision, session):
            observation.outcome = remembered.outcome
            return self._journaled(observation, lambda: remembered.reply)
        tasks = self._task_source(backend, state)

        def answer() -> Response:
            try:
                return method.handler(soap.Context(tasks, call, session, user))
            except VimFault as fault:
                observation.outcome = fault.fault_type
                return soap.fault_response(fault, context=call.this)
            except Exception:
                log.exception("SOAP face: unexpected error answering %s", call.method)
                observation.outcome = "SystemError"
                return soap.fault_response(VimSystemError(soap.INTERNAL_ERROR), context=call.this)

        reply = self._journaled(observation, answer)
        plain = isinstance(reply, Reply) or len(reply.headers) <= 2  # Content-Type and -Length only
        if isinstance(tasks, RememberingBackend) and tasks.reads and tasks.only_finished and plain:
            reply = reply if isinstance(reply, Reply) else Reply.of(reply)
            call.memo[ANSWER_MEMO_KEY] = RememberedAnswer(state.revision, session, observation.outcome, reply)
        return reply

    def _journaled(
        self, observation: observe.Observation, answer: Callable[[], Response | Reply]
    ) -> Response | Reply:
        response = answer()
        observe.record(observation, response.status_code, observe.journal_writer(self.app))
        return response


def _reply(
    response: Response | Reply, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Send *response* as werkzeug would (same status line and headers), minus its generic WSGI steps.

    The faces' responses are plain bytes bodies with a Content-Type, nothing else to adjust.
    """
    if isinstance(response, Response):
        if len(response.headers) > 2:  # more than Content-Type and Content-Length: werkzeug sends it
            return response(environ, start_response)
        response = Reply.of(response)
    headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
    start_response(response.status, headers)
    return [response.body]


def _reads_tasks_only(call: Any) -> bool:
    """Whether every object the call's FilterSpecs name is a Task (their readers need no Flask request)."""
    eligible: bool | None = call.memo.get(FAST_MEMO_KEY)
    if eligible is None:
        try:
            specs = [soap.parse_filter_spec(spec) for spec in call.args("specSet")]
        except Exception:
            specs = []  # a malformed spec: Flask's path reports it
        eligible = bool(specs) and all(ref.type == "Task" for spec in specs for ref, _skip in spec.objects)
        call.memo[FAST_MEMO_KEY] = eligible
    return eligible


def _bounded_put(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= HEADER_CACHE_ENTRIES:
        cache.pop(next(iter(cache)))  # oldest first
    cache[key] = value


def install(app: Flask) -> None:
    """Put the fast path in front of *app*'s WSGI callable (Flask still serves everything else)."""
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
