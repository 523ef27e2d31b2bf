"""The WSGI fast path (mockserver/fastpath.py) answers exactly as the Flask path does.

Two apps share one Backend: the normal one (fast path in front) and one with
``VISMOCK_FAST_PATH`` False (every request through Flask). For the same state both must give
the same status, headers and body bytes; a spy on the Flask side shows which path answered.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

import vismock.codec as codec
from tests.support import DATA as TEST_DATA
from vismock.mockserver.app import create_app
from vismock.mockserver.fastpath import FastPath
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend, FaultRule, Step, TaskSpec
from vismock.mockserver.state.taskfile import load_builtin_tasks

DATA = TEST_DATA / "fastpath"
CASES = tomllib.loads((DATA / "cases.toml").read_text())
SECRET = "s3cret-Pa55"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
STAGED = TaskSpec(
    id="task-staged",
    name="PowerOnVM_Task",
    description_id="VirtualMachine.powerOn",
    entity_type="VirtualMachine",
    entity_id="vm-7",
    entity_name="staged",
    queued_at=T0,
    timeline=(Step("queued"), Step("running", at=10, progress=40), Step("success", at=20)),
)
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>"
)


@dataclass
class Mock:
    backend: Backend
    fast: Client
    slow: Client
    flask_calls: list[str]  # paths the fast app handed to Flask


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[Mock]:
    tasks = [*load_builtin_tasks(), STAGED]
    fast_app = create_app(
        {
            "VISMOCK_DB": str(tmp_path / "state.sqlite3"),
            "VISMOCK_ACCOUNTS": {"bmc": SECRET},
            "VISMOCK_TASK_SPECS": tasks,
        }
    )
    backend: Backend = services_of(fast_app).backend
    slow_app = create_app({"VISMOCK_BACKEND": backend, "VISMOCK_FAST_PATH": False})
    backend.freeze(T0)
    flask_calls = spy_on_flask(fast_app)
    yield Mock(backend, Client(fast_app, use_cookies=False), Client(slow_app, use_cookies=False), flask_calls)
    backend.close()


def spy_on_flask(app: Flask) -> list[str]:
    middleware = app.wsgi_app
    assert isinstance(middleware, FastPath)
    calls: list[str] = []
    flask_side = middleware.wrapped

    def spy(environ: Any, start_response: Any) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        return flask_side(environ, start_response)

    middleware.wrapped = spy
    return calls


def answer(client: Client, path: str, body: bytes, headers: dict[str, str]) -> tuple[str, list[Any], bytes]:
    response = client.post(path, data=body, headers=headers)
    return response.status, sorted(response.headers.to_wsgi_list()), response.get_data()


def both(mock: Mock, path: str, body: bytes, headers: dict[str, str]) -> tuple[str, list[Any], bytes]:
    """The fast app's answer, after checking the Flask-only app gives the same bytes."""
    fast = answer(mock.fast, path, body, headers)
    assert answer(mock.slow, path, body, headers) == fast
    return fast


def adapter_body(case: dict[str, Any]) -> bytes:
    if "raw" in case:
        return str(case["raw"]).encode()
    return codec.encode(
        {
            "operation-type": "Monitor_Vm",
            "operation-name": "Retrieve_Task_Status",
            "user-name": case.get("user"),
            "password": case.get("password"),
            "parameters": {"spec-set": {"object-set": [{"task": task} for task in case["tasks"]]}},
        }
    )


def soap_body(case: dict[str, Any]) -> bytes:
    return ENVELOPE.format(call=case["call"]).encode()


def login_cookie(mock: Mock) -> str:
    login = '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
    login += "<userName>bmc</userName><password>" + SECRET + "</password></Login>"
    response = mock.fast.post(
        "/sdk", data=ENVELOPE.format(call=login).encode(), headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 200
    return (
        "vmware_soap_session=" + response.headers["Set-Cookie"].split("vmware_soap_session=")[1].split(";")[0]
    )


@pytest.mark.parametrize("case", CASES["adapter"], ids=[case["name"] for case in CASES["adapter"]])
def test_adapter_fast_and_flask_paths_give_the_same_bytes(mock: Mock, case: dict[str, Any]) -> None:
    status, _headers, body = both(
        mock, "/adapter", adapter_body(case), {"Content-Type": case["content_type"]}
    )
    assert status.startswith(str(case["status"]))
    assert case["expect"].encode() in body
    assert mock.flask_calls == []  # every POST to a face takes the one path, without Flask


@pytest.mark.parametrize("case", CASES["soap"], ids=[case["name"] for case in CASES["soap"]])
def test_soap_fast_and_flask_paths_give_the_same_bytes(mock: Mock, case: dict[str, Any]) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if case["session"]:
        headers["Cookie"] = login_cookie(mock)
    status, _headers, body = both(mock, "/sdk", soap_body(case), headers)
    assert status.startswith(str(case["status"]))
    assert case["expect"].encode() in body
    assert mock.flask_calls == []


@pytest.mark.parametrize("face", ["adapter", "soap"])
def test_a_clock_advance_shows_on_the_next_request(mock: Mock, face: str) -> None:
    if face == "adapter":
        path, body, headers = (
            "/adapter",
            adapter_body({"tasks": ["task-staged"]}),
            {"Content-Type": "text/xml"},
        )
    else:
        path, body = (
            "/sdk",
            soap_body(
                CASES["soap"][0] | {"call": CASES["soap"][0]["call"].replace("task-2675", "task-staged")}
            ),
        )
        headers = {"Content-Type": "text/xml", "Cookie": login_cookie(mock)}
    mock.flask_calls.clear()
    states = []
    for seconds in (0, 12, 10):
        mock.backend.advance(seconds)
        _status, _headers, response = both(mock, path, body, headers)
        states.append(response.split(b"<state>")[1].split(b"</state>")[0].decode())
    assert states == ["queued", "running", "success"]
    assert mock.flask_calls == []


def test_fault_rules_apply_on_the_one_path_and_are_consumed_once(mock: Mock) -> None:
    mock.backend.faults.add(
        FaultRule(face="adapter", action="error", fault="SystemError", message="boom", times=1)
    )
    body = adapter_body({"tasks": ["task-2675"]})
    first = answer(mock.fast, "/adapter", body, {"Content-Type": "text/xml"})
    assert b"boom" in first[2]
    second = both(mock, "/adapter", body, {"Content-Type": "text/xml"})
    assert b"<status>success</status>" in second[2]
    assert mock.backend.faults.rules() == []
    assert mock.flask_calls == []


def test_fast_path_journals_each_request_without_the_password(mock: Mock) -> None:
    body = adapter_body({"tasks": ["task-2675", "task-missing"], "user": "bmc", "password": SECRET})
    mock.fast.post("/adapter", data=body, headers={"Content-Type": "text/xml"})
    cookie = login_cookie(mock)
    call = CASES["soap"][0]["call"]
    mock.fast.post("/sdk", data=ENVELOPE.format(call=call).encode(), headers={"Cookie": cookie})
    entries = mock.backend.journal.entries()
    adapter, soap = entries[0], entries[-1]
    assert (adapter.face, adapter.user, adapter.task_ids, adapter.outcome, adapter.http_status) == (
        "adapter",
        "bmc",
        ("task-2675", "task-missing"),
        "ManagedObjectNotFound",
        200,
    )
    assert (soap.face, soap.operation, soap.user, soap.task_ids, soap.outcome) == (
        "soap",
        "RetrievePropertiesEx",
        "bmc",
        ("task-2675",),
        "ok",
    )
    assert all(entry.latency_ms >= 0 for entry in entries)
    assert SECRET not in json.dumps([repr(entry) for entry in entries])
    assert mock.flask_calls == []


def test_a_logged_out_session_is_refused_on_the_next_request(mock: Mock) -> None:
    cookie = login_cookie(mock)
    headers = {"Content-Type": "text/xml", "Cookie": cookie}
    body = soap_body(CASES["soap"][0])
    assert both(mock, "/sdk", body, headers)[0].startswith("200")
    logout = '<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>'
    mock.fast.post("/sdk", data=ENVELOPE.format(call=logout).encode(), headers=headers)
    status, _headers, response = both(mock, "/sdk", body, headers)
    assert status.startswith("500") and b"NotAuthenticated" in response


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_other_methods_go_to_flask(mock: Mock, method: str) -> None:
    fast = mock.fast.open("/adapter", method=method)
    slow = mock.slow.open("/adapter", method=method)
    assert (fast.status, fast.get_data()) == (slow.status, slow.get_data())
    assert mock.flask_calls == ["/adapter"]


POLLED = TaskSpec(
    id="task-polled",
    name="PowerOnVM_Task",
    description_id="VirtualMachine.powerOn",
    progression="polls",
    timeline=(Step("queued"), Step("running", at=1, progress=50), Step("success", at=2)),
)


def state_of(response: bytes) -> str:
    return response.split(b"<state>")[1].split(b"</state>")[0].decode()


def test_polls_are_counted_alike_on_both_paths(mock: Mock) -> None:
    mock.backend.tasks.put([POLLED])
    body = adapter_body({"tasks": ["task-polled"]})
    headers = {"Content-Type": "text/xml"}
    clients = [mock.fast, mock.slow, mock.fast, mock.fast, mock.slow]
    states = [state_of(answer(client, "/adapter", body, headers)[2]) for client in clients]
    assert states == ["queued", "running", "success", "success", "success"]
    assert mock.flask_calls == []


def test_a_change_of_the_state_shows_on_the_next_request(mock: Mock) -> None:
    body = adapter_body({"tasks": ["task-staged"]})
    headers = {"Content-Type": "text/xml"}
    mock.backend.advance(30)
    assert state_of(both(mock, "/adapter", body, headers)[2]) == "success"  # finished: remembered
    mock.backend.tasks.restart("task-staged")  # queued again (its fixed queueTime: T0)
    mock.backend.freeze(T0)
    assert state_of(both(mock, "/adapter", body, headers)[2]) == "queued"
    mock.backend.faults.add(FaultRule(face="adapter", action="error", fault="SystemError", message="boom"))
    assert b"boom" in answer(mock.fast, "/adapter", body, headers)[2]
    assert mock.flask_calls == []


def test_a_repeated_soap_call_is_answered_alike_and_journaled_every_time(mock: Mock) -> None:
    headers = {"Content-Type": "text/xml", "Cookie": login_cookie(mock)}
    body = soap_body(CASES["soap"][0])
    mock.backend.journal.clear()
    first = both(mock, "/sdk", body, headers)
    for _ in range(3):  # the remembered answer (task-2675 is finished)
        assert answer(mock.fast, "/sdk", body, headers) == first
    fast_entries = [entry for entry in mock.backend.journal.entries(face="soap") if entry.outcome == "ok"]
    assert len(fast_entries) == 5  # 4 fast + 1 Flask
    mock.backend.tasks.put([replace(STAGED, id="task-2675")])  # frozen clock: queued again
    assert state_of(both(mock, "/sdk", body, headers)[2]) == "queued"  # the state moved: read again
    assert mock.flask_calls == []
