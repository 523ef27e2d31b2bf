"""Issue 19's reproductions, each refused or bounded now (SECURITY.md lists them):

* one RetrievePropertiesEx of 16,000 unknown task ids in dynamic mode held a worker for seconds
  and grew memory by hundreds of MiB: now a call names at most 2,000 starting objects (more is
  vim25's LimitExceeded, answered at once), only the page it returns is read (a page is at most
  100 objects, as vCenter pages too), memory stays flat, and other clients' polls are not held up;
* a reload of an edited task file lost the tasks created since and the VMs' power states: now a
  reload replaces only the sections of the file that changed;
* anyone with the default login could end every other session by logging in past the session cap:
  now the cap is each user's, so a user's logins end only that user's least active session.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import pytest

from tests.support.served import Served, served
from tests.support.soap import call_xml, login_body

pytestmark = pytest.mark.slow  # real `vismock serve` processes

SESSION_COOKIE = "vmware_soap_session"
INSTANT = Path(__file__).parents[1] / "data" / "soap" / "instant-operations.yaml"
IDS = 16_000


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _login(server: Served, user: str = "vismock", password: str = "vismock") -> str:
    status, _body, headers = server.request("POST", "/sdk", login_body(user, password))
    assert status == 200
    cookie = next(value for name, value in headers.items() if name.lower() == "set-cookie")
    return cookie.split(";", 1)[0].split("=", 1)[1]


def _retrieve_many(ids: int, max_objects: int | None) -> bytes:
    objects = "".join(f'<objectSet><obj type="Task">task-gen-{n}</obj></objectSet>' for n in range(ids))
    options = f"<options><maxObjects>{max_objects}</maxObjects></options>" if max_objects else "<options/>"
    spec = f"<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>{objects}</specSet>"
    return call_xml("RetrievePropertiesEx", "PropertyCollector", "propertyCollector", spec + options)


@pytest.mark.parametrize(
    ("ids", "max_objects", "objects"), [(IDS, 100, 0), (IDS, None, 0), (2000, 10, 10), (2000, None, 100)]
)
def test_a_retrieve_of_many_unknown_ids_is_bounded(ids: int, max_objects: int | None, objects: int) -> None:
    # No canned tasks: nothing on the clock's schedule, so the other client's poll is answered from
    # memory and never waits for the state (it would while an event due were fired).
    with served("--dynamic", "--quiet", "--tasks", str(INSTANT)) as server:
        cookie = {"Cookie": f"{SESSION_COOKIE}={_login(server)}"}
        worker = server.call("GET", "/_vismock/health")["pid"]
        poll = call_xml(
            "RetrievePropertiesEx",
            "PropertyCollector",
            "propertyCollector",
            "<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>"
            '<objectSet><obj type="Task">task-polled</obj></objectSet></specSet><options/>',
        )
        body = _retrieve_many(ids, max_objects)
        assert len(body) < 1024 * 1024  # under the body cap, as in the reproduction
        for _ in range(3):  # a client polling already, as the reproduction's were
            assert server.request("POST", "/sdk", poll, cookie)[0] == 200
        before = _rss_kib(worker)
        latencies: list[float] = []
        stop = threading.Event()

        def other_client() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                status, _answer, _headers = server.request("POST", "/sdk", poll, cookie)
                latencies.append(time.perf_counter() - started)
                assert status == 200

        poller = threading.Thread(target=other_client)
        poller.start()
        try:
            started = time.monotonic()
            status, answer, _headers = server.request("POST", "/sdk", body, cookie)
            took = time.monotonic() - started
        finally:
            stop.set()
            poller.join()
        if objects:
            assert status == 200, answer[:500]
            assert answer.count(b"<objects>") == objects  # only the page was read
            assert b"<token>" in answer  # the rest is there for ContinueRetrievePropertiesEx
        else:
            assert status == 500 and b'xsi:type="LimitExceeded"' in answer, answer[:500]
            assert b"<limit>2000</limit>" in answer
        assert took < 1.0, took
        assert _rss_kib(worker) - before < 20 * 1024
        assert len(latencies) >= 10  # the other client kept polling meanwhile
        p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
        assert p99 < 0.050, sorted(latencies)[-5:]


def test_a_reload_of_an_edited_tasks_section_keeps_what_was_made_since(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(_tasks_file("TestDev"))
    with served("--tasks", str(tasks), "--quiet") as server:
        power_off = (Path(__file__).parents[1] / "data" / "basic-vm" / "power-off-request.xml").read_bytes()
        status, body = server.call("POST", "/adapter", power_off)
        assert status == 200 and b"<Task>task-3001</Task>" in body
        added = json.dumps({"id": "task-admin", "name": "PowerOnVM_Task"}).encode()
        assert server.call("POST", "/_vismock/tasks", added, "application/json") == {"tasks": ["task-admin"]}
        server.call("POST", "/_vismock/clock/advance", b'{"seconds": 5}', "application/json")
        tasks.write_text(_tasks_file("TestDev-renamed"))  # one entity name changed
        reloaded = server.call("POST", "/_vismock/reload", b"{}", "application/json")
        assert reloaded["changed"] is True
        for task_id in ("task-3001", "task-admin"):
            assert server.call("GET", f"/_vismock/tasks/{task_id}")["id"] == task_id
        assert server.call("GET", "/_vismock/tasks/task-1")["info"]["entityName"] == "TestDev-renamed"
        assert server.call("GET", "/_vismock/inventory/vm-601")["powerState"] == "poweredOff"


def _tasks_file(entity_name: str) -> str:
    return (
        "tasks:\n"
        "  - id: task-1\n"
        "    name: PowerOnVM_Task\n"
        f"    entity: {{type: VirtualMachine, id: vm-525, name: {entity_name}}}\n"
    )


def test_logging_in_past_the_cap_ends_only_the_users_own_sessions() -> None:
    accounts = ["--account", "alice:a-secret", "--account", "bob:b-secret"]
    with served(*accounts, "--quiet", environment={"VISMOCK_SESSION_CAP": "5"}) as server:
        bob = _login(server, "bob", "b-secret")
        alice = [_login(server, "alice", "a-secret") for _ in range(50)]
        current = call_xml(
            "RetrieveProperties",
            "PropertyCollector",
            "propertyCollector",
            "<specSet><propSet><type>SessionManager</type><pathSet>currentSession</pathSet></propSet>"
            '<objectSet><obj type="SessionManager">SessionManager</obj></objectSet></specSet>',
        )

        def user_of(key: str) -> bytes:
            _status, body, _headers = server.request(
                "POST", "/sdk", current, {"Cookie": f"{SESSION_COOKIE}={key}"}
            )
            return body

        assert b"<userName>bob</userName>" in user_of(bob)  # bob's session outlived alice's 50 logins
        assert b"<userName>alice</userName>" in user_of(alice[-1])
        assert b"<userName>" not in user_of(alice[0])  # alice's oldest ended: her cap is 5
        live = [key for key in alice if b"<userName>alice</userName>" in user_of(key)]
        assert len(live) == 5
