"""The admin API under /_vismock/: tasks, reset, journal, verification, fault rules, clock, access."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import vismock.codec as codec
from tests.support import DATA, JSON
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend

BAD_CASES = tomllib.loads((DATA / "web" / "admin-bad-requests.toml").read_text())["case"]
SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()
NEW_TASK = {
    "id": "task-9001",
    "name": "PowerOffVM_Task",
    "descriptionId": "VirtualMachine.powerOff",
    "entity": {"type": "VirtualMachine", "id": "vm-9", "name": "Nine"},
    "progression": "manual",
    "timeline": [{"state": "queued"}, {"state": "running", "progress": 50}, {"state": "success"}],
}


def adapter_request(client: FlaskClient, *task_ids: str) -> dict[str, Any]:
    body = SEED_REQUEST
    if task_ids:
        sets = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
        body = body.replace(b"<object-set>\n<task>task-525</task>\n</object-set>", sets.encode())
    response = client.post("/adapter", data=body, content_type="text/xml")
    return codec.decode(response.data)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


# -- tasks


def test_list_shows_the_canned_tasks_with_spec_and_info(client: FlaskClient) -> None:
    tasks = ok(client.get("/_vismock/tasks"))["tasks"]
    by_id = {task["id"]: task for task in tasks}
    assert {"task-525", "task-2675"} <= set(by_id)
    assert by_id["task-2675"]["spec"]["name"] == "PowerOnVM_Task"
    assert by_id["task-2675"]["info"]["state"] == "success"


def test_get_one_task(client: FlaskClient) -> None:
    task = ok(client.get("/_vismock/tasks/task-525"))
    assert task["info"]["key"] == "task-525"
    assert task["spec"]["id"] == "task-525"


def test_add_one_task_is_served_by_the_adapter_face(client: FlaskClient) -> None:
    assert ok(client.post("/_vismock/tasks", json=NEW_TASK), 201) == {"tasks": ["task-9001"]}
    response = adapter_request(client, "task-9001")
    info = response["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert (info["state"], info["VirtualMachine"], info["entityName"]) == ("queued", "vm-9", "Nine")


@pytest.mark.parametrize("shape", ["list", "tasks-object"])
def test_add_many_tasks(client: FlaskClient, shape: str) -> None:
    many = [{**NEW_TASK, "id": f"task-{n}"} for n in (9101, 9102)]
    body: Any = many if shape == "list" else {"tasks": many}
    assert ok(client.post("/_vismock/tasks", json=body), 201) == {"tasks": ["task-9101", "task-9102"]}
    assert adapter_request(client, "task-9101", "task-9102")["metadata"]["status"] == "success"


def test_put_replaces_a_task_and_restarts_its_lifecycle(client: FlaskClient) -> None:
    ok(client.put("/_vismock/tasks/task-525", json={k: v for k, v in NEW_TASK.items() if k != "id"}))
    task = ok(client.get("/_vismock/tasks/task-525"))
    assert (task["spec"]["name"], task["info"]["state"]) == ("PowerOffVM_Task", "queued")


def test_round_trip_of_the_task_file_form(client: FlaskClient) -> None:
    spec = ok(client.get("/_vismock/tasks/task-1005"))["spec"]
    ok(client.put("/_vismock/tasks/task-1005", json=spec))
    assert ok(client.get("/_vismock/tasks/task-1005"))["spec"] == spec


def test_delete_then_the_adapter_face_does_not_find_it(client: FlaskClient) -> None:
    ok(client.delete("/_vismock/tasks/task-525"))
    response = adapter_request(client)
    assert response["metadata"]["fault"] == "ManagedObjectNotFound"
    assert ok(client.get("/_vismock/tasks/task-525"), 404)["error"]


def test_advance_a_manual_task(client: FlaskClient) -> None:
    ok(client.post("/_vismock/tasks", json=NEW_TASK), 201)
    assert ok(client.post("/_vismock/tasks/task-9001/advance", json={}))["info"]["progress"] == 50
    assert (
        ok(client.post("/_vismock/tasks/task-9001/advance", json={"steps": 5}))["info"]["state"] == "success"
    )


def test_reset_returns_to_the_loaded_tasks_and_clears_the_journal(client: FlaskClient) -> None:
    ok(client.post("/_vismock/tasks", json=NEW_TASK), 201)
    ok(client.delete("/_vismock/tasks/task-525"))
    adapter_request(client)
    ok(client.post("/_vismock/reset", content_type=JSON))
    ids = {task["id"] for task in ok(client.get("/_vismock/tasks"))["tasks"]}
    assert "task-525" in ids
    assert "task-9001" not in ids
    assert ok(client.get("/_vismock/journal"))["entries"] == []


# -- journal and verification


def test_journal_records_face_operation_tasks_outcome_and_latency(client: FlaskClient) -> None:
    adapter_request(client, "task-525", "task-2675")
    adapter_request(client, "task-404")
    entries = ok(client.get("/_vismock/journal"))["entries"]
    first, second = entries
    assert (first["face"], first["operation"], first["task_ids"]) == (
        "adapter",
        "Retrieve_Task_Status",
        ["task-525", "task-2675"],
    )
    assert (first["outcome"], second["outcome"]) == ("ok", "ManagedObjectNotFound")
    assert first["latency_ms"] >= 0
    assert first["time"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("task=task-525", 2),
        ("task=task-2675", 1),
        ("outcome=ManagedObjectNotFound", 1),
        ("face=adapter", 3),
        ("face=soap", 0),
        ("operation=Retrieve_Task_Status", 3),
        ("task=task-525&outcome=ok", 2),
        ("", 3),
    ],
)
def test_journal_filters_and_count_agree(client: FlaskClient, query: str, expected: int) -> None:
    adapter_request(client, "task-525")
    adapter_request(client, "task-525", "task-2675")
    adapter_request(client, "task-404")
    assert len(ok(client.get(f"/_vismock/journal?{query}"))["entries"]) == expected
    assert ok(client.get(f"/_vismock/journal/count?{query}"))["count"] == expected


def test_journal_limit_and_clear(client: FlaskClient) -> None:
    for _ in range(3):
        adapter_request(client)
    assert len(ok(client.get("/_vismock/journal?limit=2"))["entries"]) == 2
    ok(client.delete("/_vismock/journal"))
    assert ok(client.get("/_vismock/journal/count"))["count"] == 0


def test_admin_changes_are_journaled_and_reads_are_not(client: FlaskClient) -> None:
    ok(client.get("/_vismock/tasks"))
    ok(client.post("/_vismock/tasks", json=NEW_TASK), 201)
    entries = ok(client.get("/_vismock/journal?face=admin"))["entries"]
    assert [(entry["operation"], entry["task_ids"]) for entry in entries] == [
        ("POST /_vismock/tasks", ["task-9001"])
    ]


# -- fault rules


def test_fault_rules_add_list_clear(client: FlaskClient) -> None:
    added = ok(
        client.post("/_vismock/faults", json=[{"action": "drop", "task": "task-525"}, {"action": "delay"}]),
        201,
    )
    assert [rule["action"] for rule in added["faults"]] == ["drop", "delay"]
    assert all(rule["id"] is not None for rule in added["faults"])
    assert len(ok(client.get("/_vismock/faults"))["faults"]) == 2
    ok(client.delete("/_vismock/faults"))
    assert ok(client.get("/_vismock/faults"))["faults"] == []


def test_error_rule_fires_for_the_next_n_requests(client: FlaskClient) -> None:
    ok(
        client.post("/_vismock/faults", json={"action": "error", "times": 2, "fault": "HostCommunication"}),
        201,
    )
    faults = [adapter_request(client)["metadata"].get("fault") for _ in range(3)]
    assert faults == ["HostCommunication", "HostCommunication", None]


def test_probability_zero_never_fires(client: FlaskClient) -> None:
    ok(client.post("/_vismock/faults", json={"action": "error", "times": None, "probability": 0.0}), 201)
    assert {adapter_request(client)["metadata"]["status"] for _ in range(5)} == {"success"}


def test_rule_for_the_soap_face_leaves_the_adapter_face_alone(client: FlaskClient) -> None:
    ok(client.post("/_vismock/faults", json={"action": "error", "face": "soap", "times": None}), 201)
    assert adapter_request(client)["metadata"]["status"] == "success"


# -- clock


def test_clock_freeze_advance_resume(client: FlaskClient) -> None:
    frozen = ok(client.post("/_vismock/clock/freeze", json={"at": "2030-01-01T00:00:00Z"}))
    assert frozen["frozen"] is True
    frozen = frozen["now"]
    assert frozen.startswith("2030-01-01T00:00:00")
    assert ok(client.get("/_vismock/clock"))["now"] == frozen
    assert ok(client.post("/_vismock/clock/advance", json={"seconds": 90}))["now"].startswith(
        "2030-01-01T00:01:30"
    )
    resumed = ok(client.post("/_vismock/clock/resume", content_type=JSON))
    assert resumed["frozen"] is False
    assert resumed["now"] >= "2030-01-01T00:01:30"  # it never jumps backwards
    ok(client.post("/_vismock/reset", content_type=JSON))
    assert not ok(client.get("/_vismock/clock"))["now"].startswith("2030")  # reset: real time again


def test_clock_drives_a_time_task(client: FlaskClient) -> None:
    ok(client.post("/_vismock/clock/freeze", content_type=JSON))
    timeline = [
        {"state": "queued"},
        {"state": "running", "at": 5, "progress": 0},
        {"state": "success", "at": 10},
    ]
    ok(client.post("/_vismock/tasks", json={**NEW_TASK, "progression": "time", "timeline": timeline}), 201)
    states = []
    for _ in range(3):
        states.append(ok(client.get("/_vismock/tasks/task-9001"))["info"]["state"])
        ok(client.post("/_vismock/clock/advance", json={"seconds": 5}))
    assert states == ["queued", "running", "success"]


# -- refusals


@pytest.mark.parametrize("case", BAD_CASES, ids=[case["name"] for case in BAD_CASES])
def test_bad_admin_requests_get_a_clear_json_error(client: FlaskClient, case: dict[str, Any]) -> None:
    body = case["body"].encode("latin-1" if case.get("latin1") else "utf-8")
    response = client.open(case["path"], method=case["method"], data=body, content_type="application/json")
    assert response.status_code == case["status"]
    assert case["error"] in response.get_json()["error"]


def test_remote_clients_are_refused_without_a_token(client: FlaskClient) -> None:
    response = client.get("/_vismock/tasks", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 403
    assert "--admin-token" in response.get_json()["error"]
    remote_adapter = client.post(
        "/adapter", data=SEED_REQUEST, content_type="text/xml", environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert remote_adapter.status_code == 200  # only the admin API is restricted


def test_a_token_protects_the_admin_api_from_any_address(tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "db.sqlite3"), "VISMOCK_ADMIN_TOKEN": "t0ken"})
    client = app.test_client()
    assert client.get("/_vismock/tasks").status_code == 401
    assert client.get("/_vismock/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    granted = client.get("/_vismock/tasks", headers={"Authorization": "Bearer t0ken"}, environ_base=remote)
    assert granted.status_code == 200


def test_unexpected_admin_failure_is_a_json_500_and_logged(
    client: FlaskClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(type(backend.faults), "rules", explode)  # a state object refuses setattr
    response = client.get("/_vismock/faults")
    assert response.status_code == 500
    assert "RuntimeError" in response.get_json()["error"]


# -- the journal with a state file: in memory when answered, written behind to the file, read back


def test_journal_with_a_state_file_is_complete_when_read_and_kept_by_a_clean_stop(tmp_path: Path) -> None:
    def started() -> tuple[FlaskClient, Backend]:
        app = create_app({"VISMOCK_DB": str(tmp_path / "db.sqlite3")})
        return app.test_client(), services_of(app).backend

    client, backend = started()
    for _ in range(25):
        adapter_request(client)
    assert ok(client.get("/_vismock/journal/count?task=task-525"))["count"] == 25  # each one once answered
    backend.close()  # a clean stop: what waits to be written is written
    client, backend = started()
    assert ok(client.get("/_vismock/journal/count?task=task-525"))["count"] == 25  # read back from the file
    assert len(ok(client.get("/_vismock/journal"))["entries"]) == 25
    ok(client.delete("/_vismock/journal"))
    backend.close()
    client, backend = started()
    assert ok(client.get("/_vismock/journal/count"))["count"] == 0  # cleared in the file too
    backend.close()


def test_deeply_nested_json_is_a_clear_400(client: FlaskClient) -> None:
    response = client.post("/_vismock/faults", data=b"[" * 200_000, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["error"]


def test_freezing_the_clock_back_never_shows_a_time_after_now(client: FlaskClient) -> None:
    ok(client.post("/_vismock/clock/freeze", json={"at": "2030-01-01T00:00:00Z"}))
    timeline = [{"state": "queued"}, {"state": "running", "at": 5}, {"state": "success", "at": 60}]
    early = {**NEW_TASK, "id": "task-early", "progression": "time", "timeline": timeline}
    ok(client.post("/_vismock/tasks", json=early), 201)
    ok(client.post("/_vismock/clock/advance", json={"seconds": 30}))
    late = {**early, "id": "task-late"}
    ok(client.post("/_vismock/tasks", json=late), 201)  # queued at 00:00:30
    ok(client.post("/_vismock/clock/advance", json={"seconds": 10}))
    ok(client.post("/_vismock/clock/freeze", json={"at": "2030-01-01T00:00:20Z"}))  # back 20 s
    returnvals = adapter_request(client, "task-early", "task-late")["RetrieveTaskStatusResponse"]["returnval"]
    infos = {returnval["Task"]: returnval["propSet"]["TaskInfo"] for returnval in returnvals}
    # Queued before the new now: the state it had then (running since 00:00:05).
    assert infos["task-early"]["state"] == "running"
    assert str(infos["task-early"]["queueTime"]) == "2030-01-01T00:00:00Z"
    # Queued after it: started over at the new now, not queued in the future.
    assert infos["task-late"]["state"] == "queued"
    assert str(infos["task-late"]["queueTime"]) == "2030-01-01T00:00:20Z"


def test_a_fault_rule_naming_an_unknown_fault_type_is_refused(client: FlaskClient) -> None:
    response = client.post("/_vismock/faults", json={"action": "error", "fault": "DiskIsFull"})
    assert response.status_code == 400
    assert "fault 'DiskIsFull' is not a vim25 fault type vismock serves" in response.get_json()["error"]


def test_health_answers_any_client_without_a_token_and_tells_nothing_of_the_state(tmp_path: Path) -> None:
    guarded = create_app({"VISMOCK_DB": str(tmp_path / "s.sqlite3"), "VISMOCK_ADMIN_TOKEN": "secret"})
    remote = guarded.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    health = ok(remote.get("/_vismock/health"))
    assert set(health) == {"status", "pid"} and health["status"] == "ok"
    assert remote.get("/_vismock/tasks").status_code == 401
