"""The adapter face, POST /adapter: envelopes in and out through the codec, error rules, credentials."""

from __future__ import annotations

import io
import logging
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import vismock.codec as codec
from tests.support import DATA
from vismock.mockserver.app import create_app
from vismock.mockserver.faces.adapter import FALLBACK_BODY
from vismock.mockserver.state import Backend, TaskSpec
from vismock.mockserver.state.taskfile import load_builtin_tasks

BAD_REQUESTS = DATA / "web" / "bad-requests"
BAD_CASES = tomllib.loads((DATA / "web" / "bad-requests.toml").read_text())["cases"]
SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()
XML = "text/xml"
SECRET = "s3cret-Pa55"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def mock_config() -> dict[str, Any]:
    return {"VISMOCK_ACCOUNTS": {"bmc": SECRET}}


def request_xml(*task_ids: str, user: str = "", password: str = "") -> bytes:
    return codec.encode(
        {
            "operation-type": "Monitor_Vm",
            "operation-name": "Retrieve_Task_Status",
            "user-name": user or None,
            "password": password or None,
            "parameters": {"spec-set": {"object-set": [{"task": task_id} for task_id in task_ids]}},
        }
    )


def post(client: FlaskClient, body: bytes, content_type: str = XML) -> tuple[int, dict[str, Any], bytes]:
    """POST to the adapter face; checks the invariants every answer keeps and returns it decoded."""
    response = client.post("/adapter", data=body, content_type=content_type)
    assert response.content_type == "text/xml; charset=utf-8"
    assert list(codec.iter_errors(response.data)) == []
    return response.status_code, codec.decode(response.data), response.data


def states_of(data: dict[str, Any]) -> list[str]:
    return [ret["propSet"]["TaskInfo"]["state"] for ret in data["RetrieveTaskStatusResponse"]["returnval"]]


# -- the seed and the happy path


def test_seed_request_answers_task_525(client: FlaskClient) -> None:
    status, data, _ = post(client, SEED_REQUEST)
    assert status == 200
    assert data["metadata"] == {"status": "success"}
    info = data["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert (info["key"], info["name"], info["state"]) == ("task-525", "PowerOnVM_Task", "success")


def test_several_tasks_answer_one_returnval_each_in_request_order(client: FlaskClient) -> None:
    status, data, _ = post(client, request_xml("task-2675", "task-525", "task-2675"))
    assert status == 200
    tasks = [ret["Task"] for ret in data["RetrieveTaskStatusResponse"]["returnval"]]
    assert tasks == ["task-2675", "task-525", "task-2675"]


# -- every canned task in every state validates


def _request_states(client: FlaskClient, task_id: str) -> str:
    status, data, _ = post(client, request_xml(task_id))
    assert status == 200, data
    return states_of(data)[0]


def _walk_time(client: FlaskClient, backend: Backend, spec: TaskSpec) -> list[str]:
    base = spec.queued_at or T0
    backend.freeze(base)
    backend.tasks.put([spec])  # restarts the lifecycle, queued at the frozen clock
    seen = []
    for step in spec.timeline:
        for offset in (0.0, 0.001):
            backend.freeze(base + timedelta(seconds=step.at + offset))
            seen.append(_request_states(client, spec.id))
    return seen


def _walk_polls(client: FlaskClient, backend: Backend, spec: TaskSpec) -> list[str]:
    backend.freeze(T0)
    backend.tasks.put([spec])
    return [_request_states(client, spec.id) for _ in range(int(spec.timeline[-1].at) + 2)]


def _walk_manual(client: FlaskClient, backend: Backend, spec: TaskSpec) -> list[str]:
    backend.freeze(T0)
    backend.tasks.put([spec])
    seen = [_request_states(client, spec.id)]
    for _ in spec.timeline:
        backend.tasks.advance(spec.id)
        seen.append(_request_states(client, spec.id))
    return seen


WALKERS = {"time": _walk_time, "polls": _walk_polls, "manual": _walk_manual}


@pytest.mark.parametrize("spec", load_builtin_tasks(), ids=lambda spec: spec.id)
def test_every_canned_task_in_every_state_is_a_valid_response(
    client: FlaskClient, backend: Backend, spec: TaskSpec
) -> None:
    seen = WALKERS[spec.progression](client, backend, spec)
    assert set(seen) == {step.state for step in spec.timeline}


def test_a_cancelled_task_is_a_valid_error_state(client: FlaskClient, backend: Backend) -> None:
    cancelable = next(spec for spec in load_builtin_tasks() if spec.cancelable and spec.queued_at is None)
    backend.freeze(T0)
    backend.tasks.put([cancelable])
    backend.advance(cancelable.timeline[1].at)
    backend.tasks.cancel(cancelable.id)
    status, data, _ = post(client, request_xml(cancelable.id))
    info = data["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert (status, info["state"], info["cancelled"]) == (200, "error", True)
    assert info["error"]["fault"] == "RequestCanceled"


# -- operation failures: HTTP 200 with status error


def test_unknown_task_is_managed_object_not_found_naming_it(client: FlaskClient) -> None:
    status, data, _ = post(client, request_xml("task-525", "task-404"))
    assert status == 200
    assert data["metadata"]["status"] == "error"
    assert data["metadata"]["fault"] == "ManagedObjectNotFound"
    assert "task-404" in data["metadata"]["error"]
    assert "RetrieveTaskStatusResponse" not in data


def test_wrong_password_is_invalid_login_and_the_password_is_nowhere(
    client: FlaskClient, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, data, raw = post(client, request_xml("task-525", user="bmc", password="not-" + SECRET))
    assert (status, data["metadata"]["fault"]) == (200, "InvalidLogin")
    journal = client.get("/_vismock/journal").get_data(as_text=True)
    for text in (raw.decode(), journal, caplog.text, repr(backend.journal.entries())):
        assert SECRET not in text
    assert backend.journal.entries()[-1].user == "bmc"
    assert backend.journal.entries()[-1].outcome == "InvalidLogin"


def test_right_password_is_accepted_and_journaled_by_user(client: FlaskClient, backend: Backend) -> None:
    status, data, raw = post(client, request_xml("task-525", user="bmc", password=SECRET))
    assert (status, data["metadata"]["status"]) == (200, "success")
    assert SECRET.encode() not in raw
    entry = backend.journal.entries()[-1]
    assert (entry.user, entry.outcome, entry.task_ids) == ("bmc", "ok", ("task-525",))


def test_unknown_user_is_invalid_login(client: FlaskClient) -> None:
    _, data, _ = post(client, request_xml("task-525", user="mallory", password=SECRET))
    assert data["metadata"]["fault"] == "InvalidLogin"


def test_default_account_is_vismock(tmp_path: Path) -> None:
    client = create_app({"VISMOCK_DB": str(tmp_path / "db.sqlite3")}).test_client()
    _, ok, _ = post(client, request_xml("task-525", user="vismock", password="vismock"))
    _, refused, _ = post(client, request_xml("task-525", user="vismock", password="wrong"))
    assert (ok["metadata"]["status"], refused["metadata"]["fault"]) == ("success", "InvalidLogin")


def test_empty_user_name_means_the_adapters_configured_account(client: FlaskClient, backend: Backend) -> None:
    status, data, _ = post(client, SEED_REQUEST)  # <user-name></user-name><password></password>
    assert (status, data["metadata"]["status"]) == (200, "success")
    assert backend.journal.entries()[-1].user is None


# -- invalid requests: HTTP 4xx with every problem listed


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_invalid_request_is_4xx_with_located_details(
    client: FlaskClient, backend: Backend, name: str
) -> None:
    case = BAD_CASES[name]
    status, data, _ = post(client, (BAD_REQUESTS / name).read_bytes())
    assert status == case["status"]
    metadata = data["metadata"]
    assert metadata["status"] == "error"
    assert len(metadata["error-detail"]) == case["details"]
    assert case["reason"] in metadata["error-detail"][0]["reason"]
    assert all(detail["path"] for detail in metadata["error-detail"])
    assert backend.journal.entries()[-1].outcome == "invalid"


def test_every_validation_error_carries_its_line(client: FlaskClient) -> None:
    _, data, _ = post(client, (BAD_REQUESTS / "three-errors.xml").read_bytes())
    assert [detail["line"] for detail in data["metadata"]["error-detail"]] == [4, 8, 9]


def test_password_in_an_invalid_request_is_not_echoed(client: FlaskClient) -> None:
    body = request_xml("task-525", user="bmc", password=SECRET).replace(b"<task>task-525", b"<task>task 525")
    status, _, raw = post(client, body)
    assert status == 400
    assert SECRET.encode() not in raw


def test_non_xml_content_type_is_415(client: FlaskClient) -> None:
    status, data, _ = post(client, SEED_REQUEST, content_type="application/json")
    assert status == 415
    assert "application/json" in data["metadata"]["error"]


def test_body_over_the_cap_is_413_before_parsing(tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "db.sqlite3"), "MAX_CONTENT_LENGTH": 1000})
    status, data, _ = post(app.test_client(), SEED_REQUEST + b" " * 2000)
    assert status == 413
    assert "1000 bytes" in data["metadata"]["error"]


# -- never a 500


def test_unexpected_exception_is_a_valid_system_error_envelope(
    client: FlaskClient, backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(task_id: str, *, poll: bool = True) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(backend.tasks, "read", explode)
    status, data, _ = post(client, request_xml("task-525", user="bmc", password=SECRET))
    assert (status, data["metadata"]["fault"]) == (200, "SystemError")
    assert "disk on fire" in caplog.text  # logged for the operator...
    assert SECRET not in caplog.text  # ...without the request


def test_fallback_body_is_a_valid_response() -> None:
    assert list(codec.iter_errors(FALLBACK_BODY)) == []


# -- fault rules on this face (the HTTP-level ones are tested over a real socket in test_plugin.py) ----------


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"action": "error", "fault": "NotAuthenticated"}, 200),
        ({"action": "status", "http_status": 503}, 503),
    ],
)
def test_error_and_status_rules_answer_a_valid_error_envelope(
    client: FlaskClient, rule: dict[str, Any], status: int
) -> None:
    assert client.post("/_vismock/faults", json={**rule, "task": "task-525"}).status_code == 201
    got_status, data, _ = post(client, SEED_REQUEST)
    assert (got_status, data["metadata"]["status"]) == (status, "error")
    _, again, _ = post(client, SEED_REQUEST)  # times=1: the next request is normal again
    assert again["metadata"]["status"] == "success"


def test_malformed_rule_truncates_the_body(client: FlaskClient, backend: Backend) -> None:
    client.post("/_vismock/faults", json={"action": "malformed", "operation": "Retrieve_Task_Status"})
    response = client.post("/adapter", data=SEED_REQUEST, content_type=XML)
    assert response.status_code == 200
    assert not codec.is_valid(response.data)
    assert backend.journal.entries()[-1].outcome == "fault-injected"


def test_rule_for_another_task_does_not_fire(client: FlaskClient) -> None:
    client.post("/_vismock/faults", json={"action": "error", "task": "task-2675"})
    _, data, _ = post(client, SEED_REQUEST)
    assert data["metadata"]["status"] == "success"


@pytest.fixture
def frozen_backend(backend: Backend) -> Iterator[Backend]:
    backend.freeze(T0)
    yield backend
    backend.resume()


def test_time_fields_follow_the_mock_clock(client: FlaskClient, frozen_backend: Backend) -> None:
    spec = next(spec for spec in load_builtin_tasks() if spec.id == "task-1001")
    frozen_backend.tasks.put([spec])
    frozen_backend.advance(45)
    _, data, _ = post(client, request_xml("task-1001"))
    info = data["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert info["queueTime"].datetime == T0
    assert info["completeTime"].datetime == T0 + timedelta(seconds=40)


def test_chunked_body_over_the_cap_is_413_not_cut(tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "db.sqlite3"), "MAX_CONTENT_LENGTH": 1000})
    padded = SEED_REQUEST.replace(b"<parameters>", b"<parameters>" + b" " * 2000)
    response = app.test_client().post(
        "/adapter",
        input_stream=io.BytesIO(padded),
        content_type=XML,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what granian and waitress set for chunked bodies
    )
    assert response.status_code == 413
    assert "1000 bytes" in codec.decode(response.data)["metadata"]["error"]


def test_get_is_405_with_an_envelope(client: FlaskClient) -> None:
    response = client.get("/adapter")
    assert response.status_code == 405
    assert codec.decode(response.data)["metadata"]["status"] == "error"
    assert response.headers["Allow"].startswith(("POST", "OPTIONS"))
