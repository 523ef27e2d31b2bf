"""Rules of reloading the task (scenario) file (docs/operations.md "Reload") and of the file's own
validation (docs/tasks.md "Validation"), through ``POST /_vismock/reload`` and the faces."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import DATA
from tests.support.client import Vcenter

MANUAL = """\
tasks:
  - id: task-1
    name: PowerOnVM_Task
    progression: manual
    timeline: [{state: queued}, {state: running, progress: 50}, {state: success}]
"""
SECOND = """\
  - id: task-2
    name: PowerOffVM_Task
    timeline: [{state: running, at: 0, progress: 5}, {state: success, at: 10}]
"""
INVENTORY = """\
inventory:
  datacenters:
    - name: DC-R
      hosts: [{name: esx-r, vms: [{id: vm-77, name: reloaded-vm, power: poweredOff}]}]
"""
OPERATIONS = """\
operations:
  default: {timeline: [{state: success}]}
overrides:
  - {vm: reloaded-vm, fault: InvalidState}
"""
BAD_FILES = sorted((DATA / "tasks" / "bad").iterdir())


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(MANUAL)
    return path


@pytest.fixture
def served(make_vcenter: Callable[..., Vcenter], scenario: Path) -> Vcenter:
    return make_vcenter(VISMOCK_TASKS=str(scenario))


def reload(vcenter: Vcenter) -> tuple[int, dict[str, object]]:
    status, answer = vcenter.admin("POST", "reload")
    return status, dict(answer)


def test_an_unchanged_file_changes_nothing(served: Vcenter, scenario: Path) -> None:
    served.advance_task("task-1")
    status, answer = reload(served)
    assert (status, answer["reloaded"], answer["source"], answer["tasks"], answer["changed"]) == (
        200,
        True,
        str(scenario),
        1,
        False,
    )
    assert served.task("task-1").progress == 50  # its progress kept


def test_a_changed_file_replaces_the_tasks_and_keeps_journal_rules_clock_and_sessions(
    served: Vcenter, scenario: Path
) -> None:
    served.advance_task("task-1")
    served.ok("POST", "faults", {"action": "error", "task": "task-2", "times": None})
    soap = served.soap()
    served.advance(42)
    journal_before = served.count()
    scenario.write_text(MANUAL + SECOND)
    status, answer = reload(served)
    assert (status, answer["changed"], answer["tasks"]) == (200, True, 2)
    assert served.task_ids() == ["task-1", "task-2"]
    assert served.peek("task-1").state == "queued"  # lifecycles start over
    assert served.status("task-2").fault == "SystemError"  # the fault rule is kept
    assert soap.current_time() == served.now() and served.now().second == 42  # session and clock kept
    assert served.count() > journal_before  # the journal kept its entries


def test_reset_returns_to_the_reloaded_file(served: Vcenter, scenario: Path) -> None:
    scenario.write_text(MANUAL + SECOND)
    reload(served)
    served.ok("DELETE", "tasks/task-2")
    served.reset()
    assert served.task_ids() == ["task-1", "task-2"]


def test_a_broken_file_changes_nothing_and_says_where(served: Vcenter, scenario: Path) -> None:
    served.advance_task("task-1")
    scenario.write_text(
        MANUAL + "  - id: task-2\n    name: PowerOffVM_Task\n    timeline: [{state: runing}]\n"
    )
    status, answer = reload(served)
    assert (status, answer["file"], answer["line"]) == (400, str(scenario), 8)
    assert str(answer["error"]).startswith(
        f"{scenario}:8: tasks[1].timeline[0].state: 'runing' is not one of"
    )
    assert served.task_ids() == ["task-1"]
    assert served.task("task-1").progress == 50


def test_a_file_gone_is_a_clear_400_too(served: Vcenter, scenario: Path) -> None:
    scenario.unlink()
    status, answer = reload(served)
    assert (status, answer["file"], answer["line"]) == (400, str(scenario), None)
    assert served.task_ids() == ["task-1"]


def test_an_empty_tasks_list_keeps_the_running_tasks(served: Vcenter, scenario: Path) -> None:
    served.advance_task("task-1")
    scenario.write_text("tasks: []\n")
    assert reload(served)[0] == 200
    assert served.task_ids() == ["task-1"]


def test_the_inventory_operations_and_overrides_are_reloaded_too(served: Vcenter, scenario: Path) -> None:
    soap = served.soap()
    assert soap.power_state("vm-601") == "poweredOn"
    scenario.write_text(MANUAL + INVENTORY + OPERATIONS)
    status, answer = reload(served)
    assert (status, answer["changed"]) == (200, True)
    assert soap.fault("PowerOffVM_Task", "VirtualMachine", "vm-601").type == "ManagedObjectNotFound"
    assert served.vm("vm-77")["powerState"] == "poweredOff"  # the new inventory's power states
    scripted = soap.task(soap.power("vm-77", "PowerOnVM_Task"))
    assert scripted.fault == "InvalidState"  # the override
    assert soap.task(soap.power("vm-77", "PowerOnVM_Task")).state == "success"  # operations: instant
    served.reset()
    assert served.vm("vm-77")["powerState"] == "poweredOff"
    assert len(served.ok("GET", "overrides")["overrides"]) == 1


# -- the task file's validation: every refused case, named by file, line and field --------------------------


def expectations(path: Path) -> dict[str, str]:
    """The ``# line:``, ``# field:`` and ``# reason:`` header comments of a bad file."""
    return dict(re.findall(r"^# (line|field|reason):[ ]?(.*)$", path.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize("bad", BAD_FILES, ids=[path.name for path in BAD_FILES])
def test_a_bad_file_is_refused_naming_file_line_and_field(
    make_vcenter: Callable[..., Vcenter], tmp_path: Path, bad: Path
) -> None:
    expected = expectations(bad)
    scenario = tmp_path / f"scenario{bad.suffix}"
    scenario.write_text(
        "[[tasks]]\nid = 'task-1'\nname = 'PowerOnVM_Task'\n" if bad.suffix == ".toml" else MANUAL
    )
    vcenter = make_vcenter(VISMOCK_TASKS=str(scenario))
    scenario.write_bytes(bad.read_bytes())
    status, answer = reload(vcenter)
    line = int(expected["line"]) if expected["line"] else None
    assert (status, answer["file"], answer["line"]) == (400, str(scenario), line)
    message = str(answer["error"])
    assert message.startswith(f"{scenario}:{line}: " if line else f"{scenario}: ")
    assert expected["field"] in message and expected["reason"] in message
    assert vcenter.task_ids() == ["task-1"]


def test_the_good_files_load_in_every_format(make_vcenter: Callable[..., Vcenter], tmp_path: Path) -> None:
    seen = []
    for good in sorted((DATA / "tasks" / "good").iterdir()):
        scenario = tmp_path / f"scenario{good.suffix}"
        scenario.write_bytes(good.read_bytes())
        vcenter = make_vcenter(VISMOCK_TASKS=str(scenario))
        seen.append([vcenter.ok("GET", f"tasks/{task_id}")["spec"] for task_id in vcenter.task_ids()])
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2]
