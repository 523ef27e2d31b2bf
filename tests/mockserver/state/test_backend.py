"""The mock's state layer (vismock.mockserver.models.Backend): tasks, lifecycles, clock,
journal, fault rules and sessions, in one process and across processes."""

from __future__ import annotations

import gc
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import vismock.codec as codec
from tests.support import DATA, ROOT
from tests.support.soap import call_xml, logged_in, post
from vismock import faults
from vismock.adapter.operations import success_response
from vismock.adapter.operations.retrieve_task_status import returnvals
from vismock.errors import VismockError
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend, FaultRule, JournalEntry, Step, TaskSpec
from vismock.mockserver.state.behaviour import Behaviour, Override
from vismock.mockserver.state.taskfile import (
    load_builtin,
    load_builtin_tasks,
    spec_from_dict,
    specs_from_dicts,
)

SCENARIOS = yaml.safe_load((DATA / "tasks" / "scenarios.yaml").read_text())["scenarios"]
T0 = datetime(2030, 1, 1, tzinfo=UTC)
BUILTIN = load_builtin_tasks()


@pytest.fixture
def backend() -> Iterator[Backend]:
    store = Backend(tasks=BUILTIN)
    yield store
    store.close()


def running_task(task_id: str = "task-x", **changes: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "id": task_id,
        "name": "PowerOnVM_Task",
        "description_id": "VirtualMachine.powerOn",
        "entity_type": "VirtualMachine",
        "entity_id": "vm-1",
        "timeline": (Step(state="running", at=0, progress=10), Step(state="success", at=100)),
    }
    fields.update(changes)
    return TaskSpec(**fields)


def assert_renders(info: dict[str, Any]) -> None:
    """The TaskInfo makes a response envelope the codec accepts (encode validates)."""
    xml = codec.encode(success_response("Retrieve_Task_Status", returnvals([info])))
    assert codec.decode(xml)["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"] == info


# -- the seed and the canned tasks ---------------------------------------------------------------


def test_seed_task_renders_exactly_the_seed_response(backend: Backend) -> None:
    seed = codec.decode((DATA / "seed" / "response.xml").read_bytes())
    expected = seed["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert backend.tasks.info("task-2675") == expected
    assert codec.encode(
        success_response("Retrieve_Task_Status", returnvals([backend.tasks.info("task-2675")]))
    ) == codec.encode(seed)


def test_task_the_seed_request_asks_for_is_served(backend: Backend) -> None:
    request = codec.decode((DATA / "seed" / "request.xml").read_bytes())
    task_id = request["parameters"]["spec-set"]["object-set"][0]["task"]
    assert backend.tasks.info(task_id)["key"] == task_id == "task-525"


def _clock_points(spec: TaskSpec) -> list[float]:
    """Seconds after queueing at which to look: before, at and between every step, and long after."""
    points = {0.0, 1e6}
    for step in spec.timeline:
        points.update({step.at, step.at + 0.5, max(step.at - 0.000001, 0)})
    return sorted(points)


@pytest.mark.parametrize("spec", BUILTIN, ids=[spec.id for spec in BUILTIN])
def test_every_canned_task_validates_in_every_state(spec: TaskSpec) -> None:
    """Walk the clock (back to a fixed queueTime, if any) over every step; reads, advances, cancel."""
    store = Backend(tasks=[spec])
    store.freeze(T0)
    store.tasks.restart(spec.id)
    queued = store.tasks.info(spec.id, poll=False)["queueTime"].datetime
    seen = []
    for seconds in _clock_points(spec):
        store.freeze(queued + timedelta(seconds=seconds))
        for _ in range(len(spec.timeline) + 1 if spec.progression == "polls" else 1):
            seen.append(store.tasks.info(spec.id))
        if spec.progression == "manual":
            seen.append(store.tasks.advance(spec.id))
    if spec.cancelable:
        store.tasks.restart(spec.id)
        store.freeze(queued + timedelta(seconds=spec.timeline[-1].at / 2))
        store.tasks.cancel(spec.id)
        seen.append(store.tasks.info(spec.id))
        assert seen[-1]["cancelled"] is True
    for info in seen:
        assert_renders(info)
    assert {info["state"] for info in seen} >= {step.state for step in spec.timeline}
    store.close()


def test_builtin_tasks_cover_every_mode_reason_and_entity() -> None:
    assert {spec.progression for spec in BUILTIN} == {"time", "polls", "manual"}
    assert {spec.reason.kind for spec in BUILTIN} == {"user", "alarm", "schedule", "system"}
    assert {"VirtualMachine", "HostSystem", "Datastore", "ClusterComputeResource"} <= {
        spec.entity_type for spec in BUILTIN
    }
    assert any(spec.cancelable and spec.timeline[-1].at >= 600 for spec in BUILTIN)
    assert any(step.state == "error" and step.fault and step.message for s in BUILTIN for step in s.timeline)


def test_builtin_task_names_are_vim25_methods_with_matching_description_ids() -> None:
    from pyVmomi import VmomiSupport

    for spec in BUILTIN:
        method = VmomiSupport.GetWsdlMethod("urn:vim25", spec.name)  # type: ignore[no-untyped-call]
        type_name = spec.description_id.split(".")[0]
        method_name = spec.description_id.split(".")[1]
        assert method.info.name[0].lower() + method.info.name[1:] == method_name, spec.id
        entity_class = VmomiSupport.GetVmodlType(f"vim.{type_name}")  # type: ignore[no-untyped-call]
        assert issubclass(entity_class, method.info.type), spec.id


# -- lifecycle scenarios (tests/data/tasks/scenarios.yaml) ------------------------------------------


def _check_expected(info: dict[str, Any], expected: dict[str, Any], queued: datetime) -> None:
    for key, value in expected.items():
        if value is None:
            assert key not in info, key
        elif key in ("startTime", "completeTime"):
            assert info[key] == codec.XsDateTime.from_datetime(queued + timedelta(seconds=value)), key
        else:
            assert info[key] == value, key


def _run_action(store: Backend, task_id: str, action: dict[str, Any]) -> dict[str, Any] | None:
    if "advance" in action:
        store.advance(action["advance"])
    info = None
    for _ in range(action.get("read", 0)):
        info = store.tasks.info(task_id)
    for _ in range(action.get("peek", 0)):
        info = store.tasks.info(task_id, poll=False)
    if "step" in action:
        info = store.tasks.advance(task_id, action["step"])
    if "cancel" in action:
        store.tasks.cancel(task_id)
        info = store.tasks.info(task_id, poll=False)
    return info


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario["name"] for scenario in SCENARIOS])
def test_lifecycle_scenario(scenario: dict[str, Any], backend: Backend) -> None:
    backend.freeze(T0)
    spec = spec_from_dict(scenario["task"])
    backend.tasks.put([spec])
    for number, action in enumerate(scenario["actions"]):
        if "raises" in action:
            with pytest.raises(getattr(faults, action["raises"])):
                _run_action(backend, spec.id, action)
            continue
        info = _run_action(backend, spec.id, action)
        assert info is not None, f"action {number} reads nothing"
        assert_renders(info)
        _check_expected(info, action.get("expect", {}), T0)


def test_the_clock_example_in_docs_tasks_md_runs(backend: Backend) -> None:
    text = (ROOT / "docs" / "tasks.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    exec(
        example, {"backend": backend, "datetime": datetime, "UTC": UTC, "specs_from_dicts": specs_from_dicts}
    )


# -- tasks --------------------------------------------------------------------------------------------


def test_reads_change_nothing_unless_they_count_polls(backend: Backend) -> None:
    """What a remembered answer stands on: a read of a task, a fault rule looked up and a peek leave
    the revision as it was; only a read that counts a poll changes the state."""
    before = backend.revision()
    for task_id in ("task-525", "task-1001", "task-1003"):
        backend.tasks.info(task_id)
    backend.faults.take(face="adapter", operation="Retrieve_Task_Status")
    backend.tasks.info("task-1002", poll=False)
    assert backend.revision() == before
    backend.tasks.info("task-1002")
    assert backend.revision() != before


def test_unknown_task_raises_task_not_found(backend: Backend) -> None:
    for call in (
        lambda: backend.tasks.info("task-nope"),
        lambda: backend.tasks.get("task-nope"),
        lambda: backend.tasks.delete("task-nope"),
        lambda: backend.tasks.advance("task-nope"),
        lambda: backend.tasks.cancel("task-nope"),
    ):
        with pytest.raises(faults.TaskNotFound) as raised:
            call()
        assert "task-nope" in raised.value.message


def test_put_list_get_delete(backend: Backend) -> None:
    backend.tasks.put([running_task("task-new")])
    assert backend.tasks.specs()[-1].id == "task-new"
    assert backend.tasks.get("task-new") == running_task("task-new")
    backend.tasks.put([running_task("task-525", entity_name="replaced")])
    assert [spec.id for spec in backend.tasks.specs()][:2] == ["task-525", "task-2675"]  # order kept
    assert backend.tasks.get("task-525").entity_name == "replaced"
    backend.tasks.delete("task-new")
    assert "task-new" not in [spec.id for spec in backend.tasks.specs()]


def test_replacing_a_task_restarts_its_lifecycle(backend: Backend) -> None:
    backend.freeze(T0)
    spec = running_task(progression="polls", timeline=(Step("queued", 0), Step("success", 1)))
    backend.tasks.put([spec])
    backend.tasks.info(spec.id)
    assert backend.tasks.info(spec.id)["state"] == "success"
    backend.advance(10)
    backend.tasks.put([spec])
    info = backend.tasks.info(spec.id)
    assert (info["state"], info["queueTime"]) == (
        "queued",
        codec.XsDateTime.from_datetime(T0 + timedelta(seconds=10)),
    )


def test_invalid_spec_is_refused_with_the_field_named(backend: Backend) -> None:
    with pytest.raises(VismockError, match=r"entity\.type"):
        backend.tasks.put([running_task(entity_type="Teapot")])
    with pytest.raises(VismockError, match=r"progress"):
        backend.tasks.put([running_task(timeline=(Step("running", 0, progress=101),))])


def test_reset_returns_to_the_loaded_tasks_and_clears_everything(backend: Backend) -> None:
    backend.freeze(T0)
    backend.tasks.put([running_task("task-extra")])
    backend.tasks.delete("task-525")
    backend.faults.add(FaultRule(action="drop"))
    backend.journal.record(JournalEntry(time=T0, face="adapter", operation="Retrieve_Task_Status"))
    session = backend.sessions.create("vismock")
    backend.reset()
    assert [spec.id for spec in backend.tasks.specs()] == [spec.id for spec in BUILTIN]
    assert (backend.faults.rules(), backend.journal.entries(), backend.sessions.user(session)) == (
        [],
        [],
        None,
    )
    assert abs((backend.now() - datetime.now(UTC)).total_seconds()) < 60


def test_reset_restarts_lifecycles(backend: Backend) -> None:
    backend.tasks.advance("task-1003", 2)
    backend.reset()
    assert backend.tasks.info("task-1003")["state"] == "queued"


# -- clock ---------------------------------------------------------------------------------------


def test_clock_freeze_advance_resume(backend: Backend) -> None:
    assert backend.freeze(T0) == T0 == backend.now()
    assert backend.advance(90.5) == T0 + timedelta(seconds=90.5) == backend.now()
    resumed = backend.resume()
    assert resumed == T0 + timedelta(seconds=90.5)
    assert backend.now() >= resumed  # running again, from where it stood
    assert backend.now() - resumed < timedelta(seconds=60)
    running = backend.advance(3600)
    assert running >= resumed + timedelta(seconds=3600)
    assert backend.freeze() >= running


def test_clock_refuses_going_backwards_and_naive_times(backend: Backend) -> None:
    for seconds in (-1, float("nan"), float("inf"), 1e300):
        with pytest.raises(VismockError):
            backend.advance(seconds)
    with pytest.raises(VismockError):
        backend.freeze(datetime(2030, 1, 1))  # naive
    with pytest.raises(VismockError):
        backend.freeze(datetime(9999, 1, 1, tzinfo=UTC))
    backend.freeze(datetime(8999, 1, 1, tzinfo=UTC))
    with pytest.raises(VismockError):
        backend.advance(365 * 86_400)
    assert backend.now() == datetime(8999, 1, 1, tzinfo=UTC)  # the refused advance left no trace


# -- accounts and sessions ------------------------------------------------------------------------


def test_default_account_and_configured_accounts(tmp_path: Path) -> None:
    default = Backend()
    assert default.sessions.check_login("vismock", "vismock")
    assert not default.sessions.check_login("vismock", "wrong")
    assert not default.sessions.check_login("nobody", "vismock")
    configured = Backend(accounts={"bmc": "s3cret"})
    assert configured.sessions.check_login("bmc", "s3cret")
    assert not configured.sessions.check_login("vismock", "vismock")
    default.close()
    configured.close()


def test_sessions(backend: Backend) -> None:
    key = backend.sessions.create("bmc")
    assert backend.sessions.user(key) == "bmc"
    assert backend.sessions.user("forged") is None
    assert backend.sessions.create("bmc") != key
    session = backend.sessions.session(key)
    assert session is not None
    backend.sessions.end(session)
    assert backend.sessions.user(key) is None and backend.sessions.session(key) is None
    backend.sessions.end(session)  # ended twice (a Logout racing an expiry): no error


def test_sessions_expire_after_their_lifetime_on_the_mock_clock() -> None:
    store = Backend(session_lifetime=1800)
    store.freeze(T0)
    key = store.sessions.create("bmc")
    store.advance(1800)
    assert store.sessions.user(key) == "bmc"
    store.advance(0.001)
    assert store.sessions.user(key) is None
    store.close()


def test_sessions_are_capped_per_user_ending_the_least_recently_active() -> None:
    store = Backend(session_cap=3)
    store.freeze(T0)
    keys = [store.sessions.create("bmc") for _ in range(3)]
    other = store.sessions.create("someone-else")  # another user's sessions are not counted
    store.advance(1)
    first = store.sessions.session(keys[0])
    assert first is not None
    store.sessions.touch(first)  # the oldest login, but active since
    keys.append(store.sessions.create("bmc"))
    assert [store.sessions.user(key) for key in keys] == ["bmc", None, "bmc", "bmc"]
    assert store.sessions.user(other) == "someone-else"
    store.close()


# -- journal ----------------------------------------------------------------------------------------


def entry(operation: str = "Retrieve_Task_Status", **changes: Any) -> JournalEntry:
    fields: dict[str, Any] = {
        "time": T0,
        "face": "adapter",
        "operation": operation,
        "task_ids": ("task-525",),
    }
    fields.update(changes)
    return JournalEntry(**fields)


def test_journal_records_and_filters(backend: Backend) -> None:
    backend.journal.record(entry(user="bmc", latency_ms=1.5))
    backend.journal.record(entry(task_ids=("task-525", "task-2675"), outcome="ManagedObjectNotFound"))
    backend.journal.record(entry("RetrievePropertiesEx", face="soap", task_ids=("task-1001",)))
    backend.journal.record(entry("tasks", face="admin", task_ids=(), http_status=201))
    everything = backend.journal.entries()
    assert [item.id for item in everything] == sorted(item.id for item in everything if item.id is not None)
    assert everything[0] == entry(user="bmc", latency_ms=1.5, id=everything[0].id)
    assert len(backend.journal.entries(task="task-525")) == 2
    assert len(backend.journal.entries(task="task-2675")) == 1
    assert len(backend.journal.entries(task="task-52")) == 0  # exact ids, not substrings
    assert [item.operation for item in backend.journal.entries(face="soap")] == ["RetrievePropertiesEx"]
    assert len(backend.journal.entries(outcome="ok", face="adapter")) == 1
    assert [item.operation for item in backend.journal.entries(limit=2)] == ["RetrievePropertiesEx", "tasks"]
    assert backend.journal.count() == 4
    assert backend.journal.count(task="task-525", outcome="ManagedObjectNotFound") == 1
    assert backend.journal.count(operation="tasks", face="admin") == 1
    backend.journal.clear()
    assert backend.journal.count() == 0


def test_journal_takes_naive_times_as_utc(backend: Backend) -> None:
    backend.journal.record(entry(time=datetime(2030, 1, 1)))
    assert backend.journal.entries()[0].time == T0


def test_journal_is_capped_dropping_the_oldest() -> None:
    store = Backend(journal_cap=5)
    for number in range(12):
        store.journal.record(entry(f"op-{number}"))
    assert [item.operation for item in store.journal.entries()] == [f"op-{number}" for number in range(7, 12)]
    assert store.journal.count() == 5
    store.close()


# -- fault rules ---------------------------------------------------------------------------------------


def test_fault_rule_fires_times_then_is_gone(backend: Backend) -> None:
    rule = backend.faults.add(FaultRule(action="error", fault="InvalidLogin", times=2, task="task-525"))
    assert rule.id is not None
    assert backend.faults.take(face="adapter", operation="Retrieve_Task_Status", task_ids=["task-1"]) is None
    first = backend.faults.take(face="adapter", operation="Retrieve_Task_Status", task_ids=["task-525"])
    assert first is not None and first.fault == "InvalidLogin" and first.times == 1
    assert backend.faults.rules()[0].times == 1
    assert backend.faults.take(face="soap", operation="Fetch", task_ids=["task-525"]) is not None
    assert backend.faults.take(face="soap", operation="Fetch", task_ids=["task-525"]) is None
    assert backend.faults.rules() == []


def test_fault_rule_selectors_and_order(backend: Backend) -> None:
    backend.faults.add(FaultRule(action="drop", face="soap", times=None))
    backend.faults.add(FaultRule(action="delay", operation="Retrieve_Task_Status", delay_seconds=0.5))
    for _ in range(3):
        rule = backend.faults.take(face="soap", operation="Retrieve_Task_Status")
        assert rule is not None and rule.action == "drop"  # the first matching rule wins, unlimited
    delayed = backend.faults.take(face="adapter", operation="Retrieve_Task_Status")
    assert delayed is not None and delayed.delay_seconds == 0.5
    assert backend.faults.take(face="adapter", operation="Retrieve_Task_Status") is None
    assert [rule.action for rule in backend.faults.rules()] == ["drop"]
    backend.faults.clear()
    assert backend.faults.take(face="soap", operation="Fetch") is None


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(action="explode"),  # type: ignore[arg-type]
        FaultRule(action="drop", times=0),
        FaultRule(action="drop", probability=1.5),
        FaultRule(action="status", http_status=42),
        FaultRule(action="delay", delay_seconds=-1),
    ],
)
def test_invalid_fault_rules_are_refused(backend: Backend, rule: FaultRule) -> None:
    with pytest.raises(VismockError, match="invalid fault rule"):
        backend.faults.add(rule)


def test_fault_probability_is_within_tolerance(backend: Backend) -> None:
    random.seed(1234)
    backend.faults.add(FaultRule(action="status", times=None, probability=0.3))
    tries = 4000
    fired = sum(backend.faults.take(face="adapter", operation="x") is not None for _ in range(tries))
    # Binomial(4000, 0.3): standard deviation ~29; allow about 5 of them.
    assert abs(fired - 0.3 * tries) < 150


def test_probability_and_times_together_fire_exactly_times(backend: Backend) -> None:
    random.seed(99)
    backend.faults.add(FaultRule(action="status", times=10, probability=0.5))
    fired = sum(backend.faults.take(face="adapter", operation="x") is not None for _ in range(200))
    assert fired == 10


# -- restart ------------------------------------------------------------------------------------------------


def test_reopening_the_database_keeps_tasks_rules_and_clock(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Backend(path, tasks=BUILTIN[:2])
    first.freeze(T0)
    first.tasks.put([running_task("task-added")])
    first.tasks.delete("task-525")
    first.faults.add(FaultRule(action="drop", times=3))
    first.journal.record(entry())
    first.close()
    again = Backend(path, tasks=BUILTIN[:2])
    assert [spec.id for spec in again.tasks.specs()] == ["task-2675", "task-added"]
    assert [rule.times for rule in again.faults.rules()] == [3]
    assert again.now() == T0
    assert again.journal.count() == 1
    again.reset()  # back to the loaded file
    assert [spec.id for spec in again.tasks.specs()] == ["task-525", "task-2675"]
    again.close()


def test_reopening_without_tasks_keeps_the_loaded_set(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Backend(path, tasks=BUILTIN[:1]).close()
    reopened = Backend(path)
    reopened.reset()
    assert [spec.id for spec in reopened.tasks.specs()] == ["task-525"]
    reopened.close()


def test_a_task_that_ended_while_the_server_was_down_has_its_effect_stored(tmp_path: Path) -> None:
    """The server dies while a power-off runs; its end falls due while it is down. On the way back
    (the start-up check opens the file, then the server process attaches to it) the task reads
    success, and the VM is powered off, there and in every later restart."""
    path, scenario = tmp_path / "state.sqlite3", load_builtin()
    quick = Behaviour(timeline=(Step(state="running", at=0), Step(state="success", at=0.05)))
    first = Backend(path, tasks=scenario.tasks, inventory=scenario.inventory, operations={"default": quick})
    task = first.invoke("vm-601", "PowerOffVM_Task", user="vismock").value
    time.sleep(0.1)  # down (first is never used again, never closed) while the task's end falls due
    Backend(path, tasks=scenario.tasks, inventory=scenario.inventory, operations={"default": quick}).close()
    for _ in range(2):
        served = Backend(path, attach=True)
        assert served.tasks.info(task, poll=False)["state"] == "success"
        assert served.inventory.power("vm-601").state == "poweredOff"
        served.close()


# -- one state, many threads (the server answers each request on a thread of its one process) --------


def in_threads(work: Any, threads: int) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: work(), range(threads)))


def test_polls_are_counted_exactly_across_threads(backend: Backend) -> None:
    spec = running_task(progression="polls", timeline=(Step("queued", 0), Step("success", 100)))
    backend.tasks.put([spec])
    in_threads(lambda: [backend.tasks.info(spec.id) for _ in range(25)], 4)
    assert backend.tasks.info(spec.id, poll=False)["state"] == "success"  # exactly 100 polls counted


def test_polls_one_short_leave_the_task_unfinished(backend: Backend) -> None:
    spec = running_task(progression="polls", timeline=(Step("queued", 0), Step("success", 100)))
    backend.tasks.put([spec])
    in_threads(lambda: [backend.tasks.info(spec.id) for _ in range(33)], 3)
    assert backend.tasks.info(spec.id, poll=False)["state"] == "queued"  # 99 polls
    assert backend.tasks.info(spec.id)["state"] == "queued"  # the 100th read shows what 99 polls reached
    assert backend.tasks.info(spec.id)["state"] == "success"


def test_fault_with_times_fires_exactly_times_under_concurrency(backend: Backend) -> None:
    backend.faults.add(FaultRule(action="error", times=37))
    fired = in_threads(
        lambda: sum(backend.faults.take(face="adapter", operation="x") is not None for _ in range(30)), 4
    )
    assert sum(fired) == 37
    assert backend.faults.rules() == []


def test_journal_cap_holds_under_concurrent_writers(tmp_path: Path) -> None:
    store = Backend(tmp_path / "state.sqlite3", journal_cap=50)
    in_threads(lambda: [store.journal.record(entry(f"op-{number}")) for number in range(40)], 3)
    assert store.journal.count() == 50
    store.close()
    assert Backend(tmp_path / "state.sqlite3", journal_cap=50).journal.count() == 50  # and on the file


def objects_of(backend: Backend) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every object of the state (the mock's own included): its type and stored properties."""
    return {obj.id: (obj.vim_type, dict(obj.props)) for obj in backend.registry.all()}


def stored_rows(path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """What the state file holds: every object's row, as a restart reads it."""
    from vismock.mockserver.state.store import Store

    store = Store(path)
    try:
        return {object_id: (kind, props) for object_id, kind, props in store.objects()}
    finally:
        store.close()


# Numbering a reset never sets back, so that an id is never given twice (tasks, snapshots, clones,
# fault rules, overrides): the fields that hold it (None: the whole object).
NUMBERING = {
    "TaskManager": {"_next", "_seq"},
    "vismock:ids": None,
    "vismock:faults": {"next_id"},
    "vismock:operations": {"next_id"},
}


# What a reset sets afresh in each task it restarts: the times of its lifecycle, its place in the order.
RESTARTED = {"info", "_runtime", "_seq"}


def renumbered(objects: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """*objects* without their numbering and their restarted lifecycles' times."""
    kept = {}
    for object_id, (kind, props) in objects.items():
        fields = RESTARTED if kind == "Task" else NUMBERING.get(object_id, set())
        if fields is not None:
            kept[object_id] = (kind, {name: value for name, value in props.items() if name not in fields})
    return kept


def test_reset_leaves_nothing_behind_in_the_state_or_its_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    app = create_app({"VISMOCK_DB": str(path)})
    backend = services_of(app).backend
    backend.reset()
    pristine, pristine_rows = renumbered(objects_of(backend)), renumbered(stored_rows(path))
    # Touch every part: tasks, clock, fault rules, behaviours, sessions and their objects, power.
    backend.tasks.put([running_task("task-extra")])
    backend.tasks.delete("task-525")
    backend.freeze(datetime(2030, 1, 1, tzinfo=UTC))
    backend.faults.add(FaultRule(action="delay", times=None))
    backend.operations.set_behaviours({"default": Behaviour(timeline=(Step("success", 0),))})
    backend.operations.add_override(Override(Behaviour(timeline=(Step("running", 0),)), vm="win1"))
    (vm,) = backend.inventory.named("win1")
    backend.inventory.set_power_state(vm.id, "poweredOff")
    backend.invoke(vm.id, "PowerOnVM_Task", user="vismock")
    client = app.test_client()
    logged_in(client)
    spec = (
        "<spec><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
        '<objectSet><obj type="Task">task-2675</obj></objectSet></spec><partialUpdates>false</partialUpdates>'
    )
    assert (
        post(client, call_xml("CreateFilter", "PropertyCollector", "propertyCollector", spec)).status_code
        == 200
    )
    assert renumbered(objects_of(backend)) != pristine
    backend.reset()
    assert renumbered(objects_of(backend)) == pristine
    assert renumbered(stored_rows(path)) == pristine_rows
    backend.close()


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_a_state_never_closed_lets_go_of_its_files_when_collected(tmp_path: Path) -> None:
    """Tests (and embedders) make states and drop them unclosed: the state file's descriptors must
    go with them, or a serial run of the suite passes 1024 open files."""

    def use_and_drop(number: int) -> None:
        backend = Backend(tmp_path / f"state-{number}.sqlite3")
        backend.advance(1)  # a write to the file
        key = backend.sessions.create("vismock")
        session = backend.sessions.session(key)
        assert session is not None
        backend.sessions.touch(session)
        backend.journal.record(entry())  # the journal written behind to the file

    use_and_drop(0)  # whatever is opened once per process (imports, caches)
    gc.collect()
    before = _open_descriptors()
    for number in range(1, 21):
        use_and_drop(number)
    # A journal's writer thread holds it for the instant of a write: one caught writing goes at
    # the next collection after it (the thread holds it weakly otherwise).
    deadline = time.monotonic() + 10
    while gc.collect() is not None and _open_descriptors() > before and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert _open_descriptors() <= before


@pytest.mark.parametrize(
    "first",
    ["vismock.mockserver.objects.virtual_machine", "vismock.mockserver.objects", "vismock.mockserver.state"],
)
def test_the_state_and_the_managed_objects_import_in_any_order(first: str) -> None:
    program = f"import {first}\nfrom vismock.mockserver.state import Backend\nprint(Backend.__name__)"
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert (completed.returncode, completed.stdout.strip()) == (0, "Backend"), completed.stderr
