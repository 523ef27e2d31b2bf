"""Every setting of the mock server, in one place: its config key, type, default and meaning.

``create_app(config)`` reads them from its mapping (Flask's ``app.config``); the server process of
``vismock serve`` reads them from the environment, where each key is a variable of the same name
(``VISMOCK_DB``, ``VISMOCK_JOURNAL_CAP``, ``VISMOCK_MAX_CONTENT_LENGTH``...; mappings as JSON).
A bad value is a :class:`~vismock.errors.VismockError` naming the key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from vismock.errors import VismockError
from vismock.mockserver.faces.guard import normalised_host

PREFIX = "VISMOCK_"
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """The mock's settings; the field ``x_y`` is config key and environment variable ``VISMOCK_X_Y``."""

    tasks: str | None = None  # task file (YAML or TOML); None: the built-in tasks
    db: str | None = None  # SQLite file the state is written through to (kept); None: in memory only
    accounts: Mapping[str, str] | None = None  # user name -> password; None: vismock / vismock
    admin_token: str | None = None  # the admin API needs "Authorization: Bearer <token>"; None: loopback only
    journal_cap: int = 10_000  # journal entries kept (oldest dropped first)
    session_cap: int = 10_000  # SOAP sessions a user may hold (a new login ends that user's least active)
    session_lifetime: float | None = None  # seconds of mock time a session lives; None: until logout
    dynamic: bool = False  # unknown task ids read as generated TaskInfos (the same for the same id)
    max_content_length: int = DEFAULT_MAX_BODY  # request body cap in bytes (413 above it)
    fast_path: bool = True  # False: every request through Flask's routing (see fastpath.py)
    soap_max_wait: float = 300.0  # seconds a WaitForUpdates without maxWaitSeconds holds a worker
    remembered_answers: int = 1024  # answers of repeated reads kept while they hold
    task_cap: int = 10_000  # tasks created by operations kept (the oldest dropped first)
    # Host names and addresses the admin API answers without a token, besides localhost and the
    # loopback addresses (mockserver/faces/guard.py); comma-separated in the environment.
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def keys(cls) -> dict[str, str]:
        """Config key -> field name, for every setting."""
        return {PREFIX + field.name.upper(): field.name for field in fields(cls)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings in a Flask config (keys ``VISMOCK_*``); absent keys keep their defaults.

        ``MAX_CONTENT_LENGTH``, Flask's own name for the body cap, is read too.
        """
        values: dict[str, Any] = {}
        for key, name in cls.keys().items():
            if config.get(key) is not None:
                values[name] = _checked(key, name, config[key])
        if config.get("MAX_CONTENT_LENGTH") is not None and "max_content_length" not in values:
            values["max_content_length"] = _checked(
                "MAX_CONTENT_LENGTH", "max_content_length", config["MAX_CONTENT_LENGTH"]
            )
        return cls(**values)


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``VISMOCK_*`` variables of *environ* as config values (each parsed for its type)."""
    config: dict[str, Any] = {}
    for key, name in Settings.keys().items():
        text = environ.get(key)
        if text:
            config[key] = _parsed(key, name, text)
    return config


_TYPES = {field.name: str(field.type) for field in fields(Settings)}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Counts are at least 1; seconds at least 0 (no wait, no batching), but a session must live.
_POSITIVE_SECONDS = {"session_lifetime"}


def _parsed(key: str, name: str, text: str) -> Any:
    """An environment variable's text as the setting's type (the checks follow in _checked)."""
    kind = _TYPES[name]
    if "Mapping" in kind:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise VismockError(f'{key}: expected a JSON object such as {{"user": "password"}}') from None
    if kind.startswith(("int", "float")):
        try:
            return (int if kind.startswith("int") else float)(text)
        except ValueError:
            expected = "an integer" if kind.startswith("int") else "a number"
            raise VismockError(f"{key}: expected {expected}, not {text!r}") from None
    return text  # booleans too: _checked reads their words, from the environment or a config alike


def _checked(key: str, name: str, value: Any) -> Any:
    kind = _TYPES[name]
    if "Mapping" in kind:
        if not isinstance(value, Mapping) or not all(
            isinstance(user, str) and isinstance(password, str) for user, password in value.items()
        ):
            raise VismockError(f"{key}: expected a JSON object of user name -> password strings")
        return dict(value)
    if kind.startswith("bool"):
        return _boolean(key, value)
    if kind.startswith("tuple"):
        return _host_names(key, value)
    if kind.startswith(("int", "float")):
        return _number(key, name, value, integer=kind.startswith("int"))
    return str(value)


def _host_names(key: str, value: Any) -> tuple[str, ...]:
    """Comma-separated text or a list of strings, each a host name or IP address (normalised)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise VismockError(f"{key}: expected host names separated by commas, or a list of them")
    names = []
    for item in (item.strip() for item in items if item.strip()):
        name = normalised_host(item)
        if name is None:
            raise VismockError(
                f"{key}: {item!r} is not a host name or IP address (give the name alone, such as"
                " vcenter.test: no scheme, port or path)"
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


def _boolean(key: str, value: Any) -> bool:
    # A typo ("ture", "maybe") must not quietly mean False: only these words count.
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise VismockError(f"{key}: expected one of {', '.join(_TRUE + _FALSE)}, not {value!r}")


def _number(key: str, name: str, given: Any, *, integer: bool) -> int | float:
    wrong_type = isinstance(given, bool) or not isinstance(given, int | float)
    if wrong_type or (integer and isinstance(given, float)):
        raise VismockError(f"{key}: expected {'an integer' if integer else 'a number'}, not {given!r}")
    value: int | float = given
    if not math.isfinite(value):
        raise VismockError(f"{key}: expected a finite number, not {value!r}")
    if integer and value < 1:
        raise VismockError(f"{key}: must be at least 1, not {value!r}")
    if name in _POSITIVE_SECONDS and value <= 0:
        raise VismockError(f"{key}: must be more than 0 seconds, not {value!r}")
    if value < 0:
        raise VismockError(f"{key}: must be at least 0 seconds, not {value!r}")
    return value
