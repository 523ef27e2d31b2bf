"""Retrieve_Task_Status executed as the adapter does: over real SOAP (pyVmomi) to the mock's /sdk.

End to end: the envelope the operation answers must be identical to what the mock's adapter
face (POST /adapter) answers for the same request and the same task.
"""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.serving import make_server

from tests.support import DATA
from tests.support.components import self_signed_certificate
from tests.support.soap import PASSWORD, SOAP_DATA, USER, LiveServer, live_server, make_app
from vismock.adapter import cli as adapter_cli
from vismock.adapter.vcenter import Settings, endpoint_of, run_over_soap, settings_for
from vismock.codec import decode, encode
from vismock.faults import VimFault

SEED_REQUEST = DATA / "seed" / "request.xml"
ENDPOINTS = yaml.safe_load((SOAP_DATA / "endpoints.yaml").read_text())["endpoints"]
STABLE_TASKS = ["task-ok", "task-fail", "task-queued", "task-running", "task-done", "task-error", "task-long"]


def request_for(
    task_ids: list[str], *, soap_url: str = "", user: str = USER, password: str = PASSWORD
) -> bytes:
    objects = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        "<operation-name>Retrieve_Task_Status</operation-name>"
        f"<soap-url>{soap_url}</soap-url><transport></transport>"
        f"<user-name>{user}</user-name><password>{password}</password>"
        f"<parameters><spec-set>{objects}</spec-set></parameters></vmware-infrastructure-request>"
    ).encode()


def adapter_face(live: LiveServer, request: bytes) -> bytes:
    response = live.app.test_client().post("/adapter", data=request, headers={"Content-Type": "text/xml"})
    assert response.status_code == 200, response.data
    return bytes(response.data)


def over_soap(live: LiveServer, request: bytes, **settings: Any) -> bytes:
    defaults = Settings(soap_url=f"{live.url}/sdk", **settings)
    return encode(run_over_soap(decode(request), defaults), root="vmware-infrastructure-response")


# -- end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", STABLE_TASKS)
def test_the_operation_over_soap_answers_what_the_adapter_face_answers(
    live: LiveServer, task_id: str
) -> None:
    request = request_for([task_id])
    assert over_soap(live, request) == adapter_face(live, request)


def test_several_tasks_in_one_request(live: LiveServer) -> None:
    request = request_for(STABLE_TASKS)
    answer = over_soap(live, request)
    assert answer == adapter_face(live, request)
    returnvals = decode(answer)["RetrieveTaskStatusResponse"]["returnval"]
    assert [entry["Task"] for entry in returnvals] == STABLE_TASKS


def test_the_seed_request_against_the_built_in_tasks() -> None:
    with live_server(make_app(VISMOCK_TASKS=None)) as running:
        request = SEED_REQUEST.read_bytes()
        answer = over_soap(running, request, user=USER, password=PASSWORD)
        assert decode(answer)["metadata"]["status"] == "success"
        assert answer == adapter_face(running, request_for(["task-525"]))


@pytest.mark.parametrize(
    ("task_ids", "user", "password", "fault"),
    [
        (["task-99999"], USER, PASSWORD, "ManagedObjectNotFound"),
        (["task-done", "task-99999"], USER, PASSWORD, "ManagedObjectNotFound"),
        (["task-done"], USER, "wrong", "InvalidLogin"),
    ],
)
def test_failures_answer_the_same_error_envelope(
    live: LiveServer, task_ids: list[str], user: str, password: str, fault: str
) -> None:
    request = request_for(task_ids, user=user, password=password)
    answer = over_soap(live, request)
    assert answer == adapter_face(live, request)
    metadata = decode(answer)["metadata"]
    assert metadata["status"] == "error" and metadata["fault"] == fault
    assert password not in metadata["error"]


def test_the_request_soap_url_wins_over_the_default(live: LiveServer) -> None:
    request = request_for(["task-done"], soap_url=f"{live.url}/sdk/vim")
    defaults = Settings(soap_url="http://127.0.0.1:9/sdk", timeout=5)
    answer = run_over_soap(decode(request), defaults)
    assert answer["metadata"]["status"] == "success"


def test_empty_credentials_use_the_configured_defaults(live: LiveServer) -> None:
    request = request_for(["task-done"], user="", password="")
    answer = over_soap(live, request, user=USER, password=PASSWORD)
    assert decode(answer)["metadata"]["status"] == "success"


def test_no_credentials_at_all_is_an_invalid_login(live: LiveServer) -> None:
    answer = decode(over_soap(live, request_for(["task-done"], user="", password="")))
    assert answer["metadata"]["fault"] == "InvalidLogin"


def test_a_configured_user_without_a_password_says_no_password_was_given(live: LiveServer) -> None:
    answer = decode(over_soap(live, request_for(["task-done"], user="", password=""), user=USER))
    assert answer["metadata"]["fault"] == "InvalidLogin"
    assert answer["metadata"]["error"] == (
        f"No password for {USER!r}: the request has none and no default is configured"
    )


# -- unreachable, timeout, certificates -----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_host_is_a_host_communication_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/sdk"
    answer = run_over_soap(decode(request_for(["task-done"])), Settings(soap_url=url, timeout=5))
    assert answer["metadata"]["fault"] == "HostCommunication"
    assert answer["metadata"]["error"].startswith(f"Cannot reach vCenter at {url}")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/sdk"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_host_that_does_not_answer_is_a_timeout(silent_server: str) -> None:
    answer = run_over_soap(decode(request_for(["task-done"])), Settings(soap_url=silent_server, timeout=0.3))
    assert answer["metadata"]["fault"] == "RequestTimeout"
    assert "did not answer within 0.3 s" in answer["metadata"]["error"]


@pytest.fixture(scope="module")
def tls_server(live_mock: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same mock over https with a self-signed certificate."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    https = make_server("127.0.0.1", 0, live_mock.app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=https.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{https.server_port}/sdk"
    https.shutdown()
    thread.join()


def test_a_self_signed_certificate_is_refused_unless_accepted(live: LiveServer, tls_server: str) -> None:
    request = decode(request_for(["task-done"]))
    refused = run_over_soap(request, Settings(soap_url=tls_server, timeout=5))
    assert refused["metadata"]["fault"] == "HostCommunication"
    assert "--insecure" in refused["metadata"]["error"]
    accepted = run_over_soap(request, Settings(soap_url=tls_server, insecure=True, timeout=5))
    assert accepted["metadata"]["status"] == "success"


# -- settings --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ENDPOINTS, ids=[str(case["soap_url"]) + f"+{case['transport']}" for case in ENDPOINTS]
)
def test_endpoint_of(case: dict[str, Any]) -> None:
    settings = Settings(soap_url=case["soap_url"], transport=case["transport"])
    if "fault" in case:
        with pytest.raises(VimFault) as raised:
            endpoint_of(settings)
        assert raised.value.fault_type == case["fault"]
        assert "hunter2" not in raised.value.message
    else:
        assert endpoint_of(settings).url == case["url"]


def test_request_fields_override_defaults_and_empty_ones_do_not() -> None:
    defaults = Settings(soap_url="https://default/sdk", transport="https-rpc", user="svc", password="svc-pw")
    request = {"soap-url": "", "transport": "http-rpc", "user-name": "bob", "password": "bob-pw"}
    assert settings_for(request, defaults) == Settings("https://default/sdk", "http-rpc", "bob", "bob-pw")
    assert settings_for({}, defaults) == defaults


# -- the command line ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """``vismock ARGV`` with only this area's subcommand registered."""
    parser = argparse.ArgumentParser(prog="vismock")
    adapter_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


def test_cli_prints_the_response_envelope(
    live: LiveServer,
    tmp_path: Path,
    capfdbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request_file = tmp_path / "request.xml"
    request_file.write_bytes(request_for(["task-done"], user="", password=""))
    monkeypatch.setenv("VISMOCK_VCENTER_PASSWORD", PASSWORD)
    status = main(
        ["retrieve-task-status", str(request_file), "--soap-url", f"{live.url}/sdk", "--user", USER]
    )
    assert status == 0
    assert capfdbinary.readouterr().out == adapter_face(live, request_for(["task-done"]))


def test_cli_exits_1_on_an_error_envelope(
    live: LiveServer, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    request_file = tmp_path / "request.xml"
    request_file.write_bytes(request_for(["task-nope"], soap_url=f"{live.url}/sdk"))
    password_file = tmp_path / "password"
    password_file.write_text("unused\n")
    assert main(["retrieve-task-status", str(request_file), "--password-file", str(password_file)]) == 1
    assert decode(capfdbinary.readouterr().out)["metadata"]["fault"] == "ManagedObjectNotFound"


def test_cli_exits_2_on_an_invalid_request(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    request_file = tmp_path / "request.xml"
    request_file.write_text("<vmware-infrastructure-request/>")
    assert main(["retrieve-task-status", str(request_file)]) == 2
    assert str(request_file) in capfd.readouterr().err


def test_cli_given_a_response_document_is_a_usage_error_naming_its_root(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    response_file = tmp_path / "response.xml"
    response_file.write_bytes((SEED_REQUEST.parent / "response.xml").read_bytes())
    assert main(["retrieve-task-status", str(response_file)]) == 2
    assert capfd.readouterr().err == (
        f"vismock retrieve-task-status: {response_file}: the root element is"
        " <vmware-infrastructure-response>; expected a <vmware-infrastructure-request>\n"
    )


def test_cli_password_env_naming_an_unset_variable_is_a_usage_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    request_file = tmp_path / "request.xml"
    request_file.write_bytes(request_for(["task-done"], user="", password=""))
    monkeypatch.delenv("VIS_PASSWORD_NOT_SET", raising=False)
    assert main(["retrieve-task-status", str(request_file), "--password-env", "VIS_PASSWORD_NOT_SET"]) == 2
    assert capfd.readouterr().err == (
        "vismock retrieve-task-status: --password-env VIS_PASSWORD_NOT_SET:"
        " that environment variable is not set\n"
    )
