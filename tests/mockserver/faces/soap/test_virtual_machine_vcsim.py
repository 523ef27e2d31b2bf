"""One pyVmomi script, two servers: find a VM, power it off, WaitForTask, read runtime.powerState,
power it off again (InvalidPowerState), power it on. vismock and the reference simulator (govmomi's
vcsim) must give the same observations; where they differ on purpose, the difference is asserted
too (docs/power.md lists them, with why)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from tests.support.soap import live_server, make_app
from tests.support.vcsim import running_vcsim, vcsim_address

pytestmark = pytest.mark.slow


def find_vm(si: Any, name: str) -> Any:
    """The VM named *name*, found the way every vCenter allows: the datacenters' vm folders."""
    folders = [datacenter.vmFolder for datacenter in si.content.rootFolder.childEntity]
    while folders:
        folder = folders.pop()
        for child in folder.childEntity:
            if isinstance(child, vim.VirtualMachine) and child.name == name:
                return child
            if isinstance(child, vim.Folder):
                folders.append(child)
    raise LookupError(name)


def the_script(si: Any, name: str) -> list[tuple[str, Any]]:
    """What the script sees, as (step, observation) pairs."""
    seen: list[tuple[str, Any]] = []
    vm = find_vm(si, name)
    seen.append(("found", (vm.name == name, vm.runtime.powerState)))
    off = vm.PowerOffVM_Task()
    seen.append(("power off returns", type(off).__name__))
    seen.append(("WaitForTask", WaitForTask(off)))
    info = off.info
    seen.append(("task", (info.state, info.descriptionId, info.entity._moId == vm._moId, info.cancelable)))
    seen.append(("runtime.powerState", vm.runtime.powerState))
    again = vm.PowerOffVM_Task()
    seen.append(("power off again returns", type(again).__name__))
    try:
        WaitForTask(again)
        seen.append(("WaitForTask", "success"))
    except vim.fault.InvalidPowerState as fault:
        seen.append(("WaitForTask raises", (type(fault).__name__, fault.existingState, fault.requestedState)))
    seen.append(("failed task", (again.info.state, type(again.info.error).__name__)))
    seen.append(("WaitForTask power on", WaitForTask(vm.PowerOnVM_Task())))
    seen.append(("runtime.powerState", vm.runtime.powerState))
    return seen


def details(si: Any, name: str) -> dict[str, Any]:
    """Fields where vCenter and the simulator differ: read from the last tasks on the VM."""
    vm = find_vm(si, name)
    task = vm.PowerOffVM_Task()
    WaitForTask(task)
    failed = vm.PowerOffVM_Task()
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(failed)
    info, error = task.info, failed.info.error
    # A method pyVmomi knows has info.wsdlName; a name it does not know is an UnknownManagedMethod.
    resolved = getattr(getattr(info.name, "info", None), "wsdlName", None)
    name = resolved or f"unknown method {info.name.name}"
    recent = len(vm.recentTask)
    try:
        task.CancelTask()
        cancel = "cancelled"
    except vmodl.MethodFault as fault:
        cancel = type(fault).__name__
    try:  # the VM is powered off now
        suspend = WaitForTask(vm.SuspendVM_Task())
    except vim.fault.InvalidPowerState:
        suspend = "InvalidPowerState"
    finally:
        if vm.runtime.powerState != "poweredOn":
            WaitForTask(vm.PowerOnVM_Task())
    return {
        "entityName": info.entityName,
        "name": name,
        "message": error.msg,
        "recentTask": recent,
        "CancelTask": cancel,
        "suspend when off": suspend,
    }


@pytest.fixture(scope="module")
def mock_session() -> Iterator[Any]:
    with live_server(make_app()) as live:
        live.backend.reset()  # the real clock: the tasks take their 2 s, as on a vCenter
        si = SmartConnect(protocol="http", host=live.host, port=live.port, user="vismock", pwd="vismock")
        yield si
        Disconnect(si)
        si._stub.DropConnections()  # no keep-alive socket left for the closing server


@pytest.fixture(scope="module")
def vcsim_session() -> Iterator[Any]:
    with running_vcsim() as url:
        host, port = vcsim_address(url)
        si = SmartConnect(protocol="http", host=host, port=port, user="user", pwd="pass")
        yield si
        Disconnect(si)
        si._stub.DropConnections()  # no keep-alive socket left for the closing server


def test_the_same_script_sees_the_same_on_both(mock_session: Any, vcsim_session: Any) -> None:
    on_mock = the_script(mock_session, "win1")
    on_vcsim = the_script(vcsim_session, "DC0_H0_VM0")
    assert on_mock == on_vcsim
    assert on_mock == [
        ("found", (True, "poweredOn")),
        ("power off returns", "vim.Task"),
        ("WaitForTask", "success"),
        ("task", ("success", "VirtualMachine.powerOff", True, False)),
        ("runtime.powerState", "poweredOff"),
        ("power off again returns", "vim.Task"),
        ("WaitForTask raises", ("vim.fault.InvalidPowerState", "poweredOff", "poweredOff")),
        ("failed task", ("error", "vim.fault.InvalidPowerState")),
        ("WaitForTask power on", "success"),
        ("runtime.powerState", "poweredOn"),
    ]


def test_where_vismock_follows_vcenter_rather_than_the_simulator(
    mock_session: Any, vcsim_session: Any
) -> None:
    mock, vcsim = details(mock_session, "win1"), details(vcsim_session, "DC0_H0_VM0")
    # vCenter names the task after its method and its entity by name (the seed's TaskInfo).
    assert (mock["name"], mock["entityName"]) == ("PowerOffVM_Task", "win1")
    assert (vcsim["name"], vcsim["entityName"][:3]) == ("unknown method PowerOff", "vm-")
    # vCenter's English message; the simulator sends its Go type's name.
    assert (
        mock["message"] == "The attempted operation cannot be performed in the current state (Powered off)."
    )
    assert vcsim["message"] == "*types.InvalidPowerState"
    # vCenter keeps a VM's recent tasks; this simulator's list stays empty.
    assert mock["recentTask"] > 0 and vcsim["recentTask"] == 0
    # A power task is not cancelable (vCenter: NotSupported); this simulator has no CancelTask.
    assert (mock["CancelTask"], vcsim["CancelTask"]) == (
        "vmodl.fault.NotSupported",
        "vmodl.fault.MethodNotFound",
    )
    # vCenter refuses to suspend a powered-off VM; this simulator suspends it.
    assert (mock["suspend when off"], vcsim["suspend when off"]) == ("InvalidPowerState", "success")
