"""mockserver/accesslog.py: the access line (text and JSON), no secrets, and the logging set-up."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import DATA
from tests.support.served import Served, serve_command, served
from tests.support.soap import SOAP_HEADERS, call_xml, login_body
from vismock.mockserver import accesslog
from vismock.mockserver.accesslog import AccessRecord, format_record
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state.models import JournalEntry

SECRET = "hunter2-Sup3rSecret"
RECORD = AccessRecord(
    face="adapter",
    operation="Retrieve_Task_Status",
    task_ids=("task-525", "task-2675"),
    user="vismock",
    http_status=200,
    outcome="ok",
    latency_ms=0.5534,
    remote_addr="127.0.0.1",
)


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back after each test."""
    saved = {}
    for name in (accesslog.LOGGER, accesslog.ACCESS_LOGGER):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


# -- the pure formatter -------------------------------------------------------------------------


def test_text_line() -> None:
    assert format_record(RECORD, "text") == (
        "remote=127.0.0.1 face=adapter operation=Retrieve_Task_Status tasks=task-525,task-2675"
        " user=vismock status=200 outcome=ok latency_ms=0.553"
    )


def test_text_line_leaves_out_what_is_absent() -> None:
    record = AccessRecord(face="soap", operation="RetrieveServiceContent", http_status=200, latency_ms=1)
    assert format_record(record) == (
        "face=soap operation=RetrieveServiceContent status=200 outcome=ok latency_ms=1.0"
    )


def test_json_line() -> None:
    line = format_record(RECORD, "json")
    assert "\n" not in line
    assert json.loads(line) == {
        "remote": "127.0.0.1",
        "face": "adapter",
        "operation": "Retrieve_Task_Status",
        "tasks": ["task-525", "task-2675"],
        "entity": None,
        "user": "vismock",
        "status": 200,
        "outcome": "ok",
        "latency_ms": 0.553,
    }


def test_the_entity_a_call_acted_on_is_named() -> None:
    record = dataclasses.replace(RECORD, operation="PowerOffVM_Task", task_ids=(), entity="vm-601")
    assert " operation=PowerOffVM_Task entity=vm-601 user=vismock " in format_record(record)
    assert json.loads(format_record(record, "json"))["entity"] == "vm-601"


def test_a_fault_and_a_dropped_connection() -> None:
    record = dataclasses.replace(RECORD, outcome="ManagedObjectNotFound", task_ids=("task-404",))
    assert " tasks=task-404 " in format_record(record)
    assert " outcome=ManagedObjectNotFound " in format_record(record)
    dropped = dataclasses.replace(RECORD, http_status=0, outcome="fault-injected")
    assert json.loads(format_record(dropped, "json"))["status"] == 0


def test_hostile_values_cannot_start_a_line_or_forge_a_field() -> None:
    record = dataclasses.replace(
        RECORD, user='bob status=200\nremote=10.0.0.1 face=admin "x"', operation="Evil\r\nop"
    )
    line = format_record(record)
    assert "\n" not in line and "\r" not in line
    fields = dict(part.split("=", 1) for part in shlex.split(line))
    assert fields["user"] == 'bob status=200\\nremote=10.0.0.1 face=admin "x"'
    assert fields["remote"] == "127.0.0.1"
    assert fields["status"] == "200"
    assert json.loads(format_record(record, "json"))["user"] == record.user


def test_long_values_and_long_task_lists_are_cut() -> None:
    record = dataclasses.replace(
        RECORD, operation="X" * 5000, task_ids=tuple(f"task-{n}" for n in range(1000))
    )
    fields = json.loads(format_record(record, "json"))
    assert len(fields["operation"]) == accesslog.MAX_VALUE_CHARS
    assert fields["operation"].endswith("...")
    assert len(fields["tasks"]) == accesslog.MAX_TASK_IDS + 1
    assert fields["tasks"][-1] == "+980 more"
    assert len(format_record(record)) < 2000


def test_an_operation_is_logged_without_its_query_string() -> None:
    record = dataclasses.replace(RECORD, face="admin", operation=f"GET /_vismock/journal?token={SECRET}")
    for fmt in accesslog.FORMATS:
        line = format_record(record, fmt)  # type: ignore[arg-type]
        assert SECRET not in line
        assert "/_vismock/journal" in line


def test_an_unknown_format_is_one_line() -> None:
    with pytest.raises(accesslog.LoggingSettingError, match=r"^log format 'xml' is not one of text, json$"):
        format_record(RECORD, "xml")  # type: ignore[arg-type]


# -- no secrets ----------------------------------------------------------------------------------------


def test_the_record_has_no_field_a_secret_could_go_in() -> None:
    names = {field.name for field in dataclasses.fields(AccessRecord)}
    assert names == {
        "face",
        "operation",
        "task_ids",
        "user",
        "http_status",
        "outcome",
        "latency_ms",
        "remote_addr",
        "entity",
    }
    for forbidden in ("password", "pwd", "token", "authorization", "headers", "body"):
        with pytest.raises(TypeError):
            AccessRecord(face="adapter", operation="x", **{forbidden: SECRET})  # type: ignore[arg-type]


def test_a_request_with_a_password_leaves_none_in_either_format(tmp_path: Path) -> None:
    """A real adapter request (right and wrong password) through the app, its journal entry, its line."""
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_ACCOUNTS": {"bmc": SECRET}})
    client = app.test_client()
    for password in (SECRET, SECRET + "-wrong"):
        body = (
            "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
            "<operation-name>Retrieve_Task_Status</operation-name>"
            f"<user-name>bmc</user-name><password>{password}</password>"
            "<parameters><spec-set><object-set><task>task-525</task></object-set></spec-set></parameters>"
            "</vmware-infrastructure-request>"
        )
        answer = client.post("/adapter", data=body, headers={"Content-Type": "text/xml"})
        assert answer.status_code == 200
    entries = services_of(app).backend.journal.entries()
    assert [entry.outcome for entry in entries] == ["ok", "InvalidLogin"]
    stream = io.StringIO()
    accesslog.configure_logging("info", "json", stream=stream)
    lines = []
    for entry in entries:
        record = AccessRecord.from_entry(entry, remote_addr="127.0.0.1")
        assert record.user == "bmc"
        lines += [format_record(record, "text"), format_record(record, "json")]
        accesslog.log_access(record)
    written = stream.getvalue()
    assert written.count("\n") == 2
    for text in [*lines, written]:
        assert SECRET not in text
        assert "hunter2" not in text


def test_from_entry_keeps_every_field() -> None:
    entry = JournalEntry(
        time=datetime(2026, 1, 2, tzinfo=UTC),
        face="soap",
        operation="RetrievePropertiesEx",
        task_ids=("task-1",),
        user="u",
        outcome="NotAuthenticated",
        http_status=500,
        latency_ms=2.5,
        id=7,
    )
    assert AccessRecord.from_entry(entry, "::1") == AccessRecord(
        face="soap",
        operation="RetrievePropertiesEx",
        task_ids=("task-1",),
        user="u",
        http_status=500,
        outcome="NotAuthenticated",
        latency_ms=2.5,
        remote_addr="::1",
    )


# -- configure_logging --------------------------------------------------------------------------------

TEXT_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def test_text_logging_writes_access_lines_and_server_messages() -> None:
    stream = io.StringIO()
    accesslog.configure_logging("info", "text", stream=stream)
    accesslog.log_access(RECORD)
    logging.getLogger("vismock.mockserver").warning("journal queue full (%d entries)", 10000)
    first, second = stream.getvalue().splitlines()
    assert TEXT_PREFIX.match(first) and first.endswith(format_record(RECORD, "text"))
    assert TEXT_PREFIX.match(second)
    assert second.endswith(" WARNING vismock.mockserver: journal queue full (10000 entries)")


def test_json_logging_writes_one_object_per_line_exceptions_included() -> None:
    stream = io.StringIO()
    accesslog.configure_logging("debug", "json", stream=stream)
    accesslog.log_access(RECORD)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("vismock.mockserver").exception("admin API: unexpected error")
    access, error = (json.loads(line) for line in stream.getvalue().splitlines())
    assert access["logger"] == "vismock.access" and access["level"] == "info"
    assert {key: access[key] for key in ("face", "operation", "status", "outcome")} == {
        "face": "adapter",
        "operation": "Retrieve_Task_Status",
        "status": 200,
        "outcome": "ok",
    }
    assert datetime.fromisoformat(access["time"]).tzinfo is not None
    assert error["level"] == "error" and error["message"] == "admin API: unexpected error"
    assert "RuntimeError: boom" in error["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_lines_queued_directly_are_the_lines_the_logging_path_writes(fmt: str) -> None:
    """vismock serve's handler gets access lines formatted without a LogRecord: the same lines
    as through logging (forced here by a filter on the access logger), from a record or a row."""
    read_end, write_end = os.pipe()
    handler = accesslog.configure_logging("info", fmt)
    assert isinstance(handler, accesslog.WrittenBehind)
    handler.fd = write_end
    row = (0, RECORD.face, RECORD.operation, RECORD.task_ids, RECORD.user, RECORD.outcome, 200, None, 0.5534)
    accesslog.log_access(RECORD)
    accesslog.log_access_row(row, RECORD.remote_addr)
    access = logging.getLogger(accesslog.ACCESS_LOGGER)
    everything = logging.Filter()
    access.addFilter(everything)
    try:
        accesslog.log_access(RECORD)
        accesslog.log_access_row(row, RECORD.remote_addr)
    finally:
        access.removeFilter(everything)
        handler.stop()
        os.close(write_end)
    with os.fdopen(read_end) as lines:
        written = [re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "TIME", line) for line in lines.read().splitlines()]
    assert len(written) == 4 and len(set(written)) == 1, written
    assert written[0].endswith(format_record(RECORD, "text")) if fmt == "text" else json.loads(written[0])


def test_levels_filter_server_messages() -> None:
    stream = io.StringIO()
    accesslog.configure_logging("WARNING", "text", stream=stream)
    logger = logging.getLogger("vismock.mockserver")
    logger.info("not shown")
    logger.warning("shown")
    assert "not shown" not in stream.getvalue()
    assert "shown" in stream.getvalue()


def test_quiet_drops_access_lines_and_keeps_warnings() -> None:
    stream = io.StringIO()
    accesslog.configure_logging("debug", "text", quiet=True, stream=stream)
    accesslog.log_access(RECORD)
    logger = logging.getLogger("vismock.mockserver")
    logger.info("an info line")
    logger.error("an error line")
    assert stream.getvalue().count("\n") == 1
    assert "an error line" in stream.getvalue()


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    accesslog.configure_logging("info", "text", stream=first)
    accesslog.configure_logging("info", "json", stream=second)
    accesslog.log_access(RECORD)
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


@pytest.mark.parametrize(
    ("level", "fmt", "message"),
    [
        ("loud", "text", "--log-level: 'loud' is not one of debug, info, warning, error"),
        ("info", "yaml", "--log-format: 'yaml' is not one of text, json"),
    ],
)
def test_bad_settings_are_one_line(level: str, fmt: str, message: str) -> None:
    with pytest.raises(accesslog.LoggingSettingError) as raised:
        accesslog.configure_logging(level, fmt, stream=io.StringIO())
    assert str(raised.value) == message
    with pytest.raises(accesslog.LoggingSettingError):
        accesslog.logging_environment(level, fmt)


def test_worker_processes_get_the_settings_through_the_environment() -> None:
    environment = accesslog.logging_environment("Warning", "JSON", quiet=True)
    assert environment == {
        "VISMOCK_LOG_LEVEL": "warning",
        "VISMOCK_LOG_FORMAT": "json",
        "VISMOCK_LOG_QUIET": "1",
    }
    accesslog.configure_logging_from_env(environment)
    assert logging.getLogger("vismock").level == logging.WARNING
    assert not logging.getLogger("vismock.access").isEnabledFor(logging.INFO)
    accesslog.configure_logging_from_env({})
    assert logging.getLogger("vismock").level == logging.INFO
    assert logging.getLogger("vismock.access").isEnabledFor(logging.INFO)


# -- vismock serve, for real ------------------------------------------------------------------------

TOKEN = "admin-T0ken-" + "c4n4ry"
SOAP_RETRIEVE = (
    "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
    '<objectSet><obj type="Task">task-2675</obj></objectSet></specSet><options/>'
)


def _access_lines(mock: Served, fmt: str, wanted: int, operation: str | None = None) -> list[dict[str, Any]]:
    """The access lines *mock* wrote (stderr, written behind), once there are *wanted* of them (of
    *operation*, when given: the start-up's health checks are logged too)."""
    deadline = time.monotonic() + 10
    while True:
        found = [_parsed(line, fmt) for line in mock.output.splitlines()]
        lines = [fields for fields in found if fields is not None]
        counted = [fields for fields in lines if operation in (None, fields["operation"])]
        if len(counted) >= wanted or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def _parsed(line: str, fmt: str) -> dict[str, Any] | None:
    if fmt == "json":
        if not line.startswith("{"):
            return None
        data: dict[str, Any] = json.loads(line)
        return data if data.get("logger") == "vismock.access" else None
    if " face=" not in line:
        return None
    time_text, rest = line.split(" ", 1)
    fields: dict[str, Any] = {"time": time_text}
    for pair in shlex.split(rest):
        name, _, value = pair.partition("=")
        fields[name] = value
    fields["tasks"] = fields["tasks"].split(",") if "tasks" in fields else []
    fields["status"] = int(fields["status"])
    fields["latency_ms"] = float(fields["latency_ms"])
    return fields


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_serve_writes_one_access_line_per_request_on_both_faces_and_never_a_secret(
    tmp_path: Path, fmt: str
) -> None:
    """Both faces and the admin API through a real ``vismock serve``: a right and a wrong password on
    the adapter face, a SOAP login and a read, an admin change with the token. Every line says face,
    operation, tasks, status, outcome and latency; no password, token or session key is written."""
    seed = (DATA / "seed" / "request.xml").read_bytes()
    with_user = seed.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>")
    arguments = ["--log-format", fmt, "--account", f"bmc:{SECRET}", "--admin-token", TOKEN]
    with served(*arguments, "--db", str(tmp_path / "state.sqlite3")) as mock:
        for password in (SECRET, SECRET + "-wrong"):
            body = with_user.replace(b"<password></password>", f"<password>{password}</password>".encode())
            assert mock.request("POST", "/adapter", body)[0] == 200
        status, answer, headers = mock.request("POST", "/sdk", login_body("bmc", SECRET), SOAP_HEADERS)
        assert status == 200, answer
        cookie = headers["set-cookie"].split(";")[0]
        retrieve = call_xml("RetrievePropertiesEx", "PropertyCollector", "propertyCollector", SOAP_RETRIEVE)
        for _ in range(2):  # the second is a remembered answer: logged all the same
            assert mock.request("POST", "/sdk", retrieve, {**SOAP_HEADERS, "Cookie": cookie})[0] == 200
        admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        assert mock.request("POST", "/_vismock/clock/freeze", b"{}", admin)[0] == 200
        lines = _access_lines(mock, fmt, 6)
        output = mock.output
        mock.stop()
    summary = [(f["face"], f["operation"], f["tasks"], f["status"], f["outcome"]) for f in lines]
    assert summary == [
        ("adapter", "Retrieve_Task_Status", ["task-525"], 200, "ok"),
        ("adapter", "Retrieve_Task_Status", ["task-525"], 200, "InvalidLogin"),
        ("soap", "Login", [], 200, "ok"),
        ("soap", "RetrievePropertiesEx", ["task-2675"], 200, "ok"),
        ("soap", "RetrievePropertiesEx", ["task-2675"], 200, "ok"),
        ("admin", "POST /_vismock/clock/freeze", [], 200, "ok"),
    ]
    assert all(fields["remote"] == "127.0.0.1" and fields["latency_ms"] >= 0 for fields in lines)
    assert [fields["user"] for fields in lines[:4]] == ["bmc"] * 4
    assert all(datetime.fromisoformat(fields["time"]).tzinfo is not None for fields in lines)
    session_key = cookie.split("=", 1)[1]
    for secret in (SECRET, TOKEN, session_key):
        assert secret not in output


@pytest.mark.slow
def test_quiet_and_warning_level_write_no_access_lines(tmp_path: Path) -> None:
    seed = (DATA / "seed" / "request.xml").read_bytes()
    for arguments in (["--quiet"], ["--log-level", "warning"]):
        with served(*arguments, "--db", str(tmp_path / "state.sqlite3")) as mock:
            assert mock.request("POST", "/adapter", seed)[0] == 200
            time.sleep(3 * accesslog.FLUSH_SECONDS)
            assert mock.stop() == 0
            assert " face=" not in mock.output, arguments
            if arguments == ["--quiet"]:
                assert "Starting granian" not in mock.output  # granian's info lines are quiet too


@pytest.mark.slow
def test_debug_level_logs_admin_reads_too(tmp_path: Path) -> None:
    with served("--log-level", "debug", "--db", str(tmp_path / "state.sqlite3")) as mock:
        assert "tasks" in mock.call("GET", "/_vismock/tasks")
        lines = _access_lines(mock, "text", 1, operation="GET /_vismock/tasks")
        assert any(f["operation"] == "GET /_vismock/tasks" for f in lines), mock.output
        assert mock.stop() == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--log-level", "loud"],
            "vismock serve: --log-level: 'loud' is not one of debug, info, warning, error",
        ),
        (["--log-format", "xml"], "vismock serve: --log-format: 'xml' is not one of text, json"),
    ],
)
def test_bad_log_settings_are_one_line_and_exit_2(arguments: list[str], message: str) -> None:
    finished = subprocess.run(
        serve_command("--port", "0", *arguments), capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 2
    assert finished.stderr.strip() == message
    assert finished.stdout == ""


def test_in_process_the_access_lines_reach_caplog_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No logging set-up in create_app(): nothing is written unless a test enables the logger."""
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3")})
    seed = (DATA / "seed" / "request.xml").read_bytes()
    app.test_client().post("/adapter", data=seed, headers={"Content-Type": "text/xml"})
    assert [r for r in caplog.records if r.name == accesslog.ACCESS_LOGGER] == []
    caplog.set_level(logging.INFO, logger=accesslog.ACCESS_LOGGER)
    app.test_client().post("/adapter", data=seed, headers={"Content-Type": "text/xml"})
    (record,) = [r for r in caplog.records if r.name == accesslog.ACCESS_LOGGER]
    assert record.getMessage().startswith(
        "remote=127.0.0.1 face=adapter operation=Retrieve_Task_Status tasks=task-525 status=200 outcome=ok"
    )
