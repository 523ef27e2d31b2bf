"""``vismock serve``: run the mock vCenter on a production WSGI server.

One process owns the mock's state, in memory (written through to ``--db`` when
given): granian by default (measured fastest here, see docs/mock.md) runs it in one
worker process with threads (``--threads``), supervised by its main process, which
replaces it if it dies; ``--server waitress`` and ``--server gunicorn`` run it with
threads too. The worker is configured through ``VISMOCK_*`` environment variables
and builds the app with :func:`vismock.mockserver.app.create_app_from_env`; the
main process checks everything first (a bad option, task file or state file is one
line and exit 2) and forwards SIGHUP to it as a reload.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import importlib
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from vismock.errors import VismockError
from vismock.extras import require
from vismock.mockserver import accesslog

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from vismock.mockserver.tls import TLSFiles

APP_FACTORY = "vismock.mockserver.app:create_app_from_env"
# Server -> (its package, the extra that installs it; None: a core dependency).
SERVER_PACKAGES: dict[str, tuple[str, str | None]] = {
    "granian": ("granian", None),
    "waitress": ("waitress", None),
    "gunicorn": ("gunicorn.app.wsgiapp", "gunicorn"),
}
SERVERS = tuple(SERVER_PACKAGES)
DEFAULT_PORT = 8080
MAX_PORT = 65535
DEFAULT_GRANIAN_THREADS = 64
WORKERS_KILL_SECONDS = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the mock vCenter (adapter face, SOAP face, admin API)",
        description="Run the mock vCenter. With no arguments: the built-in canned tasks on "
        f"http://127.0.0.1:{DEFAULT_PORT}/ (adapter face POST /adapter, SOAP /sdk, admin /_vismock/).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument("--tasks", metavar="FILE", help="task file (YAML or TOML); default: built-in tasks")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="1: one process owns the state (more is refused)"
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file every change is written to before it is acknowledged, read back at start"
        " (default: the state lives in memory only)",
    )
    parser.add_argument(
        "--account",
        action="append",
        metavar="USER:PASSWORD",
        help="an account (repeatable); default: vismock:vismock. Also VISMOCK_ACCOUNTS (JSON object)",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("VISMOCK_ADMIN_TOKEN"),
        help="require this bearer token on /_vismock/ (default: admin API answers loopback clients only)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="without --admin-token, a Host name the admin API and dashboard answer besides localhost, "
        "the loopback addresses and --host (repeatable; others are refused: DNS rebinding). "
        "Also VISMOCK_ALLOWED_HOSTS (comma-separated)",
    )
    parser.add_argument("--journal-cap", type=int, default=None, metavar="N", help="journal entries kept")
    parser.add_argument(
        "--dynamic",
        action="store_true",
        help="answer unknown task ids with a generated, schema-valid TaskInfo (the same for the same id)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        metavar="LEVEL",
        help="debug, info (default: an access line per request), warning or error",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        metavar="FORMAT",
        help="text (default, logfmt) or json: one object a line",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no access lines; only warnings and errors (on stderr)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate made at start by a throwaway CA (its file is printed)",
    )
    parser.add_argument("--cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--key", metavar="FILE", help="the PEM private key of --cert")
    parser.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="with --tls: write ca.pem, cert.pem and key.pem here and keep them (default: a temporary one)",
    )
    parser.add_argument(
        "--tls-name",
        action="append",
        metavar="NAME",
        help="with --tls: another host name or address for the certificate (repeatable)",
    )
    parser.add_argument("--server", choices=SERVERS, default="granian", help="WSGI server (default granian)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the server process (default: 64 granian, 32 waitress, 32 gunicorn)",
    )
    # For bench/server.py: serve another app factory on exactly the same server setup.
    parser.add_argument("--app-factory", default=APP_FACTORY, help=argparse.SUPPRESS)
    parser.set_defaults(handler=serve)


def port_number(text: str) -> int:
    """``--port``: a TCP port, 0 to 65535 (argparse reports anything else as a usage error)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, not {text!r}") from None
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"a port is 0 to {MAX_PORT} (0 picks a free one), not {port}")
    return port


class StartupError(VismockError):
    """Why ``vismock serve`` cannot start: printed as one line, exit status 2."""


def serve(args: argparse.Namespace) -> int:
    try:
        plan = _startup_plan(args)
    except (StartupError, VismockError, OSError, ValueError) as error:
        print(f"vismock serve: {error}", file=sys.stderr)
        return 2
    with _certificates(args) as certificates, _scenario_copy(plan) as copy:
        os.environ.update(plan.environment)
        if copy is not None:
            from vismock.mockserver.services import LOADED_COPY

            os.environ[LOADED_COPY] = str(copy)
        accesslog.configure_logging_from_env()
        try:
            notice = _check_state(copy)
            files = certificates()
        except (VismockError, OSError, sqlite3.Error) as error:
            print(f"vismock serve: {_store_problem(args.db, error)}", file=sys.stderr)
            return 2
        if notice:
            print(f"vismock serve: {notice}", flush=True)
        if warning := exposure_warning(args):
            print(warning, file=sys.stderr, flush=True)
        print(_startup_line(args, plan.port, files), flush=True)
        print(
            "  adapter face: POST /adapter   SOAP: /sdk   admin API: /_vismock/   dashboard: /_vismock/ui/",
            flush=True,
        )
        plan.run(args, plan.port, files)
    return 0


def _startup_line(args: argparse.Namespace, port: int, files: TLSFiles | None) -> str:
    """``vismock serving on URL (server)``; over TLS with the CA file and thumbprint."""
    scheme = "http" if files is None else "https"
    url = f"{scheme}://{_url_host(args.host)}:{port}/"
    if files is None:
        return f"vismock serving on {url} ({args.server})"
    from vismock.mockserver import tls

    return tls.startup_line(url, files, server=args.server)


# A server: run with the options, the port and the TLS files (None: HTTP).
Runner = Callable[[argparse.Namespace, int, "TLSFiles | None"], None]


@dataclass(slots=True)
class StartupPlan:
    """What serve checked before starting anything: worker settings, port, the server to run,
    the task file's text as validated (None: the built-in tasks)."""

    environment: dict[str, str]
    port: int
    run: Runner
    scenario: TaskFileText | None = None


def _startup_plan(args: argparse.Namespace) -> StartupPlan:
    """Every check that can fail before the server starts, each failure one clear line."""
    if args.workers != 1:
        raise StartupError(
            f"--workers {args.workers}: vismock serves from one process, which owns the state in memory;"
            " use --threads for more concurrent requests"
        )
    run = _server_runner(args.server)
    _check_tls_options(args)
    if args.db:
        _check_db_path(Path(args.db))
    environment = _worker_environment(args)
    scenario = None
    if args.tasks:
        from vismock.mockserver.services import read_scenario

        path = Path(args.tasks).resolve()
        text = read_scenario(path)[1]  # fail here, once, with the file/line/field message
        scenario = TaskFileText(path, text or "")
    if args.db:
        environment["VISMOCK_DB"] = str(Path(args.db).resolve())
    return StartupPlan(environment, _listening_port(args.host, args.port), run, scenario)


@dataclass(frozen=True, slots=True)
class TaskFileText:
    path: Path
    text: str


@contextlib.contextmanager
def _scenario_copy(plan: StartupPlan) -> Iterator[Path | None]:
    """The server process's copy of the task file as validated (see services.LOADED_COPY), in a
    folder removed when the server stops; None for the built-in tasks."""
    if plan.scenario is None:
        yield None
        return
    from vismock.mockserver.services import keep_copy

    with tempfile.TemporaryDirectory(prefix="vismock-serve-") as folder:
        copy = Path(folder) / f"loaded{plan.scenario.path.suffix}"
        keep_copy(copy, plan.scenario.text)
        yield copy


def _check_tls_options(args: argparse.Namespace) -> None:
    """The TLS options make sense together (and the user's own files are usable)."""
    if bool(args.cert) != bool(args.key):
        given, missing = ("--cert", "--key") if args.cert else ("--key", "--cert")
        raise StartupError(f"{given} needs {missing} too (the certificate and its private key)")
    if args.cert and (args.tls_dir or args.tls_name):
        option = "--tls-dir" if args.tls_dir else "--tls-name"
        raise StartupError(f"{option} is for the certificate --tls makes; --cert/--key are used as they are")
    if (args.tls_dir or args.tls_name) and not args.tls:
        option = "--tls-dir" if args.tls_dir else "--tls-name"
        raise StartupError(f"{option} needs --tls")
    if (args.tls or args.cert) and args.server == "waitress":
        raise StartupError("waitress cannot serve TLS; use --server granian (the default) or gunicorn")
    if args.cert:
        from vismock.mockserver import tls

        tls.load(args.cert, args.key)  # a missing, unreadable or mismatched file: one line here


@contextlib.contextmanager
def _certificates(args: argparse.Namespace) -> Iterator[Callable[[], TLSFiles | None]]:
    """A function giving the TLS files to serve (None: plain HTTP): the user's, or made now by a
    throwaway CA in ``--tls-dir`` or a temporary folder removed when the server stops."""
    if not (args.tls or args.cert):
        yield lambda: None
        return
    from vismock.mockserver import tls

    if args.cert:
        yield lambda: tls.load(Path(args.cert).resolve(), Path(args.key).resolve())
        return
    hosts = tls.san_hosts(args.host, args.tls_name or ())
    if args.tls_dir:
        yield lambda: tls.generate(Path(args.tls_dir).resolve(), hosts)
        return
    with tempfile.TemporaryDirectory(prefix="vismock-tls-") as folder:
        yield lambda: tls.generate(Path(folder), hosts)


def _server_runner(name: str) -> Runner:
    """The function that runs server *name*, once its package is known to be importable."""
    package, extra = SERVER_PACKAGES[name]
    require(package, extra=extra, feature=f"--server {name}")
    return {"granian": _run_granian, "waitress": _run_waitress, "gunicorn": _run_gunicorn}[name]


def _check_db_path(path: Path) -> None:
    folder = path.resolve().parent
    if not folder.is_dir():
        raise StartupError(f"--db {path}: the folder {folder} does not exist")
    if path.exists() and not path.is_file():
        raise StartupError(f"--db {path}: not a file")


def _store_problem(db: str | None, error: Exception) -> str:
    if isinstance(error, sqlite3.DatabaseError) and db:
        return f"--db {db}: not a vismock state file ({error})"
    return str(error)


def _listening_port(host: str, port: int) -> int:
    """*port* after checking that it is free on *host* (or a free one for 0): a port in use is a
    clear start-up error here rather than a server's traceback later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "address already in use" if error.errno == errno.EADDRINUSE else error.strerror
            raise StartupError(f"cannot listen on {_url_host(host)}:{port}: {reason}") from None
        found: int = probe.getsockname()[1]
        return found


# -- configuration


def _worker_environment(args: argparse.Namespace) -> dict[str, str]:
    """The VISMOCK_* variables every worker reads; validates the task file and accounts first."""
    from vismock.mockserver.app import parse_accounts
    from vismock.mockserver.config import Settings, config_from_env

    # VISMOCK_* variables already set (VISMOCK_ACCOUNTS...): a bad one is refused here, once.
    Settings.from_config(config_from_env(os.environ))
    environment: dict[str, str] = {}
    if args.tasks:
        environment["VISMOCK_TASKS"] = str(Path(args.tasks).resolve())  # what a reload reads
    if args.account:
        environment["VISMOCK_ACCOUNTS"] = json.dumps(parse_accounts(args.account))
    if args.admin_token:
        environment["VISMOCK_ADMIN_TOKEN"] = args.admin_token
    environment["VISMOCK_ALLOWED_HOSTS"] = _allowed_hosts(args)
    if args.journal_cap is not None:
        environment["VISMOCK_JOURNAL_CAP"] = str(args.journal_cap)
    if args.dynamic:
        environment["VISMOCK_DYNAMIC"] = "1"
    environment.update(accesslog.logging_environment(args.log_level, args.log_format, args.quiet))
    return environment


def _allowed_hosts(args: argparse.Namespace) -> str:
    """The Host names the admin API answers without a token (besides localhost and loopback
    addresses): VISMOCK_ALLOWED_HOSTS's, the address listened on, each ``--allow-host``."""
    from vismock.mockserver.faces import guard

    for name in args.allow_host or ():
        if guard.normalised_host(name) is None:
            raise StartupError(
                f"--allow-host {name!r}: not a host name or IP address (the name alone, such as vcenter.test)"
            )
    names = [os.environ.get("VISMOCK_ALLOWED_HOSTS", ""), *(args.allow_host or ())]
    if not guard.is_wildcard(args.host):  # 0.0.0.0 is no Host a browser should send
        names.append(args.host)
    return ",".join(name for name in names if name)


def exposure_warning(args: argparse.Namespace) -> str | None:
    """One line saying what other machines reach when serving beyond loopback without a token."""
    from vismock.mockserver.faces import guard

    if args.admin_token or guard.is_loopback(args.host):
        return None
    login = "" if args.account or os.environ.get("VISMOCK_ACCOUNTS") else " (default login: user vismock)"
    return (
        f"vismock serve: warning: --host {args.host} without --admin-token: every machine that can reach"
        f" this one can use the adapter face and the SOAP face{login}; the admin API and dashboard"
        " still answer this machine only"
    )


def _check_state(copy: Path | None) -> str | None:
    """Build the state once (the scenario loaded from *copy*, ``--db`` opened and written), so that
    a bad state file is a start-up error here; what it replaced, if anything. The server process
    then serves the state file as this left it (or the copy, without ``--db``)."""
    from vismock.mockserver.config import Settings, config_from_env
    from vismock.mockserver.services import build_backend

    backend = build_backend(Settings.from_config(config_from_env(os.environ)), scenario_file=copy)
    try:
        return backend.load_notice
    finally:
        backend.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- servers


def _run_granian(args: argparse.Namespace, port: int, files: TLSFiles | None) -> None:
    from granian.constants import Interfaces, SSLProtocols

    # Threads run the Flask app; SOAP WaitForUpdates holds one for up to maxWaitSeconds, hence not few.
    threads = args.threads or DEFAULT_GRANIAN_THREADS
    server = granian_server_class()(
        args.app_factory,
        address=args.host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,  # one process owns the state
        factory=True,
        websockets=False,
        log_access=False,  # vismock writes its own access lines (vismock.accesslog)
        log_level=_granian_log_level(args),
        log_dictconfig=accesslog.server_log_config(args.log_format),
        blocking_threads=threads,
        backpressure=threads,
        workers_kill_timeout=WORKERS_KILL_SECONDS,  # a worker that ignores the stop request is killed
        # A worker that dies (killed, out of memory) is replaced: a mock shared by a test run outlives
        # it (with --db, with every acknowledged change). granian gives up (and stops) if the worker
        # dies again within 5.5 s of being replaced, rather than respawning in a loop.
        respawn_failed_workers=True,
        ssl_cert=files.cert_file if files else None,
        ssl_key=files.key_file if files else None,
        # granian's default minimum is TLS 1.3; Java 8 clients (the BMC adapter's JVM) may speak 1.2 only.
        ssl_protocol_min=SSLProtocols.tls12,
    )
    from vismock.mockserver import reload

    # granian's own SIGHUP respawns its workers; vismock's asks the worker to reload the task file
    # instead (installed once granian has set its signal handlers, before the worker starts).
    server.on_startup(lambda: reload.forward_sighup(_own_url(args, port, files), args.admin_token))
    server.serve()  # handles SIGINT/SIGTERM: stops workers, then returns


def granian_server_class() -> Any:
    """granian's server, except that a worker already reaped counts as stopped.

    granian reaps each worker process from two threads: a watcher joins it for as long as it lives,
    and the stop joins it with a timeout. When the watcher wins, ``Process.is_alive()`` in the
    stopping thread still says True (the exit status is recorded a moment later), so a clean stop
    logged "Killing worker-1 after it refused to gracefully stop" about 10 ms after the worker had
    stopped, and signalled a process id already gone (granian 2.8.9: 1 stop in 10 to 15 with a
    SIGTERM to the process group, a trivial WSGI app included).
    """
    from granian.server import MPServer, Server

    if Server is not MPServer:  # a free-threaded Python: workers are threads, no process to reap
        return Server

    class ReapAwareServer(MPServer):
        def _init_shared_socket(self) -> None:
            """The listening socket made here, in the main process, and inherited by the worker, as
            granian does off Linux. On Linux granian lets each worker bind its own (SO_REUSEPORT):
            while the one worker was replaced nothing listened, and new connections were refused
            for about 0.1 s; now they wait in the socket's backlog for the new worker."""
            from granian.net import SocketSpec  # type: ignore[attr-defined]  # not in its __all__

            server: Any = self  # granian's attributes are untyped
            if server.bind_uds or sys.platform != "linux":
                super()._init_shared_socket()  # type: ignore[no-untyped-call]
                return
            server._shd = SocketSpec(server.bind_addr, server.bind_port, server.backlog).build()
            server._sfd = server._shd.get_fd()
            server._ssp = None
            server._sso = socket.socket(fileno=server._sfd)
            server._sso.set_inheritable(True)

        def _spawn_worker(self, *args: Any, **kwargs: Any) -> Any:
            worker = super()._spawn_worker(*args, **kwargs)
            # This worker only: granian's class and its other users are left as they are.
            worker.is_alive = functools.partial(worker_process_alive, worker.inner)  # type: ignore[method-assign]
            return worker

    return ReapAwareServer


def worker_process_alive(process: BaseProcess) -> bool:
    """Whether *process* (a child of this process) still runs, even when another thread reaped it
    and has not yet recorded its exit status (``is_alive()`` alone says True then)."""
    if not process.is_alive():
        return False
    assert process.pid is not None  # started: is_alive() is False before start
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)  # looks, reaps nothing
    except ChildProcessError:
        return False  # no such child any more: already reaped
    return True


def _granian_log_level(args: argparse.Namespace) -> Any:
    from granian.log import LogLevels

    numeric = accesslog.parse_level(args.log_level)
    if args.quiet:
        numeric = max(numeric, logging.WARNING)
    return LogLevels(logging.getLevelName(numeric).lower())


def _run_waitress(args: argparse.Namespace, port: int, files: TLSFiles | None) -> None:
    import waitress  # type: ignore[import-untyped]

    module_name, _, factory_name = args.app_factory.partition(":")
    app = getattr(importlib.import_module(module_name), factory_name)()
    server = waitress.create_server(
        app,
        host=args.host,
        port=port,
        threads=args.threads or 32,
        # waitress refuses a body of this size or more; the app's cap admits the cap itself.
        max_request_body_size=(app.config.get("MAX_CONTENT_LENGTH") or 1024 * 1024 * 1024) + 1,
    )
    server.channel_class = _waitress_channel_answering_413_with(app)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from vismock.mockserver import reload
    from vismock.mockserver.services import services_of

    reload.on_sighup(services_of(app))
    run_waitress_until(server, stop)


def _waitress_channel_answering_413_with(app: Any) -> type:
    """waitress's channel, except that a body over the cap is refused by *app* itself.

    waitress refuses an announced oversize body before reading it (good), but in plain text;
    here the app answers instead, from a request with the same method, path and headers and
    an empty body, so each face gives its own documented error (XML envelope, SOAP fault, JSON).
    """
    from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
    from waitress.task import ErrorTask  # type: ignore[import-untyped]
    from waitress.utilities import RequestEntityTooLarge  # type: ignore[import-untyped]
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    class AppAnswersTooLarge(ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            request = self.request
            if not isinstance(request.error, RequestEntityTooLarge):
                super().execute()
                return
            headers = {
                name.replace("_", "-").title(): value
                for name, value in request.headers.items()
                if name not in ("CONTENT_LENGTH", "TRANSFER_ENCODING")  # the body is not passed on
            }
            environ = EnvironBuilder(path=request.path, method=request.command, headers=headers).get_environ()
            over_the_cap = app.config["MAX_CONTENT_LENGTH"] + 1
            environ["CONTENT_LENGTH"] = str(max(request.content_length or 0, over_the_cap))
            environ["REMOTE_ADDR"] = self.channel.addr[0]  # the admin API answers by client address
            body_parts, status, response_headers = run_wsgi_app(app, environ)
            body = b"".join(body_parts)
            self.status = status
            self.response_headers.extend(
                (name, value) for name, value in response_headers.items() if name.lower() != "content-length"
            )
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class Channel(HTTPChannel):  # type: ignore[misc]
        error_task_class = AppAnswersTooLarge

    return Channel


def run_waitress_until(server: Any, stop: threading.Event, poll_seconds: float = 0.2) -> None:
    """Serve until *stop* is set, then close every socket from this same thread.

    waitress's own ``close()`` called from another thread (or a signal handler)
    races its select loop; stopping between loop turns does not.
    """
    from waitress import wasyncore

    try:
        while not stop.is_set() and server._map:
            wasyncore.loop(timeout=poll_seconds, map=server._map, count=1)
    finally:
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()


def _run_gunicorn(args: argparse.Namespace, port: int, files: TLSFiles | None) -> None:
    from gunicorn.app.wsgiapp import WSGIApplication  # type: ignore[import-untyped]
    from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]

    from vismock.mockserver import reload

    url = _own_url(args, port, files)

    class ReloadingArbiter(Arbiter):  # type: ignore[misc]
        """gunicorn's SIGHUP restarts its workers, which would lose the state in memory; here it
        asks the worker to read the task file again instead."""

        def handle_hup(self) -> None:
            reload.request_reload(url, args.admin_token)

    class Gunicorn(WSGIApplication):  # type: ignore[misc]
        def run(self) -> None:
            ReloadingArbiter(self).run()

    # One sync worker with threads (gthread): the one process that owns the state.
    argv = ["gunicorn", "--bind", f"{args.host}:{port}", "--workers", "1"]
    argv += ["--worker-class", "gthread", "--threads", str(args.threads or 32)]
    if files is not None:
        argv += ["--certfile", str(files.cert_file), "--keyfile", str(files.key_file)]
    sys.argv = [*argv, f"{args.app_factory}()"]
    Gunicorn("%(prog)s [OPTIONS] [APP_MODULE]").run()


def _own_url(args: argparse.Namespace, port: int, files: TLSFiles | None) -> str:
    """Where this server answers itself (the main process asks its worker to reload there)."""
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else "::1" if args.host == "::" else args.host
    return f"{'https' if files else 'http'}://{_url_host(host)}:{port}"
