"""Web pages cannot drive the admin API (mockserver/faces/guard.py), through a client's eyes.

Issue 19's reproductions, each as the request a browser would send for a page of another site (a
"simple" request, which needs no CORS preflight) or for a page behind DNS rebinding (any request,
with the page's own name in ``Host``): each is refused with JSON naming what to send, and the
state is unchanged afterwards (read back through the admin API). The same changes sent as the
API asks (``Content-Type: application/json``, no foreign ``Origin``) are made. The served
``vismock serve`` (warning, ``--allow-host``) is at the end; a real browser in test_ui_browser.py.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import JSON
from tests.support.served import served
from vismock.mockserver.app import create_app

EVIL = "http://evil.example"
DROP_RULE = {"action": "drop", "times": None}
NEW_TASK = {"id": "task-9001", "name": "PowerOffVM_Task", "descriptionId": "VirtualMachine.powerOff"}
OVERRIDE = {"operation": "Power_Off_VM", "vm": "win1", "fault": "InvalidState", "after": 2}
FORM = "application/x-www-form-urlencoded"


def _state(client: FlaskClient) -> dict[str, Any]:
    """What the reproductions would change, as the admin API shows it."""
    read = {path: client.get(f"/_vismock/{path}").get_json() for path in ("faults", "tasks", "overrides")}
    clock = client.get("/_vismock/clock").get_json()
    return {
        "faults": read["faults"]["faults"],
        "tasks": sorted(task["id"] for task in read["tasks"]["tasks"]),
        "overrides": read["overrides"]["overrides"],
        "frozen": clock["frozen"],
    }


def _refused(answer: Any, status: int, *words: str) -> str:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    error: str = answer.get_json()["error"]
    for word in words:
        assert word in error, error
    return error


# -- issue 19's reproductions ------------------------------------------------------------------------


def test_a_text_plain_fault_rule_from_another_site_is_refused(client: FlaskClient) -> None:
    """curl -X POST -H 'Content-Type: text/plain' -H 'Origin: http://evil.example'
    -d '{"action":"drop","times":null}' .../_vismock/faults answered 201 and dropped every request."""
    before = _state(client)
    body = json.dumps(DROP_RULE)
    answer = client.post("/_vismock/faults", data=body, content_type="text/plain", headers={"Origin": EVIL})
    _refused(answer, 403, "Origin 'http://evil.example'", "/_vismock/ui/")
    # Without Origin (a page can hide it only by sending no-cors, which still names the type): 415.
    answer = client.post("/_vismock/faults", data=body, content_type="text/plain")
    _refused(answer, 415, "'Content-Type: application/json'", "'Content-Type: text/plain'")
    assert _state(client) == before


def test_a_form_typed_reset_is_refused(client: FlaskClient) -> None:
    """A form-typed POST /_vismock/reset answered 200."""
    assert client.post("/_vismock/tasks", json=NEW_TASK).status_code == 201
    before = _state(client)
    for content_type in (FORM, "multipart/form-data; boundary=x", None):
        answer = client.post(
            "/_vismock/reset", data=b"a=b" if content_type else b"", content_type=content_type
        )
        _refused(answer, 415, "'Content-Type: application/json'", "even one without a body")
    assert _state(client) == before and "task-9001" in before["tasks"]


def test_a_foreign_host_is_refused_as_dns_rebinding_sends_it(client: FlaskClient) -> None:
    """A foreign Host on /_vismock/clock/freeze answered 200: a rebound page is same-origin, so it
    may send JSON and any header; only its name in Host gives it away."""
    headers = {"Host": "evil.example:8080", "Origin": "http://evil.example:8080"}
    answer = client.post("/_vismock/clock/freeze", json={}, headers=headers)
    _refused(answer, 403, "Host 'evil.example:8080'", "--allow-host evil.example", "VISMOCK_ALLOWED_HOSTS")
    assert _state(client)["frozen"] is False
    # Nor can it read what the mock saw, or load the dashboard.
    for path in ("/_vismock/journal", "/_vismock/tasks", "/_vismock/ui/"):
        _refused(client.get(path, headers={"Host": "evil.example:8080"}), 403, "Host")


@pytest.mark.parametrize(("path", "body"), [("/_vismock/tasks", NEW_TASK), ("/_vismock/overrides", OVERRIDE)])
def test_text_plain_tasks_and_overrides_are_refused(client: FlaskClient, path: str, body: Any) -> None:
    """text/plain POSTs to /_vismock/tasks and /_vismock/overrides answered 201."""
    before = _state(client)
    _refused(client.post(path, data=json.dumps(body), content_type="text/plain"), 415, "application/json")
    assert _state(client) == before
    assert client.post(path, json=body).status_code == 201  # the same change, sent as JSON, is made
    assert _state(client) != before


def test_a_foreign_origin_is_refused_and_no_cors_is_granted(client: FlaskClient) -> None:
    """A page of another origin can neither change nor read anything: its requests are refused and
    no answer (a preflight's included) carries an Access-Control-* header that would let it read."""
    before = _state(client)
    origins = [
        EVIL,
        "null",
        "http://127.0.0.1:9999",
        "http://localhost:8080",
        "file://",
        "http://localhost@evil",
    ]
    for origin in origins:
        headers = {"Origin": origin}
        _refused(client.post("/_vismock/faults", json=DROP_RULE, headers=headers), 403, repr(origin))
        _refused(client.get("/_vismock/journal", headers=headers), 403, "Origin")
        preflight = {**headers, "Access-Control-Request-Method": "POST"}
        _refused(client.options("/_vismock/faults", headers=preflight), 403, "Origin")
    assert _state(client) == before
    answers = [
        client.open("/_vismock/faults", method=method, headers={"Origin": origin})
        for method in ("GET", "OPTIONS", "POST")
        for origin in (EVIL, "http://localhost")
    ]
    assert [a.status_code for a in answers] == [403, 200, 403, 200, 403, 415]  # localhost is its own
    assert not [name for a in answers for name, _ in a.headers if name.lower().startswith("access-control")]


# -- what passes -----------------------------------------------------------------------------------


def test_the_changes_sent_as_json_from_the_server_s_own_origin_are_made(client: FlaskClient) -> None:
    own = {"Origin": "http://localhost", "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/_vismock/faults", data=json.dumps(DROP_RULE), headers=own).status_code == 201
    assert client.post("/_vismock/clock/freeze", headers=own).status_code == 200  # no body: the defaults
    assert (
        client.post("/_vismock/tasks", json=NEW_TASK, headers={"Origin": "http://localhost"}).status_code
        == 201
    )
    state = _state(client)
    assert (len(state["faults"]), state["frozen"], "task-9001" in state["tasks"]) == (1, True, True)
    assert client.delete("/_vismock/faults").status_code == 200  # DELETE: always preflighted by browsers
    assert client.post("/_vismock/reset", content_type=JSON).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain; charset=application/json", "application/json-seq", "text/json", "application/jsonx"],
)
def test_only_application_json_itself_is_json(client: FlaskClient, content_type: str) -> None:
    _refused(client.post("/_vismock/faults", data=json.dumps(DROP_RULE), content_type=content_type), 415)
    assert client.put("/_vismock/operations", data="{}", content_type=content_type).status_code == 415
    assert client.patch("/_vismock/inventory/vm-601", data="{}", content_type=content_type).status_code == 415


ALLOWED_HOSTS = [
    "127.0.0.1",
    "127.0.0.1:8080",
    "127.1.2.3:80",
    "localhost",
    "LOCALHOST:8080",
    "localhost.:8080",
    "[::1]",
    "[::1]:8080",
    "[0:0:0:0:0:0:0:1]:8080",
    "[::ffff:127.0.0.1]:8080",
]
FOREIGN_HOSTS = [  # (Host, the name the refusal says to allow)
    ("evil.example", "evil.example"),
    ("Evil.Example.:8080", "evil.example"),
    ("127.0.0.1.evil.example:8080", "127.0.0.1.evil.example"),
    ("localhost.evil.example", "localhost.evil.example"),
    ("sub.localhost:8080", "sub.localhost"),
    ("0.0.0.0:8080", "0.0.0.0"),
    ("192.0.2.10:8080", "192.0.2.10"),
    ("[2001:db8::1]:8080", "2001:db8::1"),
    ("[::ffff:192.0.2.10]:8080", "::ffff:192.0.2.10"),
]
MALFORMED_HOSTS = [
    "::1",
    "[::1",
    "[::1]8080",
    "127.0.0.1:99999",
    "127.0.0.1:80:80",
    "a b",
    "evil/x",
    "[evil]:80",
    "",
]


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_hosts_naming_this_machine_are_answered(client: FlaskClient, host: str) -> None:
    answer = client.post("/_vismock/clock/resume", content_type=JSON, headers={"Host": host})
    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize(("host", "name"), FOREIGN_HOSTS)
def test_other_hosts_are_refused_naming_the_option_that_allows_them(
    client: FlaskClient, host: str, name: str
) -> None:
    answer = client.post("/_vismock/clock/freeze", content_type=JSON, headers={"Host": host})
    _refused(answer, 403, f"--allow-host {name} ")
    assert _state(client)["frozen"] is False


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_malformed_hosts_are_refused(client: FlaskClient, host: str) -> None:
    _refused(client.post("/_vismock/clock/freeze", content_type=JSON, headers={"Host": host}), 403, "Host")


def test_allowed_hosts_extend_the_names_and_addresses(tmp_path: Path) -> None:
    config = {
        "VISMOCK_DB": str(tmp_path / "s.sqlite3"),
        "VISMOCK_ALLOWED_HOSTS": "VCenter.test, 192.0.2.10,[2001:db8::1]",
    }
    client = create_app(config).test_client()
    for host in (
        "vcenter.test",
        "vcenter.test:443",
        "192.0.2.10:8080",
        "[2001:db8::1]:8080",
        "[2001:db8:0::1]",
    ):
        assert client.get("/_vismock/clock", headers={"Host": host}).status_code == 200, host
    for host in ("other.test:8080", "www.vcenter.test", "192.0.2.11"):
        _refused(client.get("/_vismock/clock", headers={"Host": host}), 403, "--allow-host")
    # Its own pages: Origin is the Host it was loaded from.
    own = {"Host": "vcenter.test:8443", "Origin": "https://vcenter.test:8443"}
    assert client.post("/_vismock/clock/freeze", content_type=JSON, headers=own).status_code == 200


def test_with_a_token_the_token_decides_but_origin_and_type_still_count(tmp_path: Path) -> None:
    """A browser never sends the token by itself, so any Host may present it (compose service
    names, a machine's name); a page of another origin or a text/plain body is still refused."""
    app = create_app({"VISMOCK_DB": str(tmp_path / "s.sqlite3"), "VISMOCK_ADMIN_TOKEN": "t0ken"})
    client = app.test_client()
    token = {"Authorization": "Bearer t0ken", "Host": "vismock:8080"}
    assert client.post("/_vismock/clock/freeze", content_type=JSON, headers=token).status_code == 200
    assert (
        client.post("/_vismock/clock/freeze", content_type=JSON, headers={"Host": "vismock"}).status_code
        == 401
    )
    _refused(
        client.post("/_vismock/reset", content_type=JSON, headers={**token, "Origin": EVIL}), 403, "Origin"
    )
    _refused(client.post("/_vismock/reset", data=b"{}", content_type="text/plain", headers=token), 415)


def test_health_answers_every_host_and_origin(client: FlaskClient) -> None:
    headers = {"Host": "evil.example", "Origin": EVIL}
    assert client.get("/_vismock/health", headers=headers).get_json()["status"] == "ok"


def test_refusals_come_before_the_body_is_read_and_are_not_journaled(client: FlaskClient) -> None:
    huge = b"x" * (2 * 1024 * 1024)  # over the body cap: 413 if it were read
    _refused(client.post("/_vismock/tasks", data=huge, content_type="text/plain"), 415)
    _refused(
        client.post("/_vismock/tasks", data=huge, content_type=JSON, headers={"Host": "evil.example"}), 403
    )
    assert client.post("/_vismock/tasks", data=huge, content_type=JSON).status_code == 413
    assert client.post("/_vismock/clock/resume", content_type=JSON).status_code == 200
    operations = [entry["operation"] for entry in client.get("/_vismock/journal").get_json()["entries"]]
    assert operations == ["POST /_vismock/tasks", "POST /_vismock/clock/resume"]  # the 413 and the 200


# -- vismock serve ---------------------------------------------------------------------------------------


def _request(
    port: int, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_vismock_serve_on_every_address_warns_and_keeps_web_pages_out(tmp_path: Path) -> None:
    """Issue 19's curl reproductions against ``vismock serve --host 0.0.0.0`` itself (a real worker
    process reading its settings from the environment), and its one-line warning."""
    arguments = ("--host", "0.0.0.0", "--allow-host", "vcenter.test", "--db", str(tmp_path / "s.sqlite3"))
    with served(*arguments) as mock:
        (warning,) = [line for line in mock.preamble if "warning" in line]
        assert warning == (
            "vismock serve: warning: --host 0.0.0.0 without --admin-token: every machine that can reach this"
            " one can use the adapter face and the SOAP face (default login: user vismock); the admin API"
            " and dashboard still answer this machine only"
        )
        own = f"127.0.0.1:{mock.port}"
        rule = json.dumps(DROP_RULE).encode()
        text = {"Host": own, "Content-Type": "text/plain"}
        assert _request(mock.port, "POST", "/_vismock/faults", {**text, "Origin": EVIL}, rule)[0] == 403
        assert _request(mock.port, "POST", "/_vismock/faults", text, rule)[0] == 415
        assert (
            _request(mock.port, "POST", "/_vismock/reset", {"Host": own, "Content-Type": FORM}, b"a=b")[0]
            == 415
        )
        for path, body in (("/_vismock/tasks", NEW_TASK), ("/_vismock/overrides", OVERRIDE)):
            assert _request(mock.port, "POST", path, text, json.dumps(body).encode())[0] == 415
        foreign = {"Host": f"evil.example:{mock.port}", "Content-Type": JSON}
        status, answer = _request(mock.port, "POST", "/_vismock/clock/freeze", foreign, b"{}")
        assert (status, "--allow-host evil.example" in answer["error"]) == (403, True)
        allowed = {"Host": f"vcenter.test:{mock.port}", "Content-Type": JSON}
        assert _request(mock.port, "GET", "/_vismock/faults", allowed) == (200, {"faults": []})
        machine = {"Host": f"{socket.gethostname()}:{mock.port}"}  # allowed only by --allow-host
        assert _request(mock.port, "GET", "/_vismock/tasks", machine)[0] == 403
        assert mock.call("GET", "/_vismock/clock")["frozen"] is False


@pytest.mark.slow
def test_vismock_serve_warns_only_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    for arguments in (("--host", "0.0.0.0", "--admin-token", "t0ken"), ("--host", "127.0.0.1")):
        with served(*arguments, "--db", str(tmp_path / "s.sqlite3")) as mock:
            assert not [line for line in mock.output.splitlines() if "warning" in line], mock.output
