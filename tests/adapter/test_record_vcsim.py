"""``vismock record`` against the reference simulator (govmomi's vcsim), replayed by vismock.

The simulator's VMs are powered off, suspended, failed on and turned into a template with
pyVmomi first; the recording, served by vismock, must give the same TaskInfo on both faces and
the same power states. The one difference is the simulator's own: its task names (``PowerOff``)
are no vim25 methods, and are recorded as the method their descriptionId names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from tests.support.recording import PASSWORD_ENV, adapter_infos, admin, loaded, record, soap_infos
from tests.support.soap import live_server
from tests.support.vcsim import running_vcsim
from vismock.adapter.vcenter import task_info_dict
from vismock.mockserver.app import create_app
from vismock.schemas import entity_types, task_methods

pytestmark = pytest.mark.slow
SIM_USER, SIM_PASSWORD = "user", "pass"


@pytest.fixture(scope="module")
def vcsim() -> Iterator[tuple[str, Any]]:
    """A simulator after power operations: (its SOAP URL, a pyVmomi ServiceInstance logged in)."""
    with running_vcsim() as url:
        port = int(url.split(":")[2].split("/")[0])
        si = SmartConnect(protocol="http", host="127.0.0.1", port=port, user=SIM_USER, pwd=SIM_PASSWORD)
        try:
            _power_operations(si)
            yield url, si
        finally:
            Disconnect(si)


def _power_operations(si: Any) -> None:
    find = si.content.searchIndex.FindByInventoryPath
    off, suspended, template = (
        find(f"DC0/vm/{name}") for name in ("DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM1")
    )
    WaitForTask(off.PowerOffVM_Task())
    with pytest.raises(vim.fault.InvalidPowerState):  # a failing task: powered off already
        WaitForTask(off.PowerOffVM_Task())
    WaitForTask(suspended.SuspendVM_Task())
    WaitForTask(template.PowerOffVM_Task())
    template.MarkAsTemplate()


def _simulator_state(si: Any) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, bool]]]:
    """(every recent task's TaskInfo, every VM's (power state, template flag)) as the simulator says."""
    tasks = {task._moId: task_info_dict(task.info) for task in si.content.taskManager.recentTask}
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
    vms = {vm._moId: (str(vm.runtime.powerState), bool(vm.config.template)) for vm in view.view}
    view.Destroy()
    return tasks, vms


def test_a_recording_of_the_simulator_replays_its_taskinfo_and_power_states(
    vcsim: tuple[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, si = vcsim
    monkeypatch.setenv(PASSWORD_ENV, SIM_PASSWORD)
    output = tmp_path / "vcsim.yaml"
    status, err = record(capsys, url, output, "--inventory", user=SIM_USER)
    assert status == 0, err
    expected_tasks, expected_vms = _simulator_state(si)
    assert loaded(output).inventory is not None
    assert SIM_PASSWORD not in output.read_text().replace("passwords", "")

    with live_server(
        create_app({"VISMOCK_TASKS": str(output), "VISMOCK_DB": str(tmp_path / "db")})
    ) as replay:
        over_soap = soap_infos(f"{replay.url}/sdk", list(expected_tasks))
        on_adapter_face = adapter_infos(replay.url, list(expected_tasks))
        entities = {entity["id"]: entity for entity in admin(replay.url, "/inventory")["entities"]}
        power = _power_states_over_soap(f"{replay.url}/sdk", list(expected_vms))

    for task_id, simulated in expected_tasks.items():
        # The one change: the simulator's short name becomes the vim25 method of its descriptionId.
        assert task_methods()[over_soap[task_id]["name"]].name.startswith(simulated["name"][:5])
        same = {**simulated, "name": over_soap[task_id]["name"]}
        if not any(kind in simulated for kind in entity_types()):
            # An entity of a type the adapter schema lacks (DistributedVirtualSwitch): the task file
            # cannot hold its entityName alone (the file says so).
            del same["entityName"]
        assert over_soap[task_id] == same, task_id
        assert on_adapter_face[task_id] == same, task_id
    assert {vm_id: state for vm_id, (state, _template) in expected_vms.items()} == power
    assert {vm_id: entities[vm_id]["template"] for vm_id in expected_vms} == {
        vm_id: template for vm_id, (_state, template) in expected_vms.items()
    }
    assert sorted(set(power.values())) == ["poweredOff", "poweredOn", "suspended"]


def _power_states_over_soap(soap_url: str, vm_ids: list[str]) -> dict[str, str]:
    from vismock.adapter.vcenter import Settings, connect

    with connect(Settings(soap_url=soap_url, user="vismock", password="vismock", timeout=10)) as vcenter:
        stub = vcenter.stub
        return {vm_id: str(vim.VirtualMachine(vm_id, stub).runtime.powerState) for vm_id in vm_ids}


def test_the_simulator_recording_says_what_it_changed_and_left_out(
    vcsim: tuple[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _si = vcsim
    monkeypatch.setenv(PASSWORD_ENV, SIM_PASSWORD)
    output = tmp_path / "vcsim.yaml"
    status, err = record(capsys, url, output, "--inventory", user=SIM_USER)
    assert status == 0, err
    text = output.read_text()
    assert "# name 'PowerOff' is no vim25 task method" in text
    assert "recorded as PowerOffVM_Task (by its descriptionId VirtualMachine.powerOff)" in text
    assert "# not recorded (DistributedVirtualSwitch): DVS0" in text
    assert "template: true" in text
    assert "# entity 'dvs-9' is of a type the adapter schema lacks: not recorded" in text


def test_a_task_pyvmomi_cannot_read_is_left_out_saying_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's Destroy_Task deletes the VM's files with tasks whose TaskInfo names
    VirtualDiskManager and FileManager as their entity, which pyVmomi refuses to read (a TaskInfo's
    entity is a ManagedEntity): those tasks are left out, named with why, not a traceback."""
    monkeypatch.setenv(PASSWORD_ENV, SIM_PASSWORD)
    output = tmp_path / "destroyed.yaml"
    with running_vcsim() as url:
        port = int(url.split(":")[2].split("/")[0])
        si = SmartConnect(protocol="http", host="127.0.0.1", port=port, user=SIM_USER, pwd=SIM_PASSWORD)
        try:
            vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
            WaitForTask(vm.PowerOffVM_Task())
            WaitForTask(vm.Destroy_Task())
            status, err = record(capsys, url, output, user=SIM_USER)
        finally:
            Disconnect(si)
    assert status == 0, err  # none of them was asked for by id
    unreadable = [line for line in err.splitlines() if "pyVmomi cannot read its info" in line]
    assert unreadable and all("expected type vim.ManagedEntity" in line for line in unreadable)
    assert "VirtualDiskManager" in err
    assert "Traceback" not in err
    recorded = loaded(output)
    assert any(spec.name == "Destroy_Task" for spec in recorded.tasks)  # the readable ones are there
    for line in unreadable:
        assert f"# {line.removeprefix('vismock record: ')}" in output.read_text()
