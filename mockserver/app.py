"""The mock vCenter as a Flask application: ``create_app(config=None)``.

``config`` takes the keys of :class:`vismock.mockserver.config.Settings` (``VISMOCK_TASKS``,
``VISMOCK_DB``, ``VISMOCK_ACCOUNTS``, ...), plus two for code: ``VISMOCK_TASK_SPECS`` (TaskSpecs
instead of a file) and ``VISMOCK_BACKEND`` (an existing Backend to serve). Worker processes of
``vismock serve`` call :func:`create_app_from_env`, which reads the same keys from the environment.

``create_app`` makes every extension once: the settings, the state, the codec, the journal writer,
the faces and their caches (:class:`~vismock.mockserver.services.Services`), and puts the fast
path in front of Flask.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from vismock.codec import Codec, default_codec
from vismock.mockserver import fastpath
from vismock.mockserver.accesslog import (
    ACCESS,
    ENV_LEVEL,
    AccessRecord,
    configure_logging_from_env,
    log_access,
)
from vismock.mockserver.config import Settings, config_from_env
from vismock.mockserver.faces import adapter, soap
from vismock.mockserver.faces.admin import admin_blueprint, http_error_json
from vismock.mockserver.faces.common import Face, Reply, serve
from vismock.mockserver.services import EXTENSION, LOADED_COPY, Services, build_backend, services_of
from vismock.mockserver.state import Backend, JournalEntry
from vismock.mockserver.ui import landing_blueprint, ui_blueprint

__all__ = ["create_app", "create_app_from_env", "parse_accounts", "services_of"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A mock vCenter with the adapter face (/adapter), SOAP face (/sdk), admin API (/_vismock/) and
    dashboard (/_vismock/ui/)."""
    app = Flask("vismock.mockserver", static_folder=None)
    app.config.update(config or {})
    settings = Settings.from_config(app.config)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    codec: Codec = app.config.get("VISMOCK_CODEC") or default_codec()
    copy = app.config.get(LOADED_COPY)  # set for vismock serve's server process
    backend: Backend = app.config.get("VISMOCK_BACKEND") or build_backend(
        settings, app.config.get("VISMOCK_TASK_SPECS"), scenario_file=copy, attach=copy is not None
    )
    services = app.extensions[EXTENSION] = Services(settings, backend, codec)
    services.loaded_copy = None if copy is None else Path(copy)
    adapter_face, soap_face = adapter.AdapterFace(codec), soap.SoapFace()
    services.faces = {adapter.PATH: adapter_face, **dict.fromkeys(soap.PATHS, soap_face)}
    _route_faces(app, services)
    app.register_blueprint(admin_blueprint, url_prefix="/_vismock")
    app.register_blueprint(ui_blueprint, url_prefix="/_vismock")  # the dashboard, under the admin guard
    app.register_blueprint(landing_blueprint)  # GET /: links to all of the above
    app.register_error_handler(HTTPException, _routing_error)
    app.before_request(_note_start)
    app.after_request(_log_access)
    if settings.fast_path:
        fastpath.install(app, services)
    return app


def _route_faces(app: Flask, services: Services) -> None:
    """Flask views for the faces: the same one path the fast path takes (see faces/common.py)."""

    def view() -> Response:
        face: Face = services.faces[request.path]
        return to_response(serve(face, request.environ, services))

    for path in services.faces:
        app.add_url_rule(path, endpoint=f"face:{path}", view_func=view, methods=["POST"])
    app.add_url_rule("/sdk/vimServiceVersions.xml", "service_versions", _service_versions)


def to_response(reply: Reply) -> Response:
    if reply.drop:
        from vismock.mockserver.faces.common import drop_connection

        return Response(lambda environ, start_response: drop_connection(environ, start_response))  # type: ignore[arg-type]
    return Response(
        reply.body, status=reply.status, content_type=reply.content_type, headers=list(reply.headers)
    )


def _service_versions() -> Response:
    return Response(soap.service_versions_document(), status=200, content_type=soap.CONTENT_TYPE)


def _routing_error(error: HTTPException) -> Response | HTTPException:
    """404/405 raised by routing, before any view: in the admin API's or a face's own form."""
    if request.path.startswith("/_vismock/") or request.path == "/_vismock":
        return http_error_json(error)
    if request.path == adapter.PATH:
        face: adapter.AdapterFace = services_of_current().faces[adapter.PATH]  # type: ignore[assignment]
        if error.code == 405:
            hint = "POST a vmware-infrastructure-request to /adapter"
        else:
            hint = error.description or error.name
        response = to_response(face.http_error(error.code or 400, error.name, hint))
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers[name] = value
        return response
    return error


# -- the access log of what Flask answers (the faces' requests are logged by faces.common.serve)


def _note_start() -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        g.access_started = time.perf_counter()


def _log_access(response: Response) -> Response:
    """One access line for a request Flask answered: an admin change (info, from its journal
    entry), an admin read (debug: the dashboard polls every second), anything else (info)."""
    if not ACCESS.isEnabledFor(logging.INFO) or str(request.endpoint).startswith("face:"):
        return response
    remote = request.remote_addr
    entry: JournalEntry | None = g.pop("access_entry", None)
    if entry is not None:
        log_access(AccessRecord.from_entry(entry, remote))
        return response
    started = g.get("access_started")
    status = response.status_code
    path = request.path
    face = "admin" if path.startswith("/_vismock") else "soap" if path.startswith("/sdk") else "other"
    if path == adapter.PATH:
        face = "adapter"
    record = AccessRecord(
        face=face,
        operation=f"{request.method} {path}",
        http_status=status,
        outcome="ok" if status < 400 else "invalid" if status < 500 else "SystemError",
        latency_ms=round((time.perf_counter() - started) * 1000.0, 3) if started else 0.0,
        remote_addr=remote,
    )
    read = face == "admin" and request.method in ("GET", "HEAD") and status < 400
    log_access(record, logging.DEBUG if read else logging.INFO)
    return response


def services_of_current() -> Services:
    from flask import current_app

    return services_of(current_app)


def create_app_from_env() -> Flask:
    """The app configured from ``VISMOCK_*`` environment variables (for server worker processes),
    logging as ``vismock serve`` was told (``VISMOCK_LOG_*``, when set)."""
    if os.environ.get(ENV_LEVEL):
        configure_logging_from_env()
    config = config_from_env(os.environ)
    if os.environ.get(LOADED_COPY):
        config[LOADED_COPY] = os.environ[LOADED_COPY]
    app = create_app(config)
    tune_for_serving()
    return app


# How often a thread running Python hands the interpreter to another one waiting (CPython's
# default is 5 ms). The server's threads share one interpreter: with the default, one long request
# (a page of a big RetrievePropertiesEx) delayed other clients' polls by tens of milliseconds.
SWITCH_INTERVAL_SECONDS = 0.001
# Objects allocated (net of those freed) before the collector looks at the youngest generation
# (CPython's default is 700). Nearly all of a request's objects are freed by reference counting;
# with the default, the young and middle passes ran after every few workflows, and every tenth
# middle pass could start a full one over the state's thousands of tasks: measured in process on
# bench/workflow.py's snapshot workflow at the task cap, the collector's time fell from 1.13-1.18 s
# to 0.47-0.60 s over 10,200 workflows (full passes 8 -> 2). Garbage in cycles is still collected.
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_for_serving() -> None:
    """For the process that serves the state: the objects made so far (the state as loaded, the
    modules) are left out of the garbage collector's full passes, which otherwise walk them all and
    held every request for up to 100 ms (measured); the collector runs less often; threads take
    turns more often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def parse_accounts(pairs: Sequence[str]) -> dict[str, str]:
    """``["user:password", ...]`` as a mapping; the password may itself contain colons."""
    accounts: dict[str, str] = {}
    for pair in pairs:
        user, sep, password = pair.partition(":")
        if not sep or not user.strip():
            raise ValueError(f"account {user.strip() or '?'!r}: expected USER:PASSWORD")
        accounts[user.strip()] = password
    return accounts
