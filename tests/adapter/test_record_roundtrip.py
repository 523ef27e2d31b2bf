"""Round trip: ``vismock record --follow`` from one ``vismock serve``, replayed by a second one.

The first mock serves tests/data/record/scenario.yaml (tasks running through several states, a
failing task, one finished long ago, an inventory). While the recorder follows its tasks, a
watcher polls both faces (SOAP through pyVmomi, the adapter face's Retrieve_Task_Status) and keeps
every distinct TaskInfo; the second mock, serving the recording, is watched the same way. The
sequences must be the same, every time of a task shifted by the same amount (its queueTime's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support import DATA
from tests.support.recording import PASSWORD, PASSWORD_ENV, adapter_infos, admin, loaded, record, soap_infos
from tests.support.served import served
from vismock.codec import XsDateTime

pytestmark = pytest.mark.slow
SCENARIO = DATA / "record" / "scenario.yaml"
FOLLOWED = ["task-301", "task-302", "task-303"]
TASKS = [*FOLLOWED, "task-304"]
TIMES = ("queueTime", "startTime", "completeTime")
POLL_SECONDS = 0.1


def shifted(info: Mapping[str, Any]) -> dict[str, Any]:
    """*info* with its times as offsets from its queueTime (microseconds): what a replay must keep."""
    queued = XsDateTime(str(info["queueTime"])).datetime
    return {
        key: _micros(XsDateTime(str(value)).datetime - queued) if key in TIMES else value
        for key, value in info.items()
    }


def _micros(delta: Any) -> int:
    return int(delta.total_seconds() * 1_000_000)


class Watcher:
    """Polls both faces of a served mock until every task has ended: each face's distinct
    (shifted) TaskInfos per task, in the order seen."""

    def __init__(self, base_url: str, task_ids: Sequence[str], deadline_seconds: float = 30) -> None:
        self.base_url = base_url
        self.task_ids = list(task_ids)
        self.seen: dict[str, dict[str, list[dict[str, Any]]]] = {"soap": {}, "adapter": {}}
        self.queue_times: dict[str, str] = {}
        self.failure: BaseException | None = None
        self._deadline = time.monotonic() + deadline_seconds
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def join(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        self._thread.join()
        if self.failure is not None:
            raise self.failure
        return self.seen

    def _run(self) -> None:
        readers: dict[str, Callable[[], dict[str, dict[str, Any]]]] = {
            "soap": lambda: soap_infos(f"{self.base_url}/sdk", self.task_ids),
            "adapter": lambda: adapter_infos(self.base_url, self.task_ids),
        }
        try:
            while time.monotonic() < self._deadline:
                finished = True
                for face, read in readers.items():
                    for task_id, info in read().items():
                        self._note(face, task_id, info)
                        finished = finished and info["state"] in ("success", "error")
                if finished:
                    return
                time.sleep(POLL_SECONDS)
            raise AssertionError(f"tasks still running after the deadline: {self.seen}")
        except BaseException as error:
            self.failure = error

    def _note(self, face: str, task_id: str, info: dict[str, Any]) -> None:
        self.queue_times[task_id] = str(info["queueTime"])
        history = self.seen[face].setdefault(task_id, [])
        if not history or history[-1] != shifted(info):
            history.append(shifted(info))


def test_a_followed_recording_replays_the_same_answers_on_both_faces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    output = tmp_path / "recorded.yaml"
    with served("--tasks", str(SCENARIO)) as original:
        url = f"http://127.0.0.1:{original.port}"
        inventory_before = admin(url, "/inventory")["entities"]
        original.call("POST", "/_vismock/reset", b"{}", "application/json")  # every lifecycle starts now
        watcher = Watcher(url, TASKS).start()
        status, err = record(capsys, f"{url}/sdk", output, "--follow", "--inventory")
        recorded = watcher.join()
    assert status == 0, err
    assert "wrote" in err and "3 followed" in err

    scenario = loaded(output)
    with served("--tasks", str(output)) as replay:
        replay_url = f"http://127.0.0.1:{replay.port}"
        replayed = Watcher(replay_url, TASKS).start().join()
        inventory_after = admin(replay_url, "/inventory")["entities"]

    for face in ("soap", "adapter"):
        assert replayed[face] == recorded[face], face
    assert recorded["soap"] == recorded["adapter"]
    # Each followed task went through every state of the scenario (none was missed by the watcher).
    assert [info["state"] for info in recorded["soap"]["task-301"]] == ["queued", *["running"] * 3, "success"]
    assert [info.get("progress") for info in recorded["soap"]["task-301"]] == [None, 0, 40, 80, 100]
    assert recorded["soap"]["task-302"][-1]["error"]["fault"] == "InvalidPowerState"
    _assert_timeline_close_to_the_scenario(scenario.tasks)
    _assert_same_inventory(inventory_before, inventory_after)


def _assert_timeline_close_to_the_scenario(specs: Sequence[Any]) -> None:
    """Start and completion exactly where the scenario has them; changes without a time of their
    own (progress) when the recorder saw them: within a second after the scenario's time (the
    server's wait looks every 0.05 s; 0.64 s late was seen with the whole suite on 2 cores)."""
    by_id = {spec.id: spec for spec in specs}
    clone = [(step.state, step.at, step.progress) for step in by_id["task-301"].timeline]
    assert [state for state, _at, _progress in clone] == [
        "queued",
        "running",
        "running",
        "running",
        "success",
    ]
    assert (clone[0][1], clone[1][1], clone[4][1]) == (0, 1.5, 6)
    assert 2.95 <= clone[2][1] < 4 and 4.45 <= clone[3][1] < 5.5  # 0.05: the clocks' rounding
    assert by_id["task-301"].queued_at is None  # followed: queued when the recording is loaded
    assert by_id["task-304"].queued_at is not None  # finished long ago: as it was


def _assert_same_inventory(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """The same tree (by inventory path), power states, templates, hosts, and ids where the format
    keeps them."""
    assert _tree(after) == _tree(before)
    assert any(entity.get("template") for entity in before)


def _tree(entities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_id = {entity["id"]: entity for entity in entities}

    def path(entity_id: str | None) -> str:
        names: list[str] = []
        while entity_id is not None and by_id[entity_id]["parent"] is not None:
            names.append(by_id[entity_id]["name"])
            entity_id = by_id[entity_id]["parent"]
        return "/" + "/".join(reversed(names))

    generated = ("Folder", "ResourcePool", "ComputeResource")  # ids the format lets vismock choose
    tree = {}
    for entity in entities:
        kept = {"type": entity["type"], "id": None if entity["type"] in generated else entity["id"]}
        for key in ("powerState", "template"):
            if key in entity:
                kept[key] = entity[key]
        if entity["type"] == "VirtualMachine":
            kept["host"] = path(entity["host"])
        tree[path(entity["id"])] = kept
    return tree
