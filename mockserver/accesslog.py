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

import atexit
import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

from vismock.errors import VismockError
from vismock.mockserver.cache import memoize

if TYPE_CHECKING:
    from vismock.mockserver.state.models import JournalEntry

LOGGER = "vismock"
ACCESS_LOGGER = "vismock.access"
FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
MAX_VALUE_CHARS = 200  # a longer value (a hostile operation name, say) is cut, marked with "..."
MAX_TASK_IDS = 20  # tasks beyond these are counted, not listed
ENV_LEVEL, ENV_FORMAT, ENV_QUIET = "VISMOCK_LOG_LEVEL", "VISMOCK_LOG_FORMAT", "VISMOCK_LOG_QUIET"
_HANDLER_MARK = "_vismock_handler"
FLUSH_SECONDS = 0.1  # log lines written at least this often
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
    entity: str | None = None  # the managed entity the call acted on (a VM powered off), if any

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
            entity=entry.entity,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...], remote_addr: str | None = None) -> AccessRecord:
        """The access-log view of a journal row as :func:`vismock.mockserver.state.journal.row_of`
        makes it (time_us, face, operation, task ids, user, outcome, http_status, entity,
        latency_ms): what a remembered answer journals."""
        _time_us, face, operation, task_ids, user, outcome, http_status, entity, latency_ms = row
        return cls(
            face=face,
            operation=operation,
            task_ids=task_ids,
            user=user,
            http_status=http_status,
            outcome=outcome,
            latency_ms=latency_ms,
            remote_addr=remote_addr,
            entity=entity,
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
        "entity": _cut(record.entity) if record.entity else None,
        "user": _cut(record.user) if record.user else None,
        "status": int(record.http_status),
        "outcome": _cut(record.outcome),
        "latency_ms": round(float(record.latency_ms), 3),
    }


def format_record(record: AccessRecord, fmt: Format = "text") -> str:
    """One line: logfmt (``key=value ...``, absent values left out) or a JSON object."""
    latency = round(float(record.latency_ms), 3)
    if fmt == "json":
        return f'{{{_body(record, "json")},"latency_ms":{latency}}}'
    return f"{_body(record, fmt)} latency_ms={latency}"


def _body(record: AccessRecord, fmt: Format) -> str:
    """The line without its latency: made once for each distinct request (a poller repeats one)."""
    key = (
        fmt,
        record.remote_addr,
        record.face,
        record.operation,
        record.task_ids,
        record.user,
        record.http_status,
        record.outcome,
        record.entity,
    )
    return _made_body(key)


def _line(body: str, latency_ms: float, created: float, fmt: Format, level: str, logger: str) -> str:
    """A whole access line as the handler writes it: time, then the record's line."""
    when = _timestamp(created)
    if fmt == "json":
        return f'{{"time":"{when}","level":"{level}","logger":"{logger}",{body},"latency_ms":{latency_ms}}}'
    return f"{when} {body} latency_ms={latency_ms}"


@memoize(1024)
def _made_body(key: tuple[Any, ...]) -> str:
    fmt, remote_addr, face, operation, task_ids, user, http_status, outcome, entity = key
    fields = record_fields(
        AccessRecord(face, operation, task_ids, user, http_status, outcome, 0.0, remote_addr, entity)
    )
    del fields["latency_ms"]
    if fmt == "json":
        return json.dumps(fields, ensure_ascii=True, separators=(",", ":"))[1:-1]
    if fmt != "text":
        raise LoggingSettingError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    parts = []
    for name, value in fields.items():
        if value is None or value == []:
            continue
        text = ",".join(value) if isinstance(value, list) else str(value)
        parts.append(f"{name}={_logfmt(text)}")
    return " ".join(parts)


# -- logging set-up


class _Formatter(logging.Formatter):
    """Access records as :func:`format_record`; other records as ``time LEVEL logger: message``."""

    def __init__(self, fmt: Format) -> None:
        super().__init__()
        self.fmt: Format = fmt

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if isinstance(access, AccessRecord):
            latency = round(float(access.latency_ms), 3)
            level = record.levelname.lower()
            return _line(_body(access, self.fmt), latency, record.created, self.fmt, level, record.name)
        when = _timestamp(record.created)
        if self.fmt == "json":
            data: dict[str, Any] = {"time": when, "level": record.levelname.lower(), "logger": record.name}
            data["message"] = record.getMessage()
            if record.exc_info:
                data["exception"] = self.formatException(record.exc_info)
            return json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _timestamp(created: float) -> str:
    """``2026-12-02T09:00:00.123Z`` (UTC, milliseconds); the part up to the second made once a second."""
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@memoize(4)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


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

    Access lines are info (admin reads debug), so *level* ``warning`` hides them too. To stderr,
    lines are written behind (:class:`WrittenBehind`); to a given *stream*, as they come.
    *quiet*: no access lines, and server messages only from warnings up. Calling it again
    replaces the handler it installed before (never two lines per message). Returns the handler.
    """
    numeric = parse_level(level)
    chosen = parse_format(fmt)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else WrittenBehind()
    handler.setFormatter(_Formatter(chosen))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger(LOGGER)
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        if isinstance(old, WrittenBehind):
            old.stop()
        else:
            old.close()
    root.addHandler(handler)
    global _installed
    _installed = (handler, chosen) if isinstance(handler, WrittenBehind) else None
    root.setLevel(max(numeric, logging.WARNING) if quiet else numeric)
    root.propagate = False  # one line per message, whatever else configured the root logger
    access = logging.getLogger(ACCESS_LOGGER)
    # Access lines are info (admin reads debug): shown from --log-level info down, never when quiet.
    access.setLevel(logging.CRITICAL + 1 if quiet else logging.NOTSET)
    access.disabled = False
    return handler


class WrittenBehind(logging.Handler):
    """Log lines to a file descriptor (stderr), written in batches off the request path.

    A request only queues its line; a thread of this process writes what is queued every
    ``interval`` seconds in one system call, and a warning or error is written at once (with
    everything before it). Measured with bench/soap.py: a write per line (``StreamHandler``,
    stderr being line-buffered) cost 40 % of the SOAP face's throughput, because each write
    releases the interpreter lock in the middle of a request. At most ``interval`` seconds of
    lines are lost if the process is killed.
    """

    def __init__(self, fd: int = 2, interval: float = FLUSH_SECONDS) -> None:
        super().__init__()
        self.fd = fd
        self.interval = interval
        self._queue: deque[str] = deque()  # appends and pops are atomic: no lock for a request
        self._write_lock = threading.Lock()
        self._pid = os.getpid()
        self._stopped = threading.Event()
        threading.Thread(target=self._flush_forever, name="vismock-log", daemon=True).start()
        atexit.register(self.flush)
        if "multiprocessing" in sys.modules:  # a worker process ends with os._exit: no atexit
            from multiprocessing import util

            util.Finalize(self, self.flush, exitpriority=100)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self.flush()

    def queue_line(self, line: str) -> None:
        """Queue a line already formatted (an access line: info or debug, written in the next batch)."""
        self._queue.append(line + "\n")

    def flush(self) -> None:
        if os.getpid() != self._pid:
            return  # a forked child's copy: its parent writes these lines
        with self._write_lock:
            lines = []
            while self._queue:
                lines.append(self._queue.popleft())
            data = "".join(lines).encode("utf-8", "replace")
            while data:
                try:
                    data = data[os.write(self.fd, data) :]
                except InterruptedError:
                    continue
                except OSError:
                    return  # stderr closed: nothing to do about it

    def close(self) -> None:
        """Flushes, and keeps writing: logging.config.dictConfig (granian calls it at start) closes
        every handler it finds, ours included, though the loggers still use it."""
        self.flush()
        super().close()

    def stop(self) -> None:
        """No more batches (configure_logging replaced this handler)."""
        self.flush()
        self._stopped.set()

    def _flush_forever(self) -> None:
        while not self._stopped.wait(self.interval):
            self.flush()


ACCESS = logging.getLogger(ACCESS_LOGGER)
_VISMOCK = logging.getLogger(LOGGER)
# The handler configure_logging installed, when it is a WrittenBehind, with its format.
_installed: tuple[WrittenBehind, Format] | None = None


def log_access(record: AccessRecord, level: int = logging.INFO, logger: logging.Logger | None = None) -> None:
    """Write *record* as one access line on ``vismock.access`` (at info level unless told).

    The message is the text line (for handlers other than ours, pytest's caplog say); our
    formatter writes the record itself in the configured format.
    """
    target = logger or ACCESS
    if not target.isEnabledFor(level):
        return
    direct = _direct(target, level)
    if direct is not None:
        handler, fmt = direct
        latency = round(float(record.latency_ms), 3)
        name = logging.getLevelName(level).lower()
        handler.queue_line(_line(_body(record, fmt), latency, time.time(), fmt, name, ACCESS_LOGGER))
        return
    target.log(level, "%s", _Lazy(record), extra={"access": record})


def log_access_row(row: tuple[Any, ...], remote_addr: str | None) -> None:
    """:func:`log_access` of a journal row (what a remembered answer journals), at info level."""
    direct = _direct(ACCESS, logging.INFO)
    if direct is None:
        log_access(AccessRecord.from_row(row, remote_addr))
        return
    handler, fmt = direct
    _time_us, face, operation, task_ids, user, outcome, http_status, entity, latency_ms = row
    body = _made_body((fmt, remote_addr, face, operation, task_ids, user, http_status, outcome, entity))
    handler.queue_line(_line(body, round(float(latency_ms), 3), time.time(), fmt, "info", ACCESS_LOGGER))


def _direct(target: logging.Logger, level: int) -> tuple[WrittenBehind, Format] | None:
    """Our handler and format when an access line at *level* would reach it and nothing else:
    the line is then formatted here and queued, as the handler would (the logging machinery,
    a LogRecord and its dispatch, cost a quarter of a remembered answer's time). Anything else
    attached (a filter, another handler, pytest's caplog on these loggers) gets the usual path."""
    installed = _installed
    if installed is None or target is not ACCESS or level >= logging.WARNING:
        return None
    handler = installed[0]
    if (
        ACCESS.handlers
        or ACCESS.filters
        or _VISMOCK.filters
        or handler.filters
        or level < handler.level
        or _VISMOCK.handlers != [handler]
    ):
        return None
    return installed


class _Lazy:
    """The text line, made only if a handler asks for the message (ours formats the record)."""

    __slots__ = ("record",)

    def __init__(self, record: AccessRecord) -> None:
        self.record = record

    def __str__(self) -> str:
        return format_record(self.record, "text")


def logging_environment(level: str | int = "info", fmt: str = "text", quiet: bool = False) -> dict[str, str]:
    """The settings as ``VISMOCK_LOG_*`` variables for worker processes (checked here first)."""
    numeric = parse_level(level)
    return {
        ENV_LEVEL: logging.getLevelName(numeric).lower(),
        ENV_FORMAT: parse_format(fmt),
        ENV_QUIET: "1" if quiet else "0",
    }


def server_log_config(fmt: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for granian's own loggers (``_granian``: start-up, workers,
    shutdown) writing to stderr in *fmt* like vismock's, so ``--log-format json`` is all JSON."""
    handler = {"class": "logging.StreamHandler", "formatter": "vismock", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"vismock": {"()": f"{__name__}._Formatter", "fmt": parse_format(fmt)}},
        "filters": {"intended": {"()": f"{__name__}._IntendedSetup"}},
        "handlers": {"vismock": {**handler, "filters": ["intended"]}},
        "loggers": {
            "_granian": {"handlers": ["vismock"], "propagate": False},
            "granian.access": {"handlers": ["vismock"], "propagate": False},
        },
    }


class _IntendedSetup(logging.Filter):
    """Drops granian's warning about many threads per worker: vismock wants them (a SOAP
    WaitForUpdates holds one for minutes), so the warning would only alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Configuration allows spawning up to")


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
