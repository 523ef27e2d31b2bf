"""Rules of the request journal (docs/mock.md "The journal"), read through the admin API over HTTP
after requests to every face."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.client import Vcenter


def entries(vcenter: Vcenter, **filters: Any) -> list[tuple[Any, ...]]:
    """(face, operation, task_ids, user, outcome, http_status) of each entry, oldest first."""
    return [
        (e["face"], e["operation"], e["task_ids"], e["user"], e["outcome"], e["http_status"])
        for e in vcenter.journal(**filters)
    ]


def test_every_request_on_every_face_is_recorded_with_what_it_did(vcenter: Vcenter) -> None:
    vcenter.ok("DELETE", "journal")
    vcenter.status("task-525")
    vcenter.status("task-525", user="vismock", password="vismock")
    vcenter.status("task-404")
    vcenter.status("task-525", user="vismock", password="wrong")
    vcenter.adapter(b"<not-a-request/>")
    soap = vcenter.soap()
    soap.task("task-2675")
    soap.fault("Fetch", "Task", "task-404", "<prop>info</prop>")
    vcenter.add_task("task-new", {"state": "success"})
    assert entries(vcenter) == [
        ("adapter", "Retrieve_Task_Status", ["task-525"], None, "ok", 200),
        ("adapter", "Retrieve_Task_Status", ["task-525"], "vismock", "ok", 200),
        ("adapter", "Retrieve_Task_Status", ["task-404"], None, "ManagedObjectNotFound", 200),
        ("adapter", "Retrieve_Task_Status", ["task-525"], "vismock", "InvalidLogin", 200),
        ("adapter", "(unparsed)", [], None, "invalid", 400),
        ("soap", "Login", [], "vismock", "ok", 200),
        ("soap", "Fetch", ["task-2675"], "vismock", "ok", 200),
        ("soap", "Fetch", ["task-404"], "vismock", "ManagedObjectNotFound", 500),
        ("admin", "POST /_vismock/tasks", ["task-new"], None, "ok", 201),
    ]
    assert all(entry["latency_ms"] >= 0 and entry["time"].endswith("Z") for entry in vcenter.journal())


def test_a_power_operation_names_its_vm_and_the_task_it_created(vcenter: Vcenter) -> None:
    task = vcenter.power("Power_Off_VM", "win1").task_id
    soap_task = vcenter.soap().power("vm-525", "PowerOffVM_Task")
    (adapter_entry,) = vcenter.journal(operation="Power_Off_VM")
    (soap_entry,) = vcenter.journal(operation="PowerOffVM_Task")
    assert (adapter_entry["entity"], adapter_entry["task_ids"]) == ("vm-601", [task])
    assert (soap_entry["entity"], soap_entry["task_ids"]) == ("vm-525", [soap_task])
    assert [e["operation"] for e in vcenter.journal(entity="vm-601")] == ["Power_Off_VM"]


def test_admin_reads_reset_and_clearing_are_not_journaled(vcenter: Vcenter) -> None:
    vcenter.ok("DELETE", "journal")
    for path in (
        "tasks",
        "clock",
        "faults",
        "inventory",
        "operations",
        "overrides",
        "journal",
        "journal/count",
    ):
        vcenter.ok("GET", path)
    assert vcenter.journal() == []
    vcenter.status("task-525")
    vcenter.reset()
    assert vcenter.count() == 0
    vcenter.ok("POST", "clock/advance", {"seconds": 1})
    vcenter.ok("DELETE", "journal")
    assert vcenter.count() == 0


def test_filters_select_exact_tasks_outcomes_faces_and_operations_and_count_agrees(vcenter: Vcenter) -> None:
    vcenter.ok("DELETE", "journal")
    vcenter.status("task-525")
    vcenter.status("task-525", "task-2675")
    vcenter.status("task-404")
    soap = vcenter.soap()
    soap.task("task-525")
    filters: list[dict[str, Any]] = [
        {"task": "task-525"},
        {"task": "task-52"},
        {"task": "task-2675"},
        {"outcome": "ManagedObjectNotFound"},
        {"face": "soap"},
        {"face": "adapter", "outcome": "ok"},
        {"operation": "Fetch", "task": "task-525"},
    ]
    expected = [3, 0, 1, 1, 2, 2, 1]
    assert [len(vcenter.journal(**f)) for f in filters] == expected
    assert [vcenter.count(**f) for f in filters] == expected


def test_limit_gives_the_newest_entries_oldest_first(vcenter: Vcenter) -> None:
    vcenter.ok("DELETE", "journal")
    for task in ("task-525", "task-2675", "task-1001"):
        vcenter.status(task)
    assert [e["task_ids"] for e in vcenter.journal(limit=2)] == [["task-2675"], ["task-1001"]]
    ids = [e["id"] for e in vcenter.journal()]
    assert ids == sorted(ids)


@pytest.mark.parametrize("query", [{"colour": "red"}, {"face": "ftp"}, {"limit": "0"}, {"limit": "many"}])
def test_a_bad_filter_is_a_clear_400(vcenter: Vcenter, query: dict[str, str]) -> None:
    status, answer = vcenter.admin("GET", "journal", **query)
    assert status == 400 and answer["error"]


def test_clear_and_reset_empty_the_journal(vcenter: Vcenter) -> None:
    vcenter.status("task-525")
    assert vcenter.ok("DELETE", "journal") == {"cleared": True}
    assert vcenter.journal() == []
    vcenter.status("task-525")
    vcenter.reset()
    assert vcenter.journal() == []


def test_the_journal_keeps_the_newest_entries_up_to_its_cap(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter(VISMOCK_JOURNAL_CAP=5)
    tasks = [f"task-10{number:02d}" for number in range(1, 11)]
    for task in tasks:
        vcenter.status(task)
    assert [e["task_ids"] for e in vcenter.journal()] == [[task] for task in tasks[-5:]]
    assert vcenter.count() == 5


def test_no_password_ever_reaches_the_journal(vcenter: Vcenter) -> None:
    secret, wrong = "vismock", "W r0ng-pa55word"
    vcenter.status("task-525", user="vismock", password=secret)
    vcenter.status("task-525", user="vismock", password=wrong)
    soap = vcenter.soap("vismock", secret)
    soap.task("task-525")
    text = str(vcenter.journal()) + str(vcenter.journal(face="admin"))
    assert wrong not in text
    assert "password" not in text
    assert soap.cookie is not None and soap.cookie.split("=")[1] not in text
