"""Rules of answers that change by themselves (docs/soap.md "Collectors, filters and waits", README
"remembered answers", docs/power.md "The VM's properties"): a repeated read, and a waiting
collector, see a task move on as soon as the mock's clock reaches its next step, with no write in
between (the clock runs), and see a power state change when its task succeeds."""

from __future__ import annotations

import time
from collections.abc import Callable

from lxml import etree

from tests.support.client import NS, Soap, Vcenter

STEP = 0.3  # seconds of a running clock until the next step


def wait_for_clock(vcenter: Vcenter, seconds: float) -> None:
    """Until the (running) mock clock has moved *seconds* on from now (admin reads write nothing)."""
    target = vcenter.now().timestamp() + seconds
    deadline = time.monotonic() + 30
    while vcenter.now().timestamp() < target:
        assert time.monotonic() < deadline, "the mock's clock does not run"
        time.sleep(0.02)


def collector_on(soap: Soap, mo_type: str, mo_id: str, path: str) -> str:
    collector = soap.ok("CreatePropertyCollector", "PropertyCollector", "propertyCollector").findtext(
        "v:returnval", namespaces=NS
    )
    assert collector
    spec = (
        f"<spec><propSet><type>{mo_type}</type><pathSet>{path}</pathSet></propSet>"
        f'<objectSet><obj type="{mo_type}">{mo_id}</obj></objectSet></spec>'
        "<partialUpdates>false</partialUpdates>"
    )
    soap.ok("CreateFilter", "PropertyCollector", collector, spec)
    return collector


def wait(soap: Soap, collector: str, version: str, max_wait: float) -> etree._Element | None:
    """WaitForUpdatesEx: the UpdateSet, or None when nothing changed within *max_wait* seconds."""
    answer = soap.ok(
        "WaitForUpdatesEx",
        "PropertyCollector",
        collector,
        f"<version>{version}</version><options><maxWaitSeconds>{max_wait:g}</maxWaitSeconds></options>",
    )
    return answer.find("v:returnval", NS)


def kinds_and_values(update: etree._Element) -> list[tuple[str, str]]:
    found = []
    for object_update in update.iterfind(".//v:objectSet", NS):
        kind = object_update.findtext("v:kind", namespaces=NS) or ""
        for change in object_update.iterfind("v:changeSet", NS):
            value = change.find("v:val", NS)
            text = value.findtext("v:state", namespaces=NS) if value is not None and len(value) else None
            found.append((kind, text or (value.text if value is not None else "") or ""))
        if object_update.find("v:changeSet", NS) is None:
            found.append((kind, ""))
    return found


def test_a_repeated_read_follows_a_task_as_the_running_clock_reaches_its_steps(vcenter: Vcenter) -> None:
    vcenter.add_task("task-run", {"state": "running", "progress": 10}, {"state": "success", "at": STEP})
    vcenter.resume()
    soap = vcenter.soap()
    first = (vcenter.task("task-run"), soap.task("task-run"))
    again = (vcenter.task("task-run"), soap.task("task-run"))  # the same bodies again: answered from memory
    assert {view.state for view in (*first, *again)} <= {"running", "success"}
    wait_for_clock(vcenter, STEP)
    assert (vcenter.task("task-run").state, soap.task("task-run").state) == ("success", "success")


def test_a_repeated_power_state_read_changes_when_the_task_succeeds_on_the_running_clock(
    vcenter: Vcenter,
) -> None:
    vcenter.ok(
        "PUT", "operations/default", {"timeline": [{"state": "running"}, {"state": "success", "at": STEP}]}
    )
    soap = vcenter.soap()
    vcenter.resume()
    soap.power("vm-601", "PowerOffVM_Task")
    reads = [soap.power_state("vm-601") for _ in range(2)]
    assert set(reads) <= {"poweredOn", "poweredOff"}
    wait_for_clock(vcenter, STEP)
    assert soap.power_state("vm-601") == "poweredOff"
    assert soap.boot_time("vm-601") is None


def test_a_wait_reports_enter_then_nothing_until_the_task_changes_then_the_change(vcenter: Vcenter) -> None:
    vcenter.add_task(
        "task-w", {"state": "queued"}, {"state": "running", "at": 60}, {"state": "success", "at": 120}
    )
    soap = vcenter.soap()
    collector = collector_on(soap, "Task", "task-w", "info")
    first = wait(soap, collector, "", 0)
    assert first is not None and kinds_and_values(first) == [("enter", "queued")]
    version = first.findtext("v:version", namespaces=NS) or ""
    assert wait(soap, collector, version, 0) is None  # nothing changed
    vcenter.advance(60)
    update = wait(soap, collector, version, 0)
    assert update is not None and kinds_and_values(update) == [("modify", "running")]
    assert wait(soap, collector, update.findtext("v:version", namespaces=NS) or "", 0) is None


def test_a_waiting_collector_wakes_when_the_running_clock_reaches_the_next_step(vcenter: Vcenter) -> None:
    vcenter.add_task("task-w", {"state": "running"}, {"state": "success", "at": 2 * STEP})
    vcenter.resume()
    soap = vcenter.soap()
    collector = collector_on(soap, "Task", "task-w", "info")
    first = wait(soap, collector, "", 0)
    assert first is not None
    started = time.monotonic()
    update = wait(soap, collector, first.findtext("v:version", namespaces=NS) or "", 20)
    assert update is not None and kinds_and_values(update) == [("modify", "success")]
    assert time.monotonic() - started < 10  # woken by the change, not by the end of its wait


def test_a_waiting_collector_sees_the_power_state_change_when_the_task_succeeds(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    collector = collector_on(soap, "VirtualMachine", "vm-601", "runtime.powerState")
    first = wait(soap, collector, "", 0)
    assert first is not None and kinds_and_values(first) == [("enter", "poweredOn")]
    version = first.findtext("v:version", namespaces=NS) or ""
    soap.power("vm-601", "PowerOffVM_Task")
    vcenter.advance(1.5)  # running: nothing to report yet
    assert wait(soap, collector, version, 0) is None
    vcenter.advance(0.5)
    update = wait(soap, collector, version, 0)
    assert update is not None and kinds_and_values(update) == [("modify", "poweredOff")]


def test_a_deleted_task_leaves_the_filter(vcenter: Vcenter) -> None:
    vcenter.add_task("task-gone", {"state": "running"})
    soap = vcenter.soap()
    collector = collector_on(soap, "Task", "task-gone", "info")
    first = wait(soap, collector, "", 0)
    assert first is not None
    vcenter.ok("DELETE", "tasks/task-gone")
    update = wait(soap, collector, first.findtext("v:version", namespaces=NS) or "", 0)
    assert update is not None and kinds_and_values(update) == [("leave", "")]


def test_each_wait_s_first_look_counts_as_one_poll(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter()
    vcenter.add_task(
        "task-p",
        {"state": "queued"},
        {"state": "running", "at": 1},
        {"state": "success", "at": 2},
        progression="polls",
    )
    soap = vcenter.soap()
    collector = collector_on(soap, "Task", "task-p", "info")
    version = ""
    seen = []
    for _ in range(3):
        update = wait(soap, collector, version, 0)
        if update is not None:
            version = update.findtext("v:version", namespaces=NS) or ""
            seen.extend(value for _, value in kinds_and_values(update))
    assert seen == ["queued", "running", "success"]
