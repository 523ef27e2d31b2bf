"""What ``POST /_vismock/reset`` keeps and what it clears (docs/mock.md, docs/tasks.md, docs/power.md),
seen through HTTP: every part touched first, then reset, then read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.client import Vcenter


def touch_everything(vcenter: Vcenter) -> dict[str, str]:
    """Change every part a reset returns; what was made, by name."""
    loaded = vcenter.task_ids()
    vcenter.add_task("task-extra", {"state": "success"})
    vcenter.ok("DELETE", f"tasks/{loaded[0]}")
    vcenter.add_task(loaded[1], {"state": "running"})  # replaced
    vcenter.advance_task("task-1003", 2)  # a built-in manual task, advanced
    vcenter.ok("POST", "faults", {"action": "error", "task": "task-2675", "times": None})
    vcenter.ok("PUT", "operations/default", {"timeline": [{"state": "success"}]})
    vcenter.ok("POST", "overrides", {"vm": "TestDev", "fault": "InvalidState", "times": None})
    soap = vcenter.soap()
    created = soap.power("vm-601", "PowerOffVM_Task")
    vcenter.ok("PATCH", "inventory/vm-1100", {"powerState": "poweredOff"})
    vcenter.ok(
        "PUT",
        "inventory",
        {
            "datacenters": [
                {"name": "Other", "hosts": [{"name": "h", "vms": [{"name": "x", "id": "vm-601"}]}]}
            ]
        },
    )
    vcenter.advance(3600)
    assert soap.cookie is not None
    return {"removed": loaded[0], "replaced": loaded[1], "created": created, "cookie": soap.cookie}


def test_reset_returns_every_part_to_what_was_loaded(vcenter: Vcenter) -> None:
    loaded = vcenter.task_ids()
    before = {vm: vcenter.vm(vm)["powerState"] for vm in ("vm-601", "vm-1100", "vm-1005")}
    made = touch_everything(vcenter)
    vcenter.reset()
    assert vcenter.journal() == []
    assert vcenter.task_ids() == loaded  # the loaded tasks, in their order; added and created ones gone
    assert vcenter.status(made["created"]).fault == "ManagedObjectNotFound"
    assert vcenter.ok("GET", "faults") == {"faults": []}
    assert vcenter.ok("GET", "operations") == {"operations": {}}
    assert vcenter.ok("GET", "overrides") == {"overrides": []}
    assert {vm: vcenter.vm(vm)["powerState"] for vm in before} == before
    assert vcenter.vm("vm-601")["recentTask"] == []
    clock = vcenter.ok("GET", "clock")
    assert clock["frozen"] is False and abs(vcenter.now() - datetime.now(UTC)) < timedelta(seconds=60)
    stale = vcenter.anonymous()
    stale.cookie = made["cookie"]
    assert stale.fault("CurrentTime", "ServiceInstance", "ServiceInstance").type == "NotAuthenticated"


def test_reset_restarts_every_lifecycle_at_the_real_time(vcenter: Vcenter) -> None:
    vcenter.advance_task("task-1003", 2)
    vcenter.add_task("task-1002", {"state": "queued"}, {"state": "success", "at": 1}, progression="polls")
    vcenter.task("task-1002")
    vcenter.reset()
    manual = vcenter.task("task-1003")
    assert manual.state == "queued"
    assert manual.queue_time is not None and abs(manual.queue_time - datetime.now(UTC)) < timedelta(
        seconds=60
    )
    assert vcenter.task("task-1002").state == "queued"  # back to the loaded polls task, no poll counted


def test_reset_does_not_start_task_numbers_over(vcenter: Vcenter) -> None:
    first = vcenter.soap().power("vm-601", "PowerOffVM_Task")
    vcenter.reset()
    again = vcenter.soap().power("vm-601", "PowerOffVM_Task")
    assert int(again.removeprefix("task-")) > int(first.removeprefix("task-"))


def test_reset_twice_is_the_same_as_once(vcenter: Vcenter) -> None:
    touch_everything(vcenter)
    vcenter.reset()
    once = (vcenter.task_ids(), vcenter.ok("GET", "inventory"), vcenter.ok("GET", "faults"))
    vcenter.reset()
    assert (vcenter.task_ids(), vcenter.ok("GET", "inventory"), vcenter.ok("GET", "faults")) == once
