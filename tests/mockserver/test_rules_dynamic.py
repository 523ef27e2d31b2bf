"""Rules of dynamic mode (README "Dynamic mode", docs/mock.md ``--dynamic``), through both faces."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.client import Vcenter

IDS = ["task-77777", "vm-task/é中", "x", "task-" + "9" * 40]


@pytest.fixture
def dynamic(make_vcenter: Callable[..., Vcenter]) -> Vcenter:
    return make_vcenter(VISMOCK_DYNAMIC=True)


def test_without_dynamic_mode_an_unknown_task_is_not_found(vcenter: Vcenter) -> None:
    assert vcenter.status("task-77777").fault == "ManagedObjectNotFound"
    assert (
        vcenter.soap().fault("Fetch", "Task", "task-77777", "<prop>info</prop>").type
        == "ManagedObjectNotFound"
    )


@pytest.mark.parametrize("task_id", IDS)
def test_an_unknown_id_reads_as_a_generated_task_on_both_faces(dynamic: Vcenter, task_id: str) -> None:
    adapter = dynamic.task(task_id)
    soap = dynamic.soap().task(task_id)
    assert adapter.key == soap.key == task_id
    assert adapter.state in {"queued", "running", "success", "error"}
    assert adapter == soap.as_adapter_shows_it()


def test_the_same_id_reads_the_same_in_every_server_and_every_read(
    dynamic: Vcenter, make_vcenter: Callable[..., Vcenter]
) -> None:
    other = make_vcenter(VISMOCK_DYNAMIC=True)
    other.advance(86_400)  # another clock: generated tasks do not move with it
    for task_id in IDS:
        first = dynamic.task(task_id)
        assert dynamic.task(task_id) == first
        assert other.task(task_id) == first
        assert other.soap().task(task_id).as_adapter_shows_it() == first


def test_different_ids_read_as_different_tasks(dynamic: Vcenter) -> None:
    views = [dynamic.task(f"task-{number}") for number in range(20)]
    shapes = {(v.name, v.state, v.progress, v.queue_time, v.entity, v.user) for v in views}
    assert len(shapes) == len(views)


def test_known_tasks_are_served_as_usual_in_dynamic_mode(dynamic: Vcenter) -> None:
    dynamic.add_task("task-known", {"state": "running", "progress": 10}, {"state": "success", "at": 5})
    assert (dynamic.task("task-known").state, dynamic.task("task-known").progress) == ("running", 10)
    dynamic.advance(5)
    assert dynamic.soap().task("task-known").state == "success"
    several = dynamic.status("task-known", "task-unknown-1")
    assert [view.key for view in several.tasks] == ["task-known", "task-unknown-1"]
