"""Fault rules fire exactly as configured under concurrency, stay on their task, and survive a restart.

Runs against the pytest plugin's real server (waitress, a real socket) and, for restarts,
against app instances restarted on one database file and two ``vismock serve`` runs.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import vismock.codec as codec
from tests.support import wire as vim25
from tests.support.hostile import load_documents
from tests.support.served import Served
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.vim25.check import envelope_errors

documents = load_documents()
XML = "text/xml; charset=utf-8"
THREADS = 16
INJECTED = b"fault injected by vismock"
TASK = {
    "name": "PowerOnVM_Task",
    "descriptionId": "VirtualMachine.powerOn",
    "timeline": [{"state": "success"}],
}


class Client:
    """One keep-alive HTTP connection to the server (one per thread)."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.cookie: str | None = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": XML, **({"Cookie": self.cookie} if self.cookie else {})}
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return response.status, data

    def login(self) -> Client:
        status, data = self.post("/sdk", documents.soap_login("vismock", "vismock"))
        assert status == 200, data
        return self

    def close(self) -> None:
        self.connection.close()


def adapter_body(task_id: str) -> bytes:
    body: bytes = documents.adapter_request([task_id])
    return body


def run_in_threads(
    url: str, per_thread: int, call: Callable[[Client], bytes], login: bool = False
) -> list[bytes]:
    """*per_thread* calls on each of THREADS threads at once; every answer body, in no order."""
    start = threading.Barrier(THREADS)

    def worker(_: int) -> list[bytes]:
        client = Client(url)
        if login:
            client.login()
        start.wait()
        try:
            return [call(client) for _ in range(per_thread)]
        finally:
            client.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return [body for bodies in pool.map(worker, range(THREADS)) for body in bodies]


def adapter_call(task_id: str) -> Callable[[Client], bytes]:
    def call(client: Client) -> bytes:
        status, data = client.post("/adapter", adapter_body(task_id))
        assert status == 200 and codec.is_valid(data), data[:300]
        return data

    return call


def soap_call(task_id: str) -> Callable[[Client], bytes]:
    def call(client: Client) -> bytes:
        status, data = client.post("/sdk", documents.soap_retrieve_task_info(task_id))
        assert envelope_errors(data) == [], data[:300]
        assert status == (500 if vim25.fault_type_of(data) else 200)
        return data

    return call


@pytest.fixture
def server(vismock_server: Any) -> Any:
    for task_id in ("task-fault-a", "task-fault-b"):
        vismock_server.add_task(id=task_id, timeline=[{"state": "success"}])
    return vismock_server


@pytest.mark.parametrize("times", [1, 7, 40])
def test_times_n_fires_exactly_n_times_across_16_threads_on_adapter_face(server: Any, times: int) -> None:
    server.fail_next("error", task="task-fault-a", times=times)
    bodies = run_in_threads(server.url, 8, adapter_call("task-fault-a"))
    assert sum(INJECTED in body for body in bodies) == times
    assert server.backend.faults.rules() == []  # used up, and removed
    assert server.count(task="task-fault-a", outcome="fault-injected") == times
    assert server.count(task="task-fault-a", outcome="ok") == len(bodies) - times


def test_times_n_fires_exactly_n_times_across_16_threads_on_soap_face(server: Any) -> None:
    server.fail_next("error", task="task-fault-a", face="soap", operation="RetrievePropertiesEx", times=9)
    bodies = run_in_threads(server.url, 6, soap_call("task-fault-a"), login=True)
    assert sum(INJECTED in body for body in bodies) == 9
    assert server.count(face="soap", outcome="fault-injected") == 9


@pytest.mark.slow
def test_probability_fires_within_tolerance(server: Any) -> None:
    # 960 tries at p = 0.3: mean 288, sigma 14.2; +-5 sigma fails by chance about once in 1.7 million runs.
    server.fail_next("error", task="task-fault-a", times=None, probability=0.3)
    bodies = run_in_threads(server.url, 60, adapter_call("task-fault-a"))
    fired = sum(INJECTED in body for body in bodies)
    assert len(bodies) == 960
    assert 288 - 71 <= fired <= 288 + 71, fired
    assert len(server.backend.faults.rules()) == 1  # an unlimited rule stays


def test_rule_for_one_task_never_touches_another(server: Any) -> None:
    server.fail_next("error", task="task-fault-a", times=None)
    bodies = run_in_threads(server.url, 5, adapter_call("task-fault-b"))
    assert not any(INJECTED in body for body in bodies)
    assert server.count(outcome="fault-injected") == 0


@pytest.mark.slow
def test_delay_on_one_task_does_not_hold_up_another(server: Any) -> None:
    server.fail_next("delay", task="task-fault-a", delay_seconds=4.0)
    delayed: list[bytes] = []
    slow = threading.Thread(target=lambda: delayed.append(adapter_call("task-fault-a")(Client(server.url))))
    slow.start()
    client = Client(server.url)
    others = [adapter_call("task-fault-b")(client) for _ in range(20)]
    # Ordering, not timing: all 20 answers for the other task came while the delayed one was pending.
    assert slow.is_alive(), "the delayed request finished before the other task's 20 requests"
    assert all(b"<status>success</status>" in body for body in others)
    slow.join()
    assert b"<status>success</status>" in delayed[0]  # a delay answers normally in the end


def test_dropped_connection_on_one_task_leaves_others_working(server: Any) -> None:
    server.fail_next("drop", task="task-fault-a", times=1)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        Client(server.url, timeout=10).post("/adapter", adapter_body("task-fault-a"))
    bodies = run_in_threads(server.url, 4, adapter_call("task-fault-b"))
    assert all(b"<status>success</status>" in body for body in bodies)
    assert b"<status>success</status>" in adapter_call("task-fault-a")(Client(server.url))  # used up
    assert server.count(task="task-fault-a", outcome="fault-injected") == 1


def test_drop_on_soap_face_leaves_the_session_usable(server: Any) -> None:
    client = Client(server.url).login()
    server.fail_next("drop", task="task-fault-a", face="soap", times=1)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        client.post("/sdk", documents.soap_retrieve_task_info("task-fault-a"))
    client.connection.close()  # reconnect with the same cookie
    assert vim25.fault_type_of(soap_call("task-fault-a")(client)) is None


@pytest.mark.parametrize("face", ["adapter", "soap"])
def test_status_and_malformed_rules_answer_as_documented(server: Any, face: str) -> None:
    client = Client(server.url).login()
    path, body = (
        ("/adapter", adapter_body("task-fault-a"))
        if face == "adapter"
        else ("/sdk", documents.soap_retrieve_task_info("task-fault-a"))
    )
    server.fail_next("status", task="task-fault-a", face=face, http_status=503)
    status, data = client.post(path, body)
    assert status == 503 and INJECTED in data
    assert codec.is_valid(data) if face == "adapter" else envelope_errors(data) == []
    server.fail_next("malformed", task="task-fault-a", face=face)
    status, data = client.post(path, body)
    assert data and not data.rstrip().endswith(b">")  # cut in half
    status, data = client.post(path, body)
    assert INJECTED not in data and (status == 200)


# -- restarts keep tasks and rules -----------------------------------------------------------------


def test_an_app_restarted_on_its_database_keeps_tasks_rules_and_what_the_rules_used(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")

    def restarted() -> tuple[Any, Any]:
        app = create_app({"VISMOCK_DB": database})
        return app.test_client(), services_of(app).backend

    first, backend = restarted()
    assert first.put("/_vismock/tasks/task-kept", json=TASK).status_code == 200
    assert (
        first.post("/_vismock/faults", json={"action": "error", "task": "task-kept", "times": 2}).status_code
        == 201
    )
    backend.close()
    second, backend = restarted()
    assert second.get("/_vismock/tasks/task-kept").status_code == 200
    assert [rule["times"] for rule in second.get("/_vismock/faults").get_json()["faults"]] == [2]
    answers = [
        second.post("/adapter", data=adapter_body("task-kept"), content_type=XML).data for _ in range(3)
    ]
    assert [INJECTED in answer for answer in answers] == [True, True, False]
    backend.close()
    third, backend = restarted()
    assert third.get("/_vismock/faults").get_json()["faults"] == []  # its uses were acknowledged
    backend.close()


@pytest.mark.slow
def test_restarted_vismock_serve_keeps_tasks_and_rules(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    server = Served(tmp_path, "--db", database)
    try:
        assert (
            server.request(
                "PUT",
                "/_vismock/tasks/task-kept",
                json.dumps(TASK).encode(),
                {"Content-Type": "application/json"},
            )[0]
            == 200
        )
        rule = {"action": "error", "task": "task-kept", "times": 3}
        assert (
            server.request(
                "POST", "/_vismock/faults", json.dumps(rule).encode(), {"Content-Type": "application/json"}
            )[0]
            == 201
        )
        assert INJECTED in server.request("POST", "/adapter", adapter_body("task-kept"))[1]
    finally:
        server.stop()
    restarted = Served(tmp_path, "--db", database)
    try:
        assert restarted.request("GET", "/_vismock/tasks/task-kept")[0] == 200
        _, body, _ = restarted.request("GET", "/_vismock/faults")
        assert [rule["times"] for rule in json.loads(body)["faults"]] == [2]
        answers = [restarted.request("POST", "/adapter", adapter_body("task-kept"))[1] for _ in range(3)]
        assert [INJECTED in answer for answer in answers] == [True, True, False]
    finally:
        restarted.stop()
