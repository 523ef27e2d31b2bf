"""Access log: one line per request, as text (logfmt) or JSON, and the logging set-up of ``serve``.

An :class:`AccessRecord` holds what a line may say: remote address, face, operation, task ids,
user name, HTTP status, outcome (``ok``, a vim25 fault type, ``invalid``, ``fault-injected``...)
and latency. It has no field for a password, a token, a header or a body, so none can be
logged; an operation is logged without any query string. ``format_record(record, "text")`` (one line)::

    remote=127.0.0.1 face=adapter operation=Retrieve_Task_Status tasks=task-525 user=vismock
    status=200 outcome=ok latency_ms=0.553

``format_record(record, "json")`` is one JSON object with the same keys (``tasks`` a list).
Values are quoted and escaped as needed, so a hostile user name or operation cannot start a
second line or forge a field; long values and long task lists are cut.

``configure_logging(level, fmt, quiet)`` sets up the ``vismock`` logger (server messages and
errors) and its child ``vismock.access`` (the access lines) to write to stderr in that format.
``log_access(record)`` writes one line. Worker processes get the same settings from the
environment: ``logging_environment(...)`` in the parent, ``configure_logging_from_env()`` in each
worker.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from vismock.errors import VismockError
from vismock.mockserver.state.models import JournalEntry

LOGGER = "vismock"
ACCESS_LOGGER = "vismock.access"
FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
MAX_VALUE_CHARS = 200  # a longer value (a hostile operation name, say) is cut, marked with "..."
MAX_TASK_IDS = 20  # tasks beyond these are counted, not listed
ENV_LEVEL, ENV_FORMAT, ENV_QUIET = "VISMOCK_LOG_LEVEL", "VISMOCK_LOG_FORMAT", "VISMOCK_LOG_QUIET"
_HANDLER_MARK = "_vismock_handler"
_BARE = re.compile(r"^[A-Za-z0-9_.,:/@+\-\[\]]+$")  # logfmt values that need no quotes

Format = Literal["text", "json"]


class LoggingSettingError(VismockError):
    """A ``--log-level`` or ``--log-format`` value that is not one of the known ones."""


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request as the access log shows it. There is deliberately no field for secrets."""

    face: str  # adapter | soap | admin (or another face name)
    operation: str  # Retrieve_Task_Status, a SOAP method, "POST /_vismock/tasks"
    task_ids: tuple[str, ...] = ()
    user: str | None = None  # the user name; never a password
    http_status: int = 200  # 0: the connection was dropped on purpose
    outcome: str = "ok"  # ok, a vim25 fault type, invalid, fault-injected, SystemError
    latency_ms: float = 0.0
    remote_addr: str | None = None

    @classmethod
    def from_entry(cls, entry: JournalEntry, remote_addr: str | None = None) -> AccessRecord:
        """The access-log view of a journal entry (the journal holds no password either)."""
        return cls(
            face=entry.face,
            operation=entry.operation,
            task_ids=tuple(entry.task_ids),
            user=entry.user,
            http_status=entry.http_status,
            outcome=entry.outcome,
            latency_ms=entry.latency_ms,
            remote_addr=remote_addr,
        )


def record_fields(record: AccessRecord) -> dict[str, Any]:
    """The line's fields in order, values cleaned (cut, query strings dropped, tasks bounded)."""
    task_ids = [_cut(task) for task in record.task_ids[:MAX_TASK_IDS]]
    if len(record.task_ids) > MAX_TASK_IDS:
        task_ids.append(f"+{len(record.task_ids) - MAX_TASK_IDS} more")
    return {
        "remote": _cut(record.remote_addr) if record.remote_addr else None,
        "face": _cut(record.face),
        "operation": _cut(record.operation.split("?", 1)[0]),
        "tasks": task_ids,
        "user": _cut(record.user) if record.user else None,
        "status": int(record.http_status),
        "outcome": _cut(record.outcome),
        "latency_ms": round(float(record.latency_ms), 3),
    }


def format_record(record: AccessRecord, fmt: Format = "text") -> str:
    """One line: logfmt (``key=value ...``, absent values left out) or a JSON object."""
    fields = record_fields(record)
    if fmt == "json":
        return json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    if fmt != "text":
        raise LoggingSettingError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    parts = []
    for key, value in fields.items():
        if value is None or value == []:
            continue
        text = ",".join(value) if isinstance(value, list) else str(value)
        parts.append(f"{key}={_logfmt(text)}")
    return " ".join(parts)


# -- logging set-up


class _Formatter(logging.Formatter):
    """Access records as :func:`format_record`; other records as ``time LEVEL logger: message``."""

    def __init__(self, fmt: Format) -> None:
        super().__init__()
        self.fmt: Format = fmt

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        if self.fmt == "json":
            data: dict[str, Any] = {"time": when, "level": record.levelname.lower(), "logger": record.name}
            if isinstance(access, AccessRecord):
                data.update(record_fields(access))
            else:
                data["message"] = record.getMessage()
                if record.exc_info:
                    data["exception"] = self.formatException(record.exc_info)
            return json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        if isinstance(access, AccessRecord):
            return f"{when} {format_record(access, 'text')}"
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def parse_level(level: str | int) -> int:
    """``debug``/``info``/``warning``/``error`` (any case) or a logging level number."""
    if isinstance(level, int):
        return level
    name = level.strip().lower()
    if name not in LEVELS:
        raise LoggingSettingError(f"--log-level: {level!r} is not one of {', '.join(LEVELS)}")
    return int(getattr(logging, name.upper()))


def parse_format(fmt: str) -> Format:
    name = fmt.strip().lower()
    if name == "text":
        return "text"
    if name == "json":
        return "json"
    raise LoggingSettingError(f"--log-format: {fmt!r} is not one of {', '.join(FORMATS)}")


def configure_logging(
    level: str | int = "info", fmt: str = "text", quiet: bool = False, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send the ``vismock`` loggers to *stream* (default stderr) in *fmt*, at *level*.

    *quiet*: no access lines, and server messages only from warnings up. Calling it again
    replaces the handler it installed before (never two lines per message). Returns the handler.
    """
    numeric = parse_level(level)
    chosen = parse_format(fmt)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_Formatter(chosen))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger(LOGGER)
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING) if quiet else numeric)
    root.propagate = False  # one line per message, whatever else configured the root logger
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.CRITICAL + 1 if quiet else logging.INFO)
    access.disabled = False
    return handler


def log_access(record: AccessRecord, logger: logging.Logger | None = None) -> None:
    """Write *record* as one access line (info level on ``vismock.access``)."""
    target = logger or logging.getLogger(ACCESS_LOGGER)
    if target.isEnabledFor(logging.INFO):
        target.info("%s", format_record(record, "text"), extra={"access": record})


def logging_environment(level: str | int = "info", fmt: str = "text", quiet: bool = False) -> dict[str, str]:
    """The settings as ``VISMOCK_LOG_*`` variables for worker processes (checked here first)."""
    numeric = parse_level(level)
    return {
        ENV_LEVEL: logging.getLevelName(numeric).lower(),
        ENV_FORMAT: parse_format(fmt),
        ENV_QUIET: "1" if quiet else "0",
    }


def configure_logging_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler:
    """``configure_logging`` from ``VISMOCK_LOG_LEVEL``, ``VISMOCK_LOG_FORMAT``, ``VISMOCK_LOG_QUIET``."""
    env = os.environ if environ is None else environ
    return configure_logging(
        env.get(ENV_LEVEL) or "info",
        env.get(ENV_FORMAT) or "text",
        (env.get(ENV_QUIET) or "0").strip().lower() in ("1", "true", "yes"),
    )


# -- helpers


def _cut(value: str) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _logfmt(text: str) -> str:
    """A logfmt value: bare when safe, else a JSON string (quotes, backslashes, newlines escaped)."""
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=True)
