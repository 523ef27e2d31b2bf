"""pytest plugin: a real mock vCenter on a free port for your tests (entry point ``pytest11``).

Fixtures:

``vismock_server``      function scope: the running server, state reset before the test
                        (tasks back to the loaded file, journal, fault rules, sessions cleared,
                        clock real); a :class:`VismockServer` with helpers.
``vismock_si``          function scope: a pyVmomi ``ServiceInstance`` logged in to that server
                        (the first of ``vismock_accounts``, else vismock / vismock), logged out after.
``vismock_tasks_file``  override to serve your task file (default None: the built-in tasks).
``vismock_accounts``    override to configure accounts (default None: ``vismock`` / ``vismock``).
``vismock_dynamic``     override to return True: unknown task ids read as generated, schema-valid
                        TaskInfos, the same for the same id (default False: ManagedObjectNotFound).

One server (werkzeug's threaded server in a thread, a real socket, so any HTTP client works) runs
per distinct tasks-file/accounts configuration and lives for the whole session;
``vismock_server.https_url`` serves the same mock over TLS (started on first use, with a throwaway
CA whose certificate is ``vismock_server.ca_file``);
their state is in memory (no state file); under pytest-xdist every worker has its own servers.
Exceptions logged by the server during a test fail that test at teardown, like
pytest-httpserver. A server that cannot start (a bad ``vismock_tasks_file``, say) is one error
naming the file, line and field of every problem, without a traceback: in full for the first test
that asks for it, in one line for the others.

This module is imported by every pytest run once vismock is installed, so it
imports Flask, werkzeug and vismock's server lazily.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask

    from vismock.mockserver.state import Backend, FaultRule, JournalEntry, Override, TaskSpec
    from vismock.mockserver.state.models import Face

SERVER_LOGGER = "vismock"
DEFAULT_ACCOUNT = {"vismock": "vismock"}
RESET_DRAIN_SECONDS = 10.0
DEFAULT_TASK_FIELDS = {"name": "PowerOnVM_Task", "descriptionId": "VirtualMachine.powerOn"}
# The requests that read a task: what "task-N was polled 3 times" counts.
POLL_OPERATIONS = ("Retrieve_Task_Status", "Fetch", "RetrieveProperties", "RetrievePropertiesEx")


class _ErrorCollector(logging.Handler):
    """Keeps the server's logged exceptions so the test that caused them fails."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(self.format(record))


@dataclass
class VismockServer:
    """A running mock vCenter and the helpers tests use on it."""

    app: Flask
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    _stop: Any = field(repr=False)
    _errors: _ErrorCollector = field(repr=False)
    _in_flight: Any = field(repr=False, default=None)
    raise_server_errors: bool = True
    _tls_folder: Path | None = field(repr=False, default=None)
    _https: _HttpsListener | None = field(repr=False, default=None)

    # -- where ----------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """The address it listens on (``127.0.0.1``): ``SmartConnect(host=..., port=...)``."""
        return self.url.split("://", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        """The port it listens on (a free one, chosen at start)."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def adapter_url(self) -> str:
        return f"{self.url}/adapter"

    @property
    def soap_url(self) -> str:
        return f"{self.url}/sdk"

    @property
    def admin_url(self) -> str:
        return f"{self.url}/_vismock"

    # -- over TLS -------------------------------------------------------------------------------
    @property
    def https_url(self) -> str:
        """``https://127.0.0.1:PORT``: the same mock (same state) over TLS, started on first use
        with a certificate from a throwaway CA (:attr:`ca_file`)."""
        return self._tls().url

    @property
    def ca_file(self) -> Path:
        """The PEM file of the CA that signed :attr:`https_url`'s certificate: what clients trust
        (``ssl.create_default_context(cafile=...)``, ``requests`` ``verify=``, ``SSL_CERT_FILE``)."""
        ca_file: Path | None = self._tls().files.ca_file
        assert ca_file is not None  # a generated certificate always has its CA
        return ca_file

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint of :attr:`https_url`'s certificate, as govc pins it."""
        thumbprint: str = self._tls().files.thumbprint
        return thumbprint

    def _tls(self) -> _HttpsListener:
        if self._https is None:
            folder = self._tls_folder or Path(tempfile.mkdtemp(prefix="vismock-tls-"))
            self._https = _HttpsListener.start(self.app, folder, self.host)
        return self._https

    @property
    def backend(self) -> Backend:
        from vismock.mockserver.services import services_of

        return services_of(self.app).backend

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Tasks back to the loaded file, journal, fault rules and sessions cleared, clock real.

        A request still being answered (a delayed one from the previous test) cannot reach the new
        state: the first reset ends its delay (RequestCanceled) and keeps its journal entry out;
        once every such request is done, a second reset undoes whatever it changed meanwhile.
        """
        self.backend.reset()
        if self._in_flight is not None and not self._in_flight.wait_idle(RESET_DRAIN_SECONDS):
            raise RuntimeError(
                f"vismock: requests still running {RESET_DRAIN_SECONDS:g} s after a reset;"
                " a test left a client waiting on the server"
            )
        self.backend.reset()
        self._errors.records.clear()

    def add_task(self, task: Mapping[str, Any] | TaskSpec | None = None, /, **fields: Any) -> TaskSpec:
        """Add or replace a task, in task-file form: ``add_task(id="task-9", timeline=[...])``.

        ``name`` and ``descriptionId`` default to PowerOnVM_Task / VirtualMachine.powerOn.
        """
        from vismock.mockserver.state import TaskSpec, taskfile

        if isinstance(task, TaskSpec):
            spec = task
        else:
            spec = taskfile.spec_from_dict(
                {**DEFAULT_TASK_FIELDS, **(task or {}), **fields}, source="add_task"
            )
        self.backend.tasks.put([spec])
        return spec

    def delete_task(self, task_id: str) -> None:
        self.backend.tasks.delete(task_id)

    def task_info(self, task_id: str) -> dict[str, Any]:
        """The task's TaskInfo now, without counting as a poll: the dict the adapter face encodes
        (``vismock.codec``'s form), keyed by TaskInfo's element names, only those that have a value:

        ``key``, ``Task`` (the task's id), ``name`` (the vim25 method), ``descriptionId``,
        ``entityName``, ``changeTag``, ``parentTaskKey``, ``rootTaskKey``, ``activationId``,
        ``result``: str; ``state``: str, one of queued, running, success, error;
        ``cancelled``, ``cancelable``: bool; ``progress`` (0-100, while running) and
        ``eventChainId``: int; ``queueTime``, ``startTime``, ``completeTime``:
        :class:`~vismock.codec.XsDateTime` (a str keeping the exact text; ``.datetime`` is aware);
        the entity under its type's name (``VirtualMachine``: ``"vm-42"``; also ``HostSystem``,
        ``Datastore``...): str; ``error``: ``{"fault": "InvalidState", "localizedMessage": "..."}``;
        ``description``: ``{"key": str, "message": str}``; ``locked``: a list of
        ``{"VirtualMachine": "vm-42"}``-like dicts; the reason, one of ``TaskReasonUser``
        (``{"userName": str}``), ``TaskReasonAlarm`` (``{"alarm", "alarmName", "entity",
        "entityName"}``: str each), ``TaskReasonSchedule`` (``{"name", "scheduledTask"}``) or
        ``TaskReasonSystem`` (None). docs/mock.md has the table.
        """
        return self.backend.tasks.info(task_id, poll=False)

    def advance_task(self, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Manual progression: take the next *steps* timeline steps."""
        return self.backend.tasks.advance(task_id, steps)

    # -- the inventory and power operations ----------------------------------------------------------
    def set_inventory(self, inventory: Mapping[str, Any]) -> None:
        """Serve another inventory for this test: the scenario file's ``inventory:`` document
        (``{"datacenters": [...]}``). The next reset returns to the loaded one."""
        from vismock.mockserver.state.inventory import InventoryError, entities_from_document
        from vismock.mockserver.state.taskfile import format_path

        try:
            entities = entities_from_document(inventory, ())
        except InventoryError as error:
            raise ValueError(f"set_inventory: {format_path(error.path)}: {error.reason}") from None
        self.backend.replace_inventory(entities)

    def vm_id(self, vm: str) -> str:
        """The id of VM *vm* (given by id or by name)."""
        inventory = self.backend.inventory
        found = inventory.find(vm)
        if found is not None and found.type == "VirtualMachine":
            return found.id
        named = inventory.named(vm, "VirtualMachine")
        if len(named) != 1:
            there = f"; {self._vms_there_are()}" if not named else ""
            raise LookupError(f"{len(named) or 'no'} virtual machine(s) named {vm!r}{there}")
        return named[0].id

    def _has_vm(self, vm: str) -> bool:
        found = self.backend.inventory.find(vm)
        return (found is not None and found.type == "VirtualMachine") or bool(
            self.backend.inventory.named(vm, "VirtualMachine")
        )

    def _vms_there_are(self) -> str:
        """``its VMs: win1 (vm-601), ...``, as the admin API lists the inventory."""
        entities = self.app.test_client().get("/_vismock/inventory").get_json()["entities"]
        vms = [
            f"{entity['name']} ({entity['id']})" for entity in entities if entity["type"] == "VirtualMachine"
        ]
        return f"its VMs: {', '.join(vms)}" if vms else "it has no VM"

    def power_state(self, vm: str) -> str:
        """VM *vm*'s power state now (poweredOn, poweredOff, suspended), as clients read it."""
        return self.backend.inventory.power(self.vm_id(vm)).state

    def set_power_state(self, vm: str, state: str) -> None:
        """Set VM *vm*'s power state as if it had always been so."""
        self.backend.inventory.set_power_state(self.vm_id(vm), state)

    def set_operation(self, operation: str = "default", **behaviour: Any) -> None:
        """How the tasks of *operation* (a vim25 task method, its VIS operation, or ``default``)
        behave: ``set_operation("Power_Off_VM", progression="polls", timeline=[...])``, or
        ``set_operation(timeline=[{"state": "success", "at": 0}])`` to make every one instant."""
        from vismock.mockserver.state.taskfile import behaviours_from_dict

        call = _call("set_operation", {"operation": operation, **behaviour})
        self.backend.operations.set_behaviours(behaviours_from_dict({operation: behaviour}, source=call))

    def script(
        self, operation: str | None = None, vm: str | None = None, times: int | None = 1, **outcome: Any
    ) -> Override:
        """The next *times* tasks of *operation* on *vm* behave otherwise: ``script("Power_Off_VM",
        vm="win1", fault="InvalidState", after=2, progression="polls")`` (the next one fails after
        2 polls), or with a ``timeline``. *times* None: every time. A *vm* the inventory does not
        have (by name or id) is refused, naming the VMs it has; a bad outcome names this call."""
        from vismock.mockserver.state.taskfile import override_from_dict

        given = {"operation": operation, "vm": vm, "times": times, **outcome}
        given = {key: value for key, value in given.items() if value is not None or key == "times"}
        call = _call("script", {key: value for key, value in given.items() if key != "times" or value != 1})
        if vm is not None and not self._has_vm(vm):
            raise LookupError(
                f"{call}: no VM {vm!r} in the inventory (by name or id); {self._vms_there_are()}"
            )
        return self.backend.operations.add_override(override_from_dict(given, source=call))

    def assert_called(
        self, operation: str, vm: str | None = None, times: int | None = None, *, face: Face | None = None
    ) -> None:
        """Assert a task method was called on *vm*, on either face: ``assert_called(
        "PowerOffVM_Task", vm="win1", times=1)`` counts PowerOffVM_Task calls over SOAP and
        Power_Off_VM requests to the adapter face (exactly *times*, or at least once when None)."""
        from vismock.schemas import task_method, task_operations

        method = task_method(operation)
        names = [method, *(op for op, m in task_operations().items() if m == method)]
        entity = None if vm is None else self.vm_id(vm)
        seen = sum(self.count(operation=name, entity=entity, face=face) for name in names)
        self._check_times(seen, times, f"{' or '.join(names)} on {vm or 'any VM'}")

    def assert_polled(self, task: str, times: int | None = None, *, face: Face | None = None) -> None:
        """Assert task *task* was read by clients (exactly *times*, or at least once when None):
        Retrieve_Task_Status on the adapter face; Fetch, RetrieveProperties(Ex) over SOAP."""
        seen = sum(self.count(task=task, operation=name, face=face) for name in POLL_OPERATIONS)
        self._check_times(seen, times, f"reads of {task}")

    def _check_times(self, seen: int, times: int | None, what: str) -> None:
        if (times is None and seen == 0) or (times is not None and seen != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            recent = "\n".join(f"  {_describe(entry)}" for entry in self.journal()[-10:]) or "  (none)"
            raise AssertionError(
                f"expected {what} {wanted}, saw {seen}.\nLast requests in the journal:\n{recent}"
            )

    # -- clock ------------------------------------------------------------------------------------
    def freeze(self, at: datetime | None = None) -> datetime:
        return self.backend.freeze(at)

    def advance(self, seconds: float) -> datetime:
        """Move the mock's clock on by *seconds* (frozen or not); returns the new time."""
        return self.backend.advance(seconds)

    def resume(self) -> datetime:
        return self.backend.resume()

    def now(self) -> datetime:
        return self.backend.clock.now()

    # -- journal and verification ---------------------------------------------------------------------
    def journal(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        entity: str | None = None,
    ) -> list[JournalEntry]:
        """Requests seen so far, oldest first (admin requests included only with ``face="admin"``);
        *entity*: those acting on that managed entity (a VM's id)."""
        entries = self.backend.journal.entries(
            task=task, outcome=outcome, face=face, operation=operation, entity=entity
        )
        return entries if face is not None else [entry for entry in entries if entry.face != "admin"]

    def count(self, **filters: Any) -> int:
        return self.backend.journal.count(**filters)

    def assert_requested(
        self,
        task: str | None = None,
        times: int | None = None,
        *,
        face: Face | None = None,
        operation: str | None = None,
        outcome: str | None = None,
    ) -> None:
        """Assert matching requests were made: exactly *times*, or at least once when None."""
        seen = self.count(task=task, outcome=outcome, face=face, operation=operation)
        wanted = "at least once" if times is None else f"{times} time(s)"
        if (times is None and seen == 0) or (times is not None and seen != times):
            filters = {"task": task, "face": face, "operation": operation, "outcome": outcome}
            shown = ", ".join(f"{name}={value!r}" for name, value in filters.items() if value is not None)
            recent = "\n".join(f"  {_describe(entry)}" for entry in self.journal()[-10:]) or "  (none)"
            raise AssertionError(
                f"expected requests matching {shown or 'anything'} {wanted}, saw {seen}.\n"
                f"Last requests in the journal:\n{recent}"
            )

    # -- faults ---------------------------------------------------------------------------------------------
    def fail_next(
        self,
        action: str = "error",
        *,
        task: str | None = None,
        operation: str | None = None,
        face: Face | None = None,
        times: int | None = 1,
        probability: float = 1.0,
        **options: Any,
    ) -> FaultRule:
        """Add a fault rule: ``fail_next("drop", task="task-525")``, ``fail_next("delay", delay_seconds=2)``.

        *action*: delay, status (``http_status=``), error (``fault=``, ``message=``), malformed, drop.
        """
        from vismock.mockserver.state import FaultRule

        rule = FaultRule(
            action=action,  # type: ignore[arg-type]
            task=task,
            operation=operation,
            face=face,
            times=times,
            probability=probability,
            **options,
        )
        return self.backend.faults.add(rule)

    def clear_faults(self) -> None:
        self.backend.faults.clear()

    # -- server-side errors -------------------------------------------------------------------------------
    @property
    def server_errors(self) -> list[str]:
        """Exceptions the server logged since the last reset (tracebacks included)."""
        return list(self._errors.records)

    def stop(self) -> None:
        if self._https is not None:
            self._https.stop()
            self._https = None
        self._stop()


@dataclass
class _HttpsListener:
    """A second listening socket on a plugin server's app, over TLS (werkzeug, a daemon thread)."""

    url: str
    files: Any  # vismock.mockserver.tls.TLSFiles
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @classmethod
    def start(cls, app: Flask, folder: Path, host: str) -> _HttpsListener:
        from vismock.mockserver import tls  # imports cryptography: only for the tests that use TLS

        files = tls.generate(folder, tls.san_hosts(host))
        server = _make_server(app, host, ssl_context=tls.server_context(files))
        thread = _serve_in_thread(server)
        return cls(f"https://{host}:{server.server_port}", files, server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _call(name: str, arguments: Mapping[str, Any]) -> str:
    """How the user called *name*: ``script(operation='Power_Off_VM', fault='InvalidStat')``."""
    shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
    return f"{name}({shown})"


def _describe(entry: JournalEntry) -> str:
    tasks = ",".join(entry.task_ids) or "-"
    on = f" on={entry.entity}" if entry.entity else ""
    return f"{entry.face} {entry.operation}{on} tasks={tasks} user={entry.user} outcome={entry.outcome}"


def start_server(
    folder: Path,
    *,
    tasks_file: str | Path | None = None,
    accounts: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    dynamic: bool = False,
) -> VismockServer:
    """Start a mock vCenter on a free port in this process (werkzeug's threaded server in a daemon
    thread: like pytest-httpserver, a real socket that any HTTP client reaches)."""

    from vismock.mockserver.app import create_app

    config: dict[str, Any] = {
        "VISMOCK_ACCOUNTS": accounts,
        "VISMOCK_DYNAMIC": dynamic,
    }
    if tasks_file is not None:
        config["VISMOCK_TASKS"] = str(tasks_file)
    app = create_app(config)
    in_flight = _InFlight(app.wsgi_app)
    app.wsgi_app = in_flight  # type: ignore[method-assign]
    server = _make_server(app, host)
    errors = _ErrorCollector()
    logger = logging.getLogger(SERVER_LOGGER)
    logger.addHandler(errors)
    thread = _serve_in_thread(server)

    def stop() -> None:
        logger.removeHandler(errors)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return VismockServer(
        app=app,
        url=f"http://{host}:{server.server_port}",
        _stop=stop,
        _errors=errors,
        _in_flight=in_flight,
        _tls_folder=folder / "tls",
    )


def _make_server(app: Flask, host: str, ssl_context: Any = None) -> Any:
    """werkzeug's threaded server for *app* on a free port of *host* (TLS with *ssl_context*)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients of vCenter expect

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the journal records requests; an access line per request is noise in test output

    return make_server(host, 0, app, threaded=True, request_handler=QuietHandler, ssl_context=ssl_context)


def _serve_in_thread(server: Any) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="vismock-server", daemon=True
    )
    thread.start()
    return thread


class _InFlight:
    """WSGI middleware counting the requests being answered, so a reset can wait for them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._count = 0
        self._idle = threading.Condition()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._idle:
            self._count += 1
        try:
            yield from self.app(environ, start_response)
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no request is being answered; False if some still are after *timeout*."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class ServerNotStarted(Exception):
    """The server of a configuration could not start; the message says why (file, line, field)."""


class _ServerPool:
    """One server per (tasks file, accounts, dynamic) configuration, for the whole session. A
    configuration whose server cannot start is tried once: the tests after the first that asked
    for it are told so in one line."""

    def __init__(self, folder_factory: pytest.TempPathFactory) -> None:
        self._folders = folder_factory
        self._servers: dict[tuple[str | None, tuple[tuple[str, str], ...] | None, bool], VismockServer] = {}
        self._failed: dict[tuple[str | None, tuple[tuple[str, str], ...] | None, bool], tuple[str, str]] = {}

    def get(
        self,
        tasks_file: str | Path | None,
        accounts: Mapping[str, str] | None,
        dynamic: bool = False,
        *,
        asked_by: str = "",
    ) -> VismockServer:
        """The server of this configuration; ServerNotStarted when it cannot start (*asked_by*:
        the test asking, named to the later ones)."""
        key = (
            str(Path(tasks_file).resolve()) if tasks_file is not None else None,
            tuple(sorted(accounts.items())) if accounts is not None else None,
            dynamic,
        )
        if key in self._failed:
            first_test, reason = self._failed[key]
            raise ServerNotStarted(f"vismock: the server did not start ({reason}); in full at {first_test}")
        server = self._servers.get(key)
        if server is None:
            folder = self._folders.mktemp("vismock")
            try:
                server = start_server(folder, tasks_file=tasks_file, accounts=accounts, dynamic=dynamic)
            except (ValueError, OSError) as error:  # VismockError (TaskFileError...) is a ValueError
                self._failed[key] = (asked_by, str(error).splitlines()[0])
                raise ServerNotStarted(f"vismock: the server did not start:\n{error}") from None
            self._servers[key] = server
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def vismock_server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ServerPool]:
    pool = _ServerPool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture
def vismock_tasks_file() -> str | Path | None:
    """The task file the server loads; override it to serve your own (None: built-in tasks)."""
    return None


@pytest.fixture
def vismock_accounts() -> Mapping[str, str] | None:
    """The accounts the server accepts; override it (None: ``vismock`` / ``vismock``)."""
    return None


@pytest.fixture
def vismock_dynamic() -> bool:
    """Override to return True: unknown task ids get generated TaskInfos (default False)."""
    return False


def _check_configuration(tasks_file: Any, accounts: Any, dynamic: Any) -> None:
    """What the fixtures returned is what the server takes (ServerNotStarted says which is not)."""
    if tasks_file is not None and not isinstance(tasks_file, str | os.PathLike):
        raise ServerNotStarted(
            f"vismock_tasks_file must return a path (str or Path) or None, not {tasks_file!r}"
        )
    plain = isinstance(accounts, Mapping) and all(
        isinstance(user, str) and user and isinstance(password, str) for user, password in accounts.items()
    )
    if accounts is not None and not plain:
        raise ServerNotStarted(
            "vismock_accounts must return a mapping of user name to password (str each) or None,"
            f" not {accounts!r}"
        )
    if not isinstance(dynamic, bool):
        raise ServerNotStarted(f"vismock_dynamic must return True or False, not {dynamic!r}")


@pytest.fixture
def vismock_server(
    request: pytest.FixtureRequest,
    vismock_server_pool: _ServerPool,
    vismock_tasks_file: str | Path | None,
    vismock_accounts: Mapping[str, str] | None,
    vismock_dynamic: bool,
) -> Iterator[VismockServer]:
    """The mock vCenter, reset for this test: ``vismock_server.url``, ``add_task``, ``assert_requested``..."""
    try:
        _check_configuration(vismock_tasks_file, vismock_accounts, vismock_dynamic)
        server = vismock_server_pool.get(
            vismock_tasks_file, vismock_accounts, vismock_dynamic, asked_by=request.node.nodeid
        )
    except ServerNotStarted as error:
        not_started = str(error)
    else:
        not_started = ""
    if not_started:  # failed outside the except block: no exception chain in the report
        pytest.fail(not_started, pytrace=False)
    server.reset()
    yield server
    errors = server.server_errors
    if errors and server.raise_server_errors:
        pytest.fail("the vismock server raised during this test:\n" + "\n\n".join(errors), pytrace=False)


@pytest.fixture
def vismock_si(vismock_server: VismockServer, vismock_accounts: Mapping[str, str] | None) -> Iterator[Any]:
    """A pyVmomi ``ServiceInstance`` logged in to ``vismock_server`` (over HTTP) as the first of
    ``vismock_accounts`` (vismock / vismock by default); logged out after the test. Its login is
    in the journal, as any client's."""
    from pyVim import connect

    pyvim: Any = connect  # pyVim is untyped
    user, password = next(iter((vismock_accounts or DEFAULT_ACCOUNT).items()))
    service_instance = pyvim.SmartConnect(
        protocol="http", host=vismock_server.host, port=vismock_server.port, user=user, pwd=password
    )
    yield service_instance
    pyvim.Disconnect(service_instance)
    service_instance._stub.DropConnections()  # no keep-alive socket left to the shared server
