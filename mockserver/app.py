"""The mock vCenter as a Flask application: ``create_app(config=None)``.

Configuration keys (all optional; ``create_app_from_env`` reads the same from
``VISMOCK_*`` environment variables for multi-process servers; there ``VISMOCK_ACCOUNTS`` is a JSON object):

``VISMOCK_TASKS``          task file (YAML or TOML); None: the built-in canned tasks
``VISMOCK_TASK_SPECS``     a sequence of TaskSpec instead of a file
``VISMOCK_ACCOUNTS``       mapping user name -> password; None: ``vismock`` / ``vismock``
``VISMOCK_DB``             SQLite file shared by worker processes; None: a private temporary one
``VISMOCK_JOURNAL_CAP``    journal entries kept (oldest dropped first), default 10,000
``VISMOCK_JOURNAL_FLUSH_SECONDS``  None (default): each request's journal entry is committed
                           before its response; a number: written behind, in batches at least
                           that often (``vismock serve``: 0.005), journal reads wait for them
``VISMOCK_ADMIN_TOKEN``    when set, the admin API needs ``Authorization: Bearer <token>``
                           from any address; when unset it answers loopback clients only
``VISMOCK_DYNAMIC``        True: unknown task ids read as generated TaskInfos (same id, same one); default off
``VISMOCK_BACKEND``        an existing Backend to serve (then the keys above are not used)
``MAX_CONTENT_LENGTH``     request body cap in bytes (413 above it), default 1 MiB
``VISMOCK_FAST_PATH``      False: every request through Flask (default True: see fastpath.py)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from vismock.codec import Codec, default_codec
from vismock.mockserver import observe
from vismock.mockserver.admin import admin_blueprint, http_error_json
from vismock.mockserver.models import Backend, TaskSpec
from vismock.mockserver.responses import adapter_blueprint, adapter_http_error

BACKEND_KEY = observe.BACKEND_KEY
CODEC_KEY = "vismock.codec"
DEFAULT_MAX_BODY = 1024 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DEFAULT_JOURNAL_CAP = 10_000

ENV_KEYS = (
    "VISMOCK_TASKS",
    "VISMOCK_ACCOUNTS",
    "VISMOCK_DB",
    "VISMOCK_JOURNAL_CAP",
    "VISMOCK_ADMIN_TOKEN",
    "MAX_CONTENT_LENGTH",
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A mock vCenter with the adapter face (/adapter), SOAP face (/sdk) and admin API (/_vismock/)."""
    app = Flask("vismock.mockserver")
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BODY
    app.config["VISMOCK_ADMIN_TOKEN"] = None
    app.config.update(config or {})
    app.extensions[CODEC_KEY] = _codec(app.config.get("VISMOCK_CODEC"))
    app.extensions[BACKEND_KEY] = app.config.get("VISMOCK_BACKEND") or build_backend(app.config)
    observe.install(app)
    app.before_request(_refuse_oversize_chunked_body)
    app.register_blueprint(adapter_blueprint)
    app.register_blueprint(admin_blueprint, url_prefix="/_vismock")
    app.register_blueprint(_soap_blueprint())
    app.register_error_handler(HTTPException, _routing_error)
    if app.config.get("VISMOCK_FAST_PATH", True):
        from vismock.mockserver import fastpath

        fastpath.install(app)  # hot requests answered without Flask's request machinery
    return app


def _refuse_oversize_chunked_body() -> None:
    """A chunked body (no Content-Length) over the cap gets 413 too, not silently cut at the cap.

    werkzeug limits such a stream to MAX_CONTENT_LENGTH without complaint; reading one
    byte past the cached body raises RequestEntityTooLarge when there was more.
    """
    if request.content_length is None and request.method in BODY_METHODS:
        request.get_data(cache=True)
        request.stream.read(1)


def _routing_error(error: HTTPException) -> Response | HTTPException:
    """404/405 raised by routing, before any blueprint: in the admin API's or adapter face's own form."""
    if request.path.startswith("/_vismock/") or request.path == "/_vismock":
        return http_error_json(error)
    if request.path == "/adapter":
        return adapter_http_error(error)
    return error


def create_app_from_env() -> Flask:
    """The app configured from ``VISMOCK_*`` environment variables (for server worker processes)."""
    return create_app(config_from_env(os.environ))


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if environ.get("VISMOCK_TASKS"):
        config["VISMOCK_TASKS"] = environ["VISMOCK_TASKS"]
    if environ.get("VISMOCK_DB"):
        config["VISMOCK_DB"] = environ["VISMOCK_DB"]
    if environ.get("VISMOCK_ADMIN_TOKEN"):
        config["VISMOCK_ADMIN_TOKEN"] = environ["VISMOCK_ADMIN_TOKEN"]
    if environ.get("VISMOCK_ACCOUNTS"):
        config["VISMOCK_ACCOUNTS"] = _accounts_json(environ["VISMOCK_ACCOUNTS"])
    if environ.get("VISMOCK_JOURNAL_CAP"):
        config["VISMOCK_JOURNAL_CAP"] = _number(environ, "VISMOCK_JOURNAL_CAP", int)
    if environ.get("VISMOCK_JOURNAL_FLUSH_SECONDS"):
        config["VISMOCK_JOURNAL_FLUSH_SECONDS"] = _number(environ, "VISMOCK_JOURNAL_FLUSH_SECONDS", float)
    if environ.get("MAX_CONTENT_LENGTH"):
        config["MAX_CONTENT_LENGTH"] = _number(environ, "MAX_CONTENT_LENGTH", int)
    if environ.get("VISMOCK_DYNAMIC"):
        config["VISMOCK_DYNAMIC"] = environ["VISMOCK_DYNAMIC"].strip().lower() in ("1", "true", "yes")
    return config


def _number(environ: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(environ[name])
    except ValueError:
        raise ValueError(
            f"{name}: expected {'an integer' if kind is int else 'a number'}, not {environ[name]!r}"
        ) from None


def parse_accounts(pairs: Sequence[str]) -> dict[str, str]:
    """``["user:password", ...]`` as a mapping; the password may itself contain colons."""
    accounts: dict[str, str] = {}
    for pair in pairs:
        user, sep, password = pair.partition(":")
        if not sep or not user.strip():
            raise ValueError(f"account {user.strip() or '?'!r}: expected USER:PASSWORD")
        accounts[user.strip()] = password
    return accounts


def _accounts_json(text: str) -> dict[str, str]:
    """VISMOCK_ACCOUNTS: a JSON object of user name -> password (names only in errors)."""
    try:
        accounts = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError('VISMOCK_ACCOUNTS: expected a JSON object such as {"user": "password"}') from None
    if not isinstance(accounts, dict) or not all(
        isinstance(user, str) and isinstance(password, str) for user, password in accounts.items()
    ):
        raise ValueError("VISMOCK_ACCOUNTS: expected a JSON object of user name -> password strings")
    return accounts


def build_backend(config: Mapping[str, Any]) -> Backend:
    specs = config.get("VISMOCK_TASK_SPECS")
    tasks: Sequence[TaskSpec] = specs if specs is not None else load_tasks(config.get("VISMOCK_TASKS"))
    return Backend(
        config.get("VISMOCK_DB"),
        tasks=tasks,
        accounts=config.get("VISMOCK_ACCOUNTS"),
        journal_cap=int(config.get("VISMOCK_JOURNAL_CAP") or DEFAULT_JOURNAL_CAP),
        dynamic=bool(config.get("VISMOCK_DYNAMIC")),
    )


def load_tasks(path: str | os.PathLike[str] | None) -> list[TaskSpec]:
    """The tasks of *path*, or the built-in canned tasks when it is None."""
    from vismock.mockserver import taskfile

    if path is None:
        return list(taskfile.load_builtin_tasks())
    return list(taskfile.load_task_file(Path(path)))


def _codec(configured: Codec | None) -> Codec:
    return configured if configured is not None else default_codec()


def _soap_blueprint() -> Any:
    from vismock.mockserver.soap import soap_blueprint

    return soap_blueprint
