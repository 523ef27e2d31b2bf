"""Rules of the pytest plugin's public helpers (docs/mock.md "The pytest plugin"): each helper's
effect observed over HTTP on the plugin's own server, as the test using it would see it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.client import T0, Vcenter, http_transport
from vismock.mockserver.pytest_plugin import VismockServer


@pytest.fixture
def seen(vismock_server: VismockServer) -> Vcenter:
    """The same server, through HTTP only."""
    return Vcenter(http_transport(vismock_server.url))


def test_the_server_s_addresses(vismock_server: VismockServer) -> None:
    base = vismock_server.url
    assert base.startswith("http://127.0.0.1:") and not base.endswith("/")
    urls = (vismock_server.adapter_url, vismock_server.soap_url, vismock_server.admin_url)
    assert urls == (f"{base}/adapter", f"{base}/sdk", f"{base}/_vismock")


def test_clock_helpers_move_the_mock_s_clock(vismock_server: VismockServer, seen: Vcenter) -> None:
    assert vismock_server.freeze(T0) == T0
    assert vismock_server.advance(30) == T0 + timedelta(seconds=30) == seen.now() == vismock_server.now()
    resumed = vismock_server.resume()
    assert seen.ok("GET", "clock")["frozen"] is False and seen.now() >= resumed


def test_add_task_defaults_to_power_on_and_the_task_helpers_act_on_it(
    vismock_server: VismockServer, seen: Vcenter
) -> None:
    vismock_server.freeze(T0)
    vismock_server.add_task(
        id="task-7", progression="manual", timeline=[{"state": "queued"}, {"state": "success"}]
    )
    view = seen.task("task-7")
    assert (view.name, view.state) == ("PowerOnVM_Task", "queued")
    assert vismock_server.task_info("task-7")["state"] == "queued"  # a peek
    assert vismock_server.advance_task("task-7")["state"] == "success"
    assert seen.soap().task("task-7").state == "success"
    vismock_server.delete_task("task-7")
    assert seen.status("task-7").fault == "ManagedObjectNotFound"


def test_reset_returns_the_server_to_what_it_loaded(vismock_server: VismockServer, seen: Vcenter) -> None:
    loaded = seen.task_ids()
    vismock_server.add_task(id="task-extra")
    vismock_server.fail_next("error", task="task-525", times=None)
    vismock_server.freeze(T0)
    vismock_server.reset()
    assert seen.task_ids() == loaded
    assert seen.status("task-525").status == "success"
    assert seen.ok("GET", "clock")["frozen"] is False


def test_journal_count_and_assert_requested(vismock_server: VismockServer, seen: Vcenter) -> None:
    seen.status("task-525")
    seen.status("task-404")
    seen.ok("POST", "clock/advance", {"seconds": 1})  # an admin change
    assert [entry.task_ids for entry in vismock_server.journal()] == [("task-525",), ("task-404",)]
    assert [entry.operation for entry in vismock_server.journal(face="admin")] == [
        "POST /_vismock/clock/advance"
    ]
    assert vismock_server.count(outcome="ManagedObjectNotFound") == 1
    vismock_server.assert_requested(task="task-525", times=1)
    vismock_server.assert_requested(face="adapter")
    with pytest.raises(AssertionError, match="expected requests matching task='task-525' 2 time"):
        vismock_server.assert_requested(task="task-525", times=2)
    with pytest.raises(AssertionError, match="Last requests in the journal"):
        vismock_server.assert_requested(task="task-2675")


def test_fail_next_and_clear_faults(vismock_server: VismockServer, seen: Vcenter) -> None:
    vismock_server.fail_next("status", task="task-525", http_status=503)
    assert seen.status("task-525").http_status == 503
    assert seen.status("task-525").http_status == 200  # times=1
    vismock_server.fail_next("error", fault="InvalidState", times=None)
    assert seen.status("task-2675").fault == "InvalidState"
    vismock_server.clear_faults()
    assert seen.status("task-2675").status == "success"


def test_inventory_and_power_helpers(vismock_server: VismockServer, seen: Vcenter) -> None:
    assert vismock_server.vm_id("win1") == vismock_server.vm_id("vm-601") == "vm-601"
    assert vismock_server.power_state("win1") == "poweredOn"
    vismock_server.set_power_state("win1", "suspended")
    assert seen.soap().power_state("vm-601") == "suspended"
    vismock_server.set_inventory(
        {
            "datacenters": [
                {"name": "D", "hosts": [{"name": "h", "vms": [{"name": "solo", "power": "poweredOff"}]}]}
            ]
        }
    )
    assert vismock_server.power_state("solo") == "poweredOff"
    with pytest.raises(LookupError):
        vismock_server.vm_id("win1")  # not in this inventory
    with pytest.raises(ValueError, match="set_inventory"):
        vismock_server.set_inventory({"datacenters": [{"name": "D", "colour": "red"}]})


def test_set_operation_script_and_the_vim25_assertions(vismock_server: VismockServer, seen: Vcenter) -> None:
    vismock_server.set_operation(
        "Power_Off_VM", progression="polls", timeline=[{"state": "running"}, {"state": "success", "at": 2}]
    )
    vismock_server.script("Power_On_VM", vm="win1", fault="InvalidState", after=1, progression="polls")
    off = seen.power("Power_Off_VM", "win1").task_id or ""
    assert [seen.task(off).state for _ in range(3)] == ["running", "running", "success"]
    assert vismock_server.power_state("win1") == "poweredOff"
    soap = seen.soap()
    on = soap.power("vm-601", "PowerOnVM_Task")
    assert [soap.task(on).state for _ in range(2)] == ["running", "error"]
    assert vismock_server.power_state("win1") == "poweredOff"  # the scripted failure left it off
    vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=1)  # the adapter's Power_Off_VM
    vismock_server.assert_called("Power_On_VM", vm="vm-601", times=1)  # the SOAP PowerOnVM_Task
    vismock_server.assert_called("PowerOnVM_Task", times=1, face="soap")
    vismock_server.assert_polled(off, times=3)
    vismock_server.assert_polled(on, times=2, face="soap")
    with pytest.raises(AssertionError, match="expected PowerOffVM_Task or Power_Off_VM on win1 2 time"):
        vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=2)
    with pytest.raises(AssertionError):
        vismock_server.assert_called("ResetVM_Task")


def test_script_with_a_timeline_and_times_none(vismock_server: VismockServer, seen: Vcenter) -> None:
    vismock_server.freeze(T0)
    vismock_server.script(
        "ResetVM_Task",
        times=None,
        timeline=[{"state": "running", "progress": 9}, {"state": "success", "at": 50}],
    )
    soap = seen.soap()
    for _ in range(2):
        task = soap.power("vm-601", "ResetVM_Task")
        assert soap.task(task).progress == 9
        vismock_server.advance(50)
    assert len(seen.ok("GET", "overrides")["overrides"]) == 1
