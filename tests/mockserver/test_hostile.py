"""Both faces and the admin API refuse hostile requests cleanly and keep serving; no password ever leaks.

Each hostile request must get a clear error (an error envelope with HTTP 4xx on the adapter
face, a vim25 SOAP fault on /sdk, JSON 4xx on the admin API), never an unhandled 500 or a
stack trace; nothing is read from disk or fetched from the network (a canary HTTP server
records any call); and a normal request still succeeds afterwards.
Documents: tests/data/hostile/ (cases.toml and documents.py).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import select
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import vismock.codec as codec
from tests.support import wire as vim25
from tests.support.hostile import PASSWD_MARKER, load_documents
from tests.support.served import Served
from vismock.mockserver.app import create_app
from vismock.mockserver.vim25.check import envelope_errors

documents = load_documents()
CASES = documents.entity_cases()
SOAP_COOKIE = "vmware_soap_session"
XML = "text/xml; charset=utf-8"


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app({"VISMOCK_DB": str(tmp_path_factory.mktemp("hostile") / "state.sqlite3")})


@pytest.fixture
def soap_client(app: Flask) -> FlaskClient:
    """A client holding a live SOAP session (so faults come from parsing, not from NotAuthenticated)."""
    logged_in = app.test_client()
    response = logged_in.post("/sdk", data=documents.soap_login("vismock", "vismock"), content_type=XML)
    assert response.status_code == 200, response.data
    return logged_in


def assert_adapter_error(response: Any, status: int) -> None:
    """An error envelope, valid against the response schema, with the given HTTP status."""
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/xml"
    assert codec.is_valid(response.data), response.data[:500]
    assert b"<status>error</status>" in response.data
    assert b"Traceback" not in response.data


def soap_fault(response: Any) -> str | None:
    """The fault type of a SOAP answer (after checking it is well-formed vim25), None for success."""
    assert b"Traceback" not in response.data
    assert envelope_errors(response.data) == [], response.data[:800]
    fault = vim25.fault_type_of(response.data)
    assert response.status_code == (500 if fault else 200), response.data[:500]
    return fault


def assert_still_serving(client: FlaskClient) -> None:
    response = client.post("/adapter", data=documents.seed_request(), content_type=XML)
    assert response.status_code == 200 and b"<status>success</status>" in response.data


def assert_nothing_leaked(body: bytes, marker: str, canary: Any) -> None:
    text = body.decode("utf-8", errors="replace")
    assert marker not in text and PASSWD_MARKER not in text and "canary-was-contacted" not in text
    assert canary.requests == [], f"the server called out: {canary.requests}"


# -- XML attacks on both faces ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_entity_case_on_adapter_face(
    case: Any, client: FlaskClient, canary: Any, secret: tuple[str, str]
) -> None:
    response = client.post("/adapter", data=case.adapter_document(canary.url, secret[0]), content_type=XML)
    if case.adapter == 200:
        assert response.status_code == 200 and codec.is_valid(response.data)
    else:
        assert_adapter_error(response, case.adapter)
    assert_nothing_leaked(response.data, secret[1], canary)
    assert_still_serving(client)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_entity_case_on_soap_face(
    case: Any, soap_client: FlaskClient, canary: Any, secret: tuple[str, str]
) -> None:
    response = soap_client.post("/sdk", data=case.soap_document(canary.url, secret[0]), content_type=XML)
    assert soap_fault(response) == (None if case.soap == "ok" else case.soap)
    assert_nothing_leaked(response.data, secret[1], canary)
    assert_still_serving(soap_client)


# Body, extra headers, adapter HTTP status, SOAP fault type (None: success).
SHAPES: dict[str, tuple[Any, dict[str, str], int, str | None]] = {
    "deep-nesting": (documents.deep_nesting, {}, 400, "InvalidRequest"),
    "invalid-utf8": (documents.invalid_utf8, {}, 400, "InvalidRequest"),
    "truncated": (documents.truncated, {}, 400, "InvalidRequest"),
    "empty": (lambda: b"", {}, 400, "InvalidRequest"),
    "binary-noise": (lambda: bytes(range(256)) * 64, {}, 400, "InvalidRequest"),
    "gzip-declared": (
        lambda: gzip.compress(documents.seed_request()),
        {"Content-Encoding": "gzip"},
        400,
        "InvalidRequest",
    ),
    "gzip-bomb": (documents.gzip_bomb, {"Content-Encoding": "gzip"}, 400, "InvalidRequest"),
    "long-attribute": (lambda: documents.long_attribute(900 * 1024), {}, 400, "InvalidRequest"),
    "many-unknown-elements": (lambda: documents.many_unknown_elements(2000), {}, 400, "InvalidRequest"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape_on_both_faces(name: str, client: FlaskClient, soap_client: FlaskClient) -> None:
    build, headers, adapter_status, soap_fault_type = SHAPES[name]
    body = build()
    assert_adapter_error(
        client.post("/adapter", data=body, content_type=XML, headers=headers), adapter_status
    )
    # The adapter document is not a SOAP envelope either: the SOAP face refuses each shape too.
    assert (
        soap_fault(soap_client.post("/sdk", data=body, content_type=XML, headers=headers)) == soap_fault_type
    )
    assert_still_serving(client)


def test_long_values_are_answered_without_amplification(client: FlaskClient) -> None:
    document = documents.long_text(900 * 1024)  # a 900 KB task id: valid XML, an unknown task
    response = client.post("/adapter", data=document, content_type=XML)
    assert response.status_code == 200 and codec.is_valid(response.data)
    assert b"ManagedObjectNotFound" in response.data
    assert len(response.data) < 2 * len(document)


def test_wrong_content_type_is_refused_on_adapter_face(client: FlaskClient) -> None:
    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
        response = client.post("/adapter", data=documents.seed_request(), content_type=content_type)
        assert_adapter_error(response, 415)


def test_missing_content_type_is_read_as_xml(client: FlaskClient) -> None:
    response = client.post("/adapter", data=documents.seed_request())
    assert response.status_code == 200 and b"<status>success</status>" in response.data


def test_soap_face_refuses_non_xml_whatever_the_content_type(soap_client: FlaskClient) -> None:
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        response = soap_client.post("/sdk", data=b'{"not": "xml"}', content_type=content_type)
        assert soap_fault(response) == "InvalidRequest"


def test_oversize_bodies_get_413_on_every_face(tmp_path: Path) -> None:
    small = create_app({"MAX_CONTENT_LENGTH": 4096, "VISMOCK_DB": str(tmp_path / "small.sqlite3")})
    client = small.test_client()
    big = documents.long_text(8192)
    assert_adapter_error(client.post("/adapter", data=big, content_type=XML), 413)
    # The SOAP face answers the cap as a vim25 fault (HTTP 500, what a SOAP client reads), unparsed.
    soap = client.post("/sdk", data=big, content_type=XML)
    assert soap_fault(soap) == "InvalidRequest" and b"larger than the limit of 4096 bytes" in soap.data
    admin = client.post("/_vismock/tasks", data=b"[" + b" " * 8192 + b"]", content_type="application/json")
    assert admin.status_code == 413
    assert admin.get_json() == {"error": "request body is larger than the limit of 4096 bytes"}
    assert_still_serving(client)


# -- protocol confusion, sessions ------------------------------------------------------------------


def test_soap_envelope_sent_to_adapter_face(client: FlaskClient) -> None:
    response = client.post("/adapter", data=documents.soap_login("vismock", "vismock"), content_type=XML)
    assert_adapter_error(response, 400)
    assert b"Envelope" in response.data  # the error names the root it got


def test_adapter_request_sent_to_soap_face(soap_client: FlaskClient) -> None:
    response = soap_client.post("/sdk", data=documents.seed_request(), content_type=XML)
    assert soap_fault(response) == "InvalidRequest"


SOAP_CALLS = {
    "unknown-method": (
        '<Frobnicate xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></Frobnicate>',
        "MethodNotFound",
    ),
    "method-on-wrong-object": (
        '<Login xmlns="urn:vim25"><_this type="Task">task-525</_this></Login>',
        "MethodNotFound",
    ),
    "no-namespace": ('<Fetch><_this type="Task">task-525</_this><prop>info</prop></Fetch>', "InvalidRequest"),
    "two-calls": (
        '<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>' * 2,
        "InvalidRequest",
    ),
    "empty-body": ("", "InvalidRequest"),
    "this-without-type": (
        '<Fetch xmlns="urn:vim25"><_this>task-525</_this><prop>info</prop></Fetch>',
        "InvalidRequest",
    ),
    "unknown-task": (
        '<Fetch xmlns="urn:vim25"><_this type="Task">task-nope</_this><prop>info</prop></Fetch>',
        "ManagedObjectNotFound",
    ),
}


@pytest.mark.parametrize("name", SOAP_CALLS)
def test_bad_soap_calls_get_typed_faults(name: str, soap_client: FlaskClient) -> None:
    call, fault = SOAP_CALLS[name]
    assert soap_fault(soap_client.post("/sdk", data=documents.soap_envelope(call), content_type=XML)) == fault


def test_soap_12_envelope_gets_a_fault(soap_client: FlaskClient) -> None:
    call = '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>'
    call += "</RetrieveServiceContent>"
    body = documents.soap_envelope(call, namespace=documents.SOAP12ENV)
    response = soap_client.post("/sdk", data=body, content_type="application/soap+xml")
    assert soap_fault(response) == "InvalidRequest"


def test_soap_12_fault_names_the_version(soap_client: FlaskClient) -> None:
    body = documents.soap_envelope("<x/>", namespace=documents.SOAP12ENV)
    response = soap_client.post("/sdk", data=body, content_type="application/soap+xml")
    assert b"SOAP 1.1" in response.data


FORGED_COOKIES = {
    "random": uuid.uuid4().hex * 2,
    "empty": "",
    "long": "a" * 4000,
    "quotes-and-semicolons": '"x;y=z"',
    "sql-ish": "' OR 1=1 --",
    "non-ascii": "s\u00e9ssion",
}


@pytest.mark.parametrize("name", FORGED_COOKIES)
def test_forged_session_cookie_is_not_authenticated(name: str, app: Flask) -> None:
    client = app.test_client()
    client.set_cookie(SOAP_COOKIE, FORGED_COOKIES[name])
    response = client.post("/sdk", data=documents.soap_fetch_task_info("task-525"), content_type=XML)
    assert soap_fault(response) == "NotAuthenticated"


def test_session_cookie_is_dead_after_logout(soap_client: FlaskClient) -> None:
    assert soap_fault(soap_client.post("/sdk", data=documents.soap_fetch_task_info("task-525"))) is None
    logout = '<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>'
    assert (
        soap_fault(soap_client.post("/sdk", data=documents.soap_envelope(logout), content_type=XML)) is None
    )
    # The client still sends the old cookie: it must no longer open anything.
    again = soap_client.post("/sdk", data=documents.soap_fetch_task_info("task-525"), content_type=XML)
    assert soap_fault(again) == "NotAuthenticated"


def test_unknown_method_without_session_reveals_nothing(app: Flask) -> None:
    call = '<Frobnicate xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></Frobnicate>'
    response = app.test_client().post("/sdk", data=documents.soap_envelope(call), content_type=XML)
    assert soap_fault(response) == "NotAuthenticated"


# -- admin API -------------------------------------------------------------------------------------

ADMIN_BAD_REQUESTS: dict[str, tuple[str, str, bytes, int]] = {
    "malformed-json": ("POST", "/_vismock/tasks", b"{bad", 400),
    "truncated-json": ("POST", "/_vismock/tasks", b'{"id": "task-9", "name": ', 400),
    "not-utf8": ("POST", "/_vismock/tasks", b'\xff\xfe{"id": 1}', 400),
    "null": ("POST", "/_vismock/tasks", b"null", 400),
    "number": ("POST", "/_vismock/tasks", b"12", 400),
    "task-wrong-types": ("POST", "/_vismock/tasks", b'{"id": 5, "name": ["x"], "descriptionId": {}}', 400),
    "task-unknown-field": ("POST", "/_vismock/tasks", b'{"id": "task-9", "colour": "red"}', 400),
    "empty-body": ("POST", "/_vismock/faults", b"", 400),
    "fault-wrong-type": ("POST", "/_vismock/faults", b'{"action": 5}', 400),
    "fault-bool-times": ("POST", "/_vismock/faults", b'{"action": "error", "times": true}', 400),
    "fault-nan-delay": ("POST", "/_vismock/faults", b'{"action": "delay", "delay_seconds": NaN}', 400),
    "fault-infinite-delay": (
        "POST",
        "/_vismock/faults",
        b'{"action": "delay", "delay_seconds": Infinity}',
        400,
    ),
    "fault-probability-2": ("POST", "/_vismock/faults", b'{"action": "error", "probability": 2}', 400),
    "fault-status-999": ("POST", "/_vismock/faults", b'{"action": "status", "http_status": 999}', 400),
    "fault-bad-fault-name": ("POST", "/_vismock/faults", b'{"action": "error", "fault": "<x/>"}', 400),
    "clock-advance-negative": ("POST", "/_vismock/clock/advance", b'{"seconds": -5}', 400),
    "clock-advance-huge": ("POST", "/_vismock/clock/advance", b'{"seconds": 1e300}', 400),
    "clock-advance-string": ("POST", "/_vismock/clock/advance", b'{"seconds": "5"}', 400),
    "clock-freeze-bad-date": ("POST", "/_vismock/clock/freeze", b'{"at": "yesterday"}', 400),
    "clock-freeze-year-9999": ("POST", "/_vismock/clock/freeze", b'{"at": "9999-12-31T23:59:59Z"}', 400),
    "journal-unknown-filter": ("GET", "/_vismock/journal?colour=red", b"", 400),
    "journal-bad-limit": ("GET", "/_vismock/journal?limit=-1", b"", 400),
    "unknown-route": ("GET", "/_vismock/nothing-here", b"", 404),
    "wrong-method": ("PATCH", "/_vismock/tasks", b"{}", 405),
}


@pytest.mark.parametrize("name", ADMIN_BAD_REQUESTS)
def test_admin_api_refuses_bad_requests_with_json_4xx(name: str, client: FlaskClient) -> None:
    method, path, body, status = ADMIN_BAD_REQUESTS[name]
    response = client.open(path, method=method, data=body, content_type="application/json")
    assert response.status_code == status, response.data
    assert isinstance(response.get_json()["error"], str)
    assert b"Traceback" not in response.data
    assert client.get("/_vismock/tasks").status_code == 200


def test_admin_api_takes_a_large_batch_within_the_cap(client: FlaskClient) -> None:
    tasks = [
        {"id": f"task-batch-{index}", "name": "PowerOnVM_Task", "descriptionId": "VirtualMachine.powerOn"}
        for index in range(2000)
    ]
    response = client.post("/_vismock/tasks", json=tasks)
    assert response.status_code == 201 and len(response.get_json()["tasks"]) == 2000
    assert client.post("/_vismock/reset", content_type="application/json").status_code == 200


# Each was answered 500 once (RecursionError, SQLite OverflowError); now a JSON 400.
ADMIN_OVERFLOWS = {
    "deeply-nested-json": (
        "POST",
        "/_vismock/tasks",
        b"[" * 100_000 + b"]" * 100_000,
    ),
    "fault-times-beyond-sqlite": (
        "POST",
        "/_vismock/faults",
        b'{"action": "error", "times": 1000000000000000000000000000000}',
    ),
    "journal-limit-beyond-sqlite": (
        "GET",
        "/_vismock/journal?limit=99999999999999999999999",
        b"",
    ),
}


@pytest.mark.parametrize("name", ADMIN_OVERFLOWS)
def test_admin_api_refuses_values_beyond_its_limits(name: str, app: Flask) -> None:
    method, path, body = ADMIN_OVERFLOWS[name]
    response = app.test_client().open(path, method=method, data=body, content_type="application/json")
    assert response.status_code == 400, response.data


@pytest.mark.parametrize("entity_name", ["bad\x01name", "lone\ud800surrogate"])
def test_admin_api_refuses_text_xml_cannot_carry(entity_name: str, tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3")})
    task = {
        "name": "PowerOnVM_Task",
        "descriptionId": "VirtualMachine.powerOn",
        "entity": {"type": "VirtualMachine", "id": "vm-1", "name": entity_name},
    }
    response = app.test_client().put("/_vismock/tasks/task-ctl", json=task)
    assert response.status_code == 400, response.data


# -- admin API access ------------------------------------------------------------------------------


def test_admin_api_answers_loopback_only_by_default(app: Flask) -> None:
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    refused = outsider.get("/_vismock/tasks")
    assert refused.status_code == 403 and "loopback" in refused.get_json()["error"]
    assert outsider.post("/_vismock/reset").status_code == 403
    # The faces themselves are open to anyone.
    assert outsider.post("/adapter", data=documents.seed_request(), content_type=XML).status_code == 200
    for loopback in ("127.0.0.1", "127.8.9.10", "::1"):
        insider = app.test_client()
        insider.environ_base["REMOTE_ADDR"] = loopback
        assert insider.get("/_vismock/tasks").status_code == 200


def test_admin_token_is_required_from_everywhere_when_set(tmp_path: Path) -> None:
    token = "s3cret-admin-token"
    app = create_app({"VISMOCK_ADMIN_TOKEN": token, "VISMOCK_DB": str(tmp_path / "state.sqlite3")})
    for address in ("127.0.0.1", "10.1.2.3"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        assert client.get("/_vismock/tasks").status_code == 401
        assert client.get("/_vismock/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/_vismock/tasks", headers={"Authorization": token}).status_code == 200
        response = client.get("/_vismock/tasks", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert token not in response.get_data(as_text=True)


# -- passwords never leak --------------------------------------------------------------------------

PASSWORD = "Pw-7Qz!LEAK-canary-9x"
WRONG = "Wr0ng-LEAK-canary-4k"


def password_requests() -> list[tuple[str, bytes]]:
    """(path, body) requests carrying PASSWORD or WRONG in every place a client could put them."""
    base = documents.adapter_request(["task-525"], user="leaky", password=PASSWORD).decode()
    adapter = [
        base,
        base.replace(PASSWORD, WRONG),
        base.replace("leaky", "nobody"),
        base.replace("task-525", "task-nope"),
        base.replace("<transport></transport>", "<transport>smtp</transport>"),
        base.replace("Monitor_Vm", "Bogus"),
        base.replace("</parameters>", f"</parameters><password>{PASSWORD}</password>"),
        base.replace(f"<password>{PASSWORD}</password>", f"<password>{PASSWORD}<x/></password>"),
        base.replace(f"<password>{PASSWORD}</password>", f'<password v="{PASSWORD}"/>'),
        base.replace(f"<password>{PASSWORD}</password>", f"<password>{PASSWORD}</pass>"),
        base.replace(f"<password>{PASSWORD}</password>", f"<password>{PASSWORD}\x01</password>"),
        base[: base.find(PASSWORD) + len(PASSWORD)],
        f'<!DOCTYPE r [<!ENTITY pw "{PASSWORD}">]>' + base.replace(PASSWORD, "&pw;"),
    ]
    soap = [
        documents.soap_login("leaky", PASSWORD),
        documents.soap_login("leaky", WRONG),
        documents.soap_login("nobody", PASSWORD),
        documents.soap_login("", PASSWORD),
        documents.soap_login("leaky", PASSWORD).replace(b"</Login>", b"<extra/></Login>"),
        documents.soap_login("leaky", PASSWORD)[:-40],
        documents.soap_login("leaky", f"{PASSWORD}<b/>"),
        documents.soap_login("leaky", WRONG).replace(b"urn:vim25", b"urn:other"),
    ]
    return [("/adapter", body.encode()) for body in adapter] + [("/sdk", body) for body in soap]


def assert_no_password(text: str, where: str) -> None:
    for secret in (PASSWORD, WRONG):
        assert secret not in text, f"a password appears in {where}"


def test_passwords_never_appear_in_responses_logs_or_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app({"VISMOCK_ACCOUNTS": {"leaky": PASSWORD}, "VISMOCK_DB": str(tmp_path / "s.sqlite3")})
    client = app.test_client()
    answers = []
    for path, body in password_requests():
        response = client.post(path, data=body, content_type=XML)
        assert response.status_code < 500 or soap_fault(response) is not None
        answers.append(response.get_data(as_text=True) + str(response.headers))
    journal = client.get("/_vismock/journal").get_data(as_text=True)
    assert '"user":"leaky"' in journal.replace(" ", "")  # the journal does record who asked
    assert_no_password("\n".join(answers), "a response")
    assert_no_password(journal, "the journal")
    assert_no_password(caplog.text, "the log")


# -- a real `vismock serve` ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("served"), "--account", f"leaky:{PASSWORD}")
    yield server
    server.stop()


def test_served_listens_on_loopback_by_default(served: Served) -> None:
    assert "http://127.0.0.1:" in served.log.read_text()


def test_served_passwords_never_reach_responses_journal_or_server_output(served: Served) -> None:
    answers = []
    cookie = ""
    for path, body in password_requests():
        status, data, headers = served.request("POST", path, body, {"Cookie": cookie} if cookie else None)
        assert status < 500 or (path == "/sdk" and vim25.fault_type_of(data) is not None), data[:300]
        cookie = headers.get("set-cookie", cookie).split(";")[0]
        answers.append(data.decode("utf-8", errors="replace") + str(headers))
    assert cookie.startswith(SOAP_COOKIE)  # the valid login did open a session
    _, journal, _ = served.request("GET", "/_vismock/journal")
    assert b'"leaky"' in journal
    assert_no_password("\n".join(answers), "a response")
    assert_no_password(journal.decode(), "the journal")
    assert_no_password(served.log.read_text(), "the server's stdout/stderr")
    assert served.request("POST", "/adapter", documents.seed_request())[0] == 200


def test_served_refuses_an_announced_oversize_body_before_reading_it(served: Served) -> None:
    # Announce 100 MB and send none of it: the answer must come without waiting for the body.
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(
            b"POST /adapter HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        head = sock.recv(200)
    assert head.startswith(b"HTTP/1.1 413")


def test_served_refuses_a_chunked_oversize_body(served: Served) -> None:
    # No Content-Length: the cap can only apply while reading. Stop sending as soon as an answer comes.
    seed = documents.seed_request()
    padded = seed.replace(b"<parameters>", b"<parameters>" + b" " * (3 * 1024 * 1024))
    head = (
        b"POST /adapter HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(head)
        answered = select.poll()  # not select(): the suite's process may hold fds beyond 1024
        answered.register(sock, select.POLLIN)
        for start in range(0, len(padded), 65536):
            if answered.poll(0):
                break  # the server has answered already
            chunk = padded[start : start + 65536]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            sock.sendall(b"0\r\n\r\n")
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer


def announce_oversize_body(port: int, path: str, content_type: str = "text/xml") -> tuple[int, bytes]:
    """Announce a 100 MB body and send none of it: the status and body of the answer, which must
    come without waiting for the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n".encode()
            + b"Content-Length: 104857600\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def assert_each_face_refuses_oversize_in_its_own_form(port: int) -> None:
    status, body = announce_oversize_body(port, "/adapter")
    assert status == 413, body
    assert codec.decode(body)["metadata"]["error"].startswith("request body is larger than the limit")
    status, body = announce_oversize_body(port, "/sdk")
    assert vim25.fault_type_of(body) == "InvalidRequest" and b"larger than the limit" in body, body
    status, body = announce_oversize_body(port, "/_vismock/tasks", "application/json")
    assert status == 413 and "error" in json.loads(body), body


def test_plugin_server_refuses_an_announced_oversize_body_in_each_face_s_form(vismock_server: Any) -> None:
    assert_each_face_refuses_oversize_in_its_own_form(int(vismock_server.url.rsplit(":", 1)[1]))


@pytest.mark.parametrize("server", ["granian", "waitress", "gunicorn"])
def test_every_server_refuses_an_announced_oversize_body_in_each_face_s_form(
    server: str, tmp_path: Path
) -> None:
    served = Served(tmp_path, "--server", server)
    try:
        assert_each_face_refuses_oversize_in_its_own_form(served.port)
    finally:
        served.stop()


def test_served_journal_is_capped(tmp_path: Path) -> None:
    server = Served(tmp_path, "--journal-cap", "50")
    try:
        for _ in range(80):
            assert server.request("POST", "/adapter", documents.seed_request())[0] == 200
        _, body, _ = server.request("GET", "/_vismock/journal")
        entries = json.loads(body)["entries"]
        assert len(entries) == 50
    finally:
        server.stop()
