"""Task files (YAML, TOML, JSON) and task objects: strict validation naming file, line and field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import DATA, ROOT
from vismock.errors import VismockError
from vismock.mockserver.state import Reason, Step, TaskSpec
from vismock.mockserver.state.taskfile import (
    MAX_REPORTED,
    OWN_KEYS,
    TaskFileError,
    load_builtin_tasks,
    load_task_file,
    parse_toml_tasks,
    parse_yaml_tasks,
    plain_keys,
    spec_from_dict,
    spec_to_dict,
    specs_from_dicts,
)
from vismock.schemas import entity_types

TASKS = DATA / "tasks"
BAD_FILES = sorted((TASKS / "bad").iterdir())
ALLOWED_TASK_KEYS = OWN_KEYS | plain_keys().keys()
GOOD_FILES = sorted((TASKS / "good").iterdir())


def expectations(path: Path) -> dict[str, str]:
    """The ``# line:``, ``# field:`` and ``# reason:`` header comments of a bad file."""
    found = re.findall(r"^# (line|field|reason):[ ]?(.*)$", path.read_text(), flags=re.MULTILINE)
    return dict(found)


@pytest.mark.parametrize("path", BAD_FILES, ids=[path.name for path in BAD_FILES])
def test_bad_file_is_refused_naming_file_line_and_field(path: Path) -> None:
    expected = expectations(path)
    with pytest.raises(TaskFileError) as raised:
        load_task_file(path)
    error = raised.value
    assert error.source == str(path)
    assert error.line == (int(expected["line"]) if expected["line"] else None)
    assert error.field == expected["field"]
    assert expected["reason"] in error.reason
    assert str(error).startswith(f"{path}:{error.line}: " if error.line else f"{path}: ")
    assert isinstance(error, VismockError)


@pytest.mark.parametrize("path", GOOD_FILES, ids=[path.name for path in GOOD_FILES])
def test_good_files_in_every_format_give_the_same_tasks(path: Path) -> None:
    assert load_task_file(path) == load_task_file(TASKS / "good" / "every-field.yaml")


def test_every_field_maps_to_the_spec() -> None:
    specs = load_task_file(TASKS / "good" / "every-field.yaml")
    assert specs[0] == TaskSpec(
        id="task-100",
        name="CloneVM_Task",
        description_id="VirtualMachine.clone",
        description="Clone virtual machine",
        entity_type="VirtualMachine",
        entity_id="vm-100",
        entity_name="web-01",
        reason=Reason(kind="user", user_name="bmc"),
        cancelable=True,
        event_chain_id=100,
        progression="time",
        queued_at=datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        fields=(
            ("changeTag", "tag-1"),
            ("parentTaskKey", "task-99"),
            ("rootTaskKey", "task-98"),
            ("activationId", "act-1"),
        ),
        timeline=(
            Step(state="queued", at=0),
            Step(state="running", at=1.5, progress=0),
            Step(state="success", at=10, progress=100, result="vm-101"),
        ),
    )
    assert specs[1].reason == Reason(
        kind="alarm", alarm="alarm-1", alarm_name="Host CPU usage", entity="host-1", entity_name="esx01"
    )
    assert specs[1].timeline[1] == Step(
        state="error", at=2, fault="InvalidState", message="The host is busy."
    )
    assert specs[2].reason == Reason(kind="schedule", name="Nightly", scheduled_task="scheduledtask-1")
    assert specs[3].reason == Reason(kind="system")
    # Defaults: no entity, user vismock, not cancelable, time progression, immediate success.
    assert specs[4] == TaskSpec(
        id="task-104",
        name="PowerOnVM_Task",
        description_id="VirtualMachine.powerOn",
        reason=Reason(kind="user", user_name="vismock"),
    )


@pytest.mark.parametrize("spec", load_builtin_tasks(), ids=lambda spec: spec.id)
def test_spec_to_dict_round_trips_through_json(spec: TaskSpec) -> None:
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec


def test_builtin_tasks_load() -> None:
    ids = [spec.id for spec in load_builtin_tasks()]
    assert {"task-525", "task-2675"} <= set(ids)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("tasks", "field", "reason"),
    [
        (
            {"id": "t", "name": "CloneVM"},
            "[0].name",
            "'CloneVM' is not a vim25 task method (did you mean CloneVM_Task?)",
        ),
        (
            {"id": "t", "name": "PowerOnVM_Task", "timeline": [{"state": "error", "fault": "DiskIsFull"}]},
            "[0].timeline[0].fault",
            "'DiskIsFull' is not a vim25 fault type vismock serves",
        ),
        (
            [{"id": "t", "name": "PowerOnVM_Task", "timeline": "fast"}],
            "[0].timeline",
            "non-empty list",
        ),
        ({"tasks": [{"id": "t", "name": "PowerOnVM_Task", "x": 1}]}, "tasks[0].x", "unknown field"),
        (
            [{"id": "a", "name": "PowerOnVM_Task"}, {"id": "a", "name": "PowerOnVM_Task"}],
            "[1].id",
            "duplicate task id",
        ),
        (
            {"id": "t", "name": "PowerOnVM_Task", "entity": "vm-1"},
            "[0].entity",
            "expected a mapping",
        ),
        (
            {"id": "t", "name": "PowerOnVM_Task", "reason": "alarm"},
            "[0].reason",
            "expected 'system' or",
        ),
        (
            {"id": "t", "name": "PowerOnVM_Task", "reason": {"user": None}},
            "[0].reason.user",
            "required",
        ),
        (
            {"id": "t", "name": "PowerOnVM_Task", "timeline": [{"state": "running", "at": True}]},
            "[0].timeline[0].at",
            "expected a number",
        ),
        ("not a task", "[0]", "expected a mapping"),
    ],
)
def test_task_objects_errors_name_the_field_path(tasks: Any, field: str, reason: str) -> None:
    with pytest.raises(TaskFileError) as raised:
        specs_from_dicts(tasks, source="admin API")
    assert raised.value.field == field
    assert reason in raised.value.reason
    assert raised.value.line is None
    assert str(raised.value).startswith(f"admin API: {field}: ")


def test_description_id_defaults_to_the_one_vcenter_gives_the_method() -> None:
    (spec,) = specs_from_dicts({"id": "t", "name": "PowerOffVM_Task"})
    assert spec.description_id == "VirtualMachine.powerOff"
    (custom,) = specs_from_dicts({"id": "t", "name": "PowerOffVM_Task", "descriptionId": "x.y"})
    assert custom.description_id == "x.y"


def test_specs_from_dicts_accepts_one_object_a_list_or_a_document() -> None:
    task = {"id": "t", "name": "PowerOnVM_Task", "descriptionId": "VirtualMachine.powerOn"}
    one = specs_from_dicts(task)
    assert one == specs_from_dicts([task]) == specs_from_dicts({"tasks": [task]})
    assert [spec.id for spec in one] == ["t"]


def test_manual_timelines_may_omit_at() -> None:
    specs = parse_yaml_tasks(
        "tasks:\n  - {id: t, name: PowerOnVM_Task, progression: manual,"
        " timeline: [{state: queued}, {state: running}, {state: success}]}\n"
    )
    assert [step.at for step in specs[0].timeline] == [0, 0, 0]


def test_unreadable_file_is_a_task_file_error(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="cannot read"):
        load_task_file(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"tasks: [\xe9]")
    with pytest.raises(TaskFileError, match="cannot read"):
        load_task_file(tmp_path / "latin1.yaml")


def test_yaml_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(TaskFileError):
        parse_yaml_tasks("tasks: !!python/object/apply:os.system ['true']\n")


def test_entity_types_come_from_the_schema() -> None:
    assert {"VirtualMachine", "HostSystem", "Datastore", "ClusterComputeResource"} <= set(entity_types())
    assert "Task" not in entity_types()


def test_the_examples_in_docs_tasks_md_load() -> None:
    text = (ROOT / "docs" / "tasks.md").read_text()
    yaml_examples = re.findall(r"```yaml\n(tasks:.*?)```", text, flags=re.DOTALL)
    toml_examples = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert yaml_examples and toml_examples
    from_yaml = [spec for example in yaml_examples for spec in parse_yaml_tasks(example, "docs/tasks.md")]
    from_toml = [spec for example in toml_examples for spec in parse_toml_tasks(example, "docs/tasks.md")]
    assert from_yaml[0].id == from_toml[0].id == "task-100"
    reasons = re.findall(r"^reason: (\{?(\w+).*)$", text, flags=re.MULTILINE)
    assert [kind for _, kind in reasons] == ["user", "alarm", "schedule", "system"]
    for reason, kind in reasons:
        task = f"tasks: [{{id: t, name: PowerOnVM_Task, reason: {reason}}}]"
        assert parse_yaml_tasks(task, "docs/tasks.md")[0].reason.kind == kind


@pytest.mark.parametrize("path", [*GOOD_FILES, DATA / "soap" / "tasks.yaml"], ids=lambda path: path.name)
def test_a_stored_spec_reads_back_equal_without_checks(path: Path) -> None:
    from vismock.mockserver.state.taskfile import spec_from_stored

    specs = load_task_file(path) + load_builtin_tasks()
    failing = Step(
        state="error", fault="InvalidPowerState", message="m", fault_fields=(("existingState", "on"),)
    )
    specs.append(TaskSpec(id="task-f", name="PowerOnVM_Task", description_id="x", timeline=(failing,)))
    for spec in specs:
        stored = json.loads(json.dumps(spec_to_dict(spec)))
        assert spec_from_stored(stored) == spec_from_dict(stored) == spec


# -- every mistake at once


SEVERAL = sorted((TASKS / "several").glob("*.y*ml")) + sorted((TASKS / "several").glob("*.toml"))


@pytest.mark.parametrize("path", SEVERAL, ids=[path.name for path in SEVERAL])
def test_a_file_with_several_mistakes_reports_each_with_its_line(path: Path) -> None:
    """Each ``LINE: FIELD: REASON`` line of the ``.expected`` file beside it, in that order."""
    expected = [f"{path}:{line}" for line in path.with_suffix(".expected").read_text().splitlines()]
    with pytest.raises(TaskFileError) as raised:
        load_task_file(path)
    assert str(raised.value).splitlines() == expected
    assert [str(problem) for problem in raised.value.problems] == expected
    first = raised.value  # the first problem is the error's own source, line, field and reason
    assert f"{first.source}:{first.line}: {first.field}: {first.reason}" == expected[0]


def test_every_unknown_field_of_a_task_object_is_reported() -> None:
    with pytest.raises(TaskFileError) as raised:
        spec_from_dict(
            {"id": "t", "name": "PowerOnVM_Task", "colour": "red", "entitty": {}}, source="add_task"
        )
    assert str(raised.value).splitlines() == [
        "add_task: colour: unknown field 'colour' (allowed: " + ", ".join(sorted(ALLOWED_TASK_KEYS)) + ")",
        "add_task: entitty: unknown field 'entitty' (did you mean entity?)",
    ]


def test_steps_are_put_in_order_only_once_each_is_sound() -> None:
    """A bad step is reported once, not again as out of order with its neighbours."""
    timeline = [{"state": "running", "at": 5}, {"state": "sucess", "at": 1}]
    with pytest.raises(TaskFileError) as raised:
        spec_from_dict({"id": "t", "name": "PowerOnVM_Task", "timeline": timeline})
    assert [problem.field for problem in raised.value.problems] == ["timeline[1].state"]


def test_a_long_list_of_problems_is_cut_with_a_count() -> None:
    tasks = [{"id": f"task-{n}", "name": "PowerOnVM_Task", "cancelable": "no"} for n in range(30)]
    with pytest.raises(TaskFileError) as raised:
        specs_from_dicts(tasks)
    lines = str(raised.value).splitlines()
    assert len(raised.value.problems) == 30
    assert len(lines) == MAX_REPORTED + 1
    assert lines[-1] == f"... and {30 - MAX_REPORTED} more problem(s)"
