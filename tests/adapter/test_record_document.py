"""The recording's file (vismock.adapter.recording.document): text, checks, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vismock.adapter.recording.document import (
    Recording,
    check,
    check_writable,
    render,
    replace_users,
    write_atomically,
)
from vismock.adapter.recording.timeline import RecordedTask
from vismock.mockserver.state.models import Reason, Step, TaskSpec
from vismock.mockserver.state.taskfile import TaskFileError

SPEC = TaskSpec(
    id="task-1",
    name="PowerOnVM_Task",
    description_id="VirtualMachine.powerOn",
    entity_type="VirtualMachine",
    entity_id="vm-1",
    entity_name="web: 01 # not a comment",
    reason=Reason(kind="user", user_name="alice"),
    timeline=(Step("queued"), Step("running", at=0.000049, progress=5), Step("success", at=1.5)),
)


def test_the_text_is_the_task_file_format_with_steps_on_one_line() -> None:
    text = render(Recording(["from a test\nsecond line"], [RecordedTask(SPEC, ("a note",))]))
    assert text.startswith("# from a test second line\ntasks:\n  # a note\n  - id: task-1\n")
    assert "    - {state: running, at: 0.000049, progress: 5}\n" in text
    (loaded,) = check(text, "t.yaml").tasks
    assert loaded == SPEC


def test_a_recording_without_tasks_still_loads() -> None:
    assert check(render(Recording(["nothing ran"], [])), "t.yaml").tasks == []


def test_a_text_the_task_file_refuses_is_caught() -> None:
    with pytest.raises(TaskFileError, match=r"t.yaml:\d+: tasks\[0\].name"):
        check("tasks:\n  - {id: task-1, name: PowerOn}\n", "t.yaml")


def test_users_are_replaced_by_name_or_all_at_once() -> None:
    assert replace_users(SPEC, {"alice": "ci"}).reason.user_name == "ci"
    assert replace_users(SPEC, {"bob": "ci"}).reason.user_name == "alice"
    assert replace_users(SPEC, {"*": "someone"}).reason.user_name == "someone"
    system = TaskSpec(id="t", name="PowerOnVM_Task", description_id="x", reason=Reason(kind="system"))
    assert replace_users(system, {"*": "someone"}) == system


def test_an_atomic_write_replaces_the_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "r.yaml"
    target.write_text("old")
    write_atomically(target, "tasks: []\n")
    assert target.read_text() == "tasks: []\n"
    assert os.listdir(tmp_path) == ["r.yaml"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    ("name", "message"),
    [("r.toml", "name it .yaml or .yml"), ("missing/r.yaml", "does not exist"), (".", "a recording is YAML")],
)
def test_unwritable_outputs_are_refused_before_recording(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_writable(tmp_path / name)
