"""Durability (docs/operations.md "The server process dies"): ``vismock serve --db FILE`` under
write load, the whole server killed (SIGKILL to its process group: granian's main process and the
server process), then started again on the same file. Every acknowledged task (added through the
admin API or started by a power operation on either face), every VM state (a task's effect, or set
through the admin API) and every admin change (fault rules, overrides) is there."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import power_load
from tests.support.served import Served, served
from vismock import power

POWER_CLIENTS = 8  # half on each face
SECONDS_BEFORE_KILL = 4.0
ADMIN_VM = "vm-1005"  # files-01: set through the admin API only
OVERRIDE_VM = "db-01"  # overrides name it; no power operation runs on it
ENDED = ("success", "error")

pytestmark = pytest.mark.slow  # real `vismock serve` processes under load


@dataclass
class Acknowledged:
    """What the server answered as done before it was killed (appended by the clients' threads)."""

    added: list[str] = field(default_factory=list)  # task ids added through the admin API
    started: dict[str, tuple[str, str]] = field(default_factory=dict)  # task id -> (VM, method)
    succeeded: list[str] = field(default_factory=list)  # tasks a client polled to success
    power_state: str | None = None  # the last state of ADMIN_VM the admin API acknowledged
    faults: list[int] = field(default_factory=list)  # fault rule ids
    overrides: list[int] = field(default_factory=list)  # override ids
    lock: threading.Lock = field(default_factory=threading.Lock)


def _admin(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, f"/_vismock{path}", data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _until_stopped(work: Callable[[int], None], stop: threading.Event) -> None:
    """Call *work* with 0, 1, 2... until *stop* is set or the server is gone."""
    count = 0
    while not stop.is_set():
        try:
            work(count)
        except (OSError, http.client.HTTPException, RuntimeError):
            return  # killed: what was not answered was not acknowledged
        count += 1


def _admin_tasks(port: int, acked: Acknowledged, number: int) -> Callable[[int], None]:
    def add(count: int) -> None:
        task_id = f"task-a{number}-{count}"
        status, _ = _admin(port, "POST", "/tasks", {"id": task_id, "name": "PowerOnVM_Task"})
        assert status == 201, status
        with acked.lock:
            acked.added.append(task_id)

    return add


def _admin_changes(port: int, acked: Acknowledged) -> Callable[[int], None]:
    def change(count: int) -> None:
        kind = count % 3
        if kind == 0:
            state = ("poweredOn", "poweredOff")[count // 3 % 2]
            status, _ = _admin(port, "PATCH", f"/inventory/{ADMIN_VM}", {"powerState": state})
            assert status == 200, status
            acked.power_state = state  # one writer
        elif kind == 1:
            rule = {"action": "error", "task": f"task-f{count}", "times": None}
            status, answer = _admin(port, "POST", "/faults", rule)
            assert status == 201, status
            acked.faults.append(answer["faults"][0]["id"])
        else:
            override = {"vm": OVERRIDE_VM, "fault": "InvalidState", "times": 1_000 + count}
            status, answer = _admin(port, "POST", "/overrides", override)
            assert status == 201, status
            acked.overrides.append(answer["overrides"][0]["id"])

    return change


def _power(port: int, acked: Acknowledged, number: int) -> Callable[[int], None]:
    client = power_load.PowerClient(port, "soap" if number % 2 else "adapter", poll_pause=0.01)
    vms = sorted(power_load.VMS)

    def operate(count: int) -> None:
        vm = vms[(number + count) % len(vms)]
        method = power_load.METHODS[(number * 7 + count) % len(power_load.METHODS)]
        task_id = client.start(method, vm, power_load.VMS[vm])
        if task_id is None:
            return  # refused by the adapter face: nothing started
        with acked.lock:
            acked.started[task_id] = (vm, method)
        if client.poll_to_end(task_id) == "success":
            with acked.lock:
                acked.succeeded.append(task_id)

    return operate


def _load_then_kill(mock: Served) -> Acknowledged:
    acked = Acknowledged()
    stop = threading.Event()
    work = [_admin_tasks(mock.port, acked, number) for number in range(2)]
    work += [_admin_changes(mock.port, acked)]
    work += [_power(mock.port, acked, number) for number in range(POWER_CLIENTS)]
    threads = [threading.Thread(target=_until_stopped, args=(each, stop)) for each in work]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS_BEFORE_KILL)
    os.killpg(mock.process.pid, signal.SIGKILL)  # the whole server, in the middle of its writes
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    mock.process.wait(timeout=10)
    return acked


def _tasks(port: int) -> dict[str, dict[str, Any]]:
    return {task["id"]: task["info"] for task in _admin(port, "GET", "/tasks")[1]["tasks"]}


def _all_ended(port: int, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """Every task, once those on the VMs under load have ended: restored ones go on by the clock,
    those progressing by polls are polled to their end."""
    poller = power_load.PowerClient(port, "adapter")
    deadline = time.monotonic() + timeout
    while True:
        tasks = _tasks(port)
        running = [
            task_id
            for task_id, info in tasks.items()
            if info.get("VirtualMachine") in power_load.VMS and not _ended(info)
        ]
        if not running:
            return tasks
        assert time.monotonic() < deadline, f"still running after the restart: {running}"
        for task_id in running:
            poller.poll_to_end(task_id)


def _ended(info: dict[str, Any]) -> bool:
    """Ended as clients know it: a polls task whose next read would show its end (what the admin
    API's peek shows, without a completeTime yet) has not ended until a read shows it."""
    return info["state"] in ENDED and "completeTime" in info


def _replayed(initial: dict[str, str], tasks: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each VM's power state after its successful power tasks, in the order they completed."""
    states = dict(initial)
    successes = sorted(
        (info["completeTime"], info["VirtualMachine"], info["name"])
        for info in tasks.values()
        if info.get("VirtualMachine") in initial and info["state"] == "success"
    )
    for _, vm, method in successes:
        states[vm] = power.after(method, states[vm])
    return states


def test_every_acknowledged_change_survives_a_kill_of_the_whole_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, scenario = tmp_path / "state.sqlite3", tmp_path / "scenario.yaml"
    scenario.write_text(power_load.SCENARIO)
    arguments = ("--db", str(database), "--tasks", str(scenario), "--journal-cap", "1000000")
    monkeypatch.setenv("VISMOCK_TASK_CAP", "1000000")  # every task kept for the check
    with served(*arguments) as mock:
        initial = {vm: _admin(mock.port, "GET", f"/inventory/{vm}")[1]["powerState"] for vm in power_load.VMS}
        acked = _load_then_kill(mock)
    print(
        f"\nacknowledged: {len(acked.added)} tasks added, {len(acked.started)} power tasks started"
        f" ({len(acked.succeeded)} polled to success), {len(acked.faults)} fault rules,"
        f" {len(acked.overrides)} overrides"
    )
    assert len(acked.added) > 50 and len(acked.started) > 50 and len(acked.succeeded) > 20
    assert len(acked.faults) > 5 and len(acked.overrides) > 5 and acked.power_state is not None

    with served(*arguments) as mock:
        tasks = _all_ended(mock.port)
        assert set(acked.added) <= set(tasks)
        for task_id, (vm, method) in acked.started.items():
            assert task_id in tasks, f"{task_id} ({method} on {vm}) acknowledged, then lost"
            assert (tasks[task_id]["VirtualMachine"], tasks[task_id]["name"]) == (vm, method)
        undone = {
            task_id: tasks[task_id] for task_id in acked.succeeded if tasks[task_id]["state"] != "success"
        }
        assert not undone, undone
        served_states = {vm: _admin(mock.port, "GET", f"/inventory/{vm}")[1]["powerState"] for vm in initial}
        assert served_states == _replayed(initial, tasks), mock.output[-3000:]
        assert _admin(mock.port, "GET", f"/inventory/{ADMIN_VM}")[1]["powerState"] == acked.power_state
        rules = {rule["id"] for rule in _admin(mock.port, "GET", "/faults")[1]["faults"]}
        assert set(acked.faults) <= rules
        overrides = {item["id"] for item in _admin(mock.port, "GET", "/overrides")[1]["overrides"]}
        assert set(acked.overrides) <= overrides
        assert mock.stop(signal.SIGTERM) == 0
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
