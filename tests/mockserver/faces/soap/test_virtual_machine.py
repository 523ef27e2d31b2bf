"""VirtualMachine on the SOAP face: the power methods with pyVmomi (WaitForTask, the faults and
where they go), the VM's properties, WaitForUpdates seeing the power state change, recentTask,
CancelTask on a created task; every response valid against the vim25 schema."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from tests.support import wire as vim25
from tests.support.soap import (
    T0,
    USER,
    LiveServer,
    assert_valid,
    backend_of,
    call_xml,
    clock_moves_later,
    logged_in,
    make_app,
    post,
)
from vismock.mockserver.state import Behaviour, Override, Step

PropertyCollector = vmodl.query.PropertyCollector
WIN1, TEMPLATE, FILES = "vm-601", "vm-900", "vm-1005"  # poweredOn, a template, poweredOff
NS = {"v": "urn:vim25"}


def vm(si: Any, vm_id: str = WIN1) -> Any:
    return vim.VirtualMachine(vm_id, si._stub)


# -- the methods with pyVmomi ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "start", "end"),
    [
        ("PowerOffVM_Task", "poweredOn", "poweredOff"),
        ("PowerOnVM_Task", "poweredOff", "poweredOn"),
        ("PowerOnVM_Task", "suspended", "poweredOn"),
        ("ResetVM_Task", "poweredOn", "poweredOn"),
        ("SuspendVM_Task", "poweredOn", "suspended"),
    ],
)
def test_each_power_method_with_wait_for_task(
    si: Any, live: LiveServer, method: str, start: str, end: str
) -> None:
    live.backend.inventory.set_power_state(WIN1, start)
    task = getattr(vm(si), method)()
    assert task.info.state == "queued" and vm(si).runtime.powerState == start
    clock_moves_later(live.backend, 1, 1)
    assert WaitForTask(task) == "success"
    info = task.info
    assert info.name.info.wsdlName == method  # pyVmomi resolves the name as the method
    assert (info.entity._moId, info.entityName, info.reason.userName) == (WIN1, "win1", USER)
    assert info.descriptionId == f"VirtualMachine.{method[0].lower()}{method[1:].split('VM_')[0]}"
    assert (info.queueTime, info.completeTime) == (T0, T0.replace(second=2))
    assert vm(si).runtime.powerState == end


def test_power_off_twice_gives_invalid_power_state_in_the_task(si: Any, live: LiveServer) -> None:
    live.backend.inventory.set_power_state(WIN1, "poweredOff")
    task = vm(si).PowerOffVM_Task()  # the method answers a task: the fault is in it
    with pytest.raises(vim.fault.InvalidPowerState) as raised:
        WaitForTask(task)
    fault = raised.value
    assert (fault.requestedState, fault.existingState) == ("poweredOff", "poweredOff")
    assert fault.msg == "The attempted operation cannot be performed in the current state (Powered off)."
    assert task.info.state == "error" and vm(si).runtime.powerState == "poweredOff"


def test_a_second_operation_while_one_runs_gets_task_in_progress(si: Any, live: LiveServer) -> None:
    first = vm(si).PowerOffVM_Task()
    second = vm(si).ResetVM_Task()
    with pytest.raises(vim.fault.TaskInProgress) as raised:
        WaitForTask(second)
    assert raised.value.task._moId == first._moId
    assert raised.value.msg == "Another task is already in progress."
    clock_moves_later(live.backend, 2)
    assert WaitForTask(first) == "success"
    assert vm(si).runtime.powerState == "poweredOff"


def test_a_template_and_an_unknown_vm_are_faults_of_the_call(si: Any) -> None:
    for method in ("PowerOnVM_Task", "PowerOffVM_Task", "ResetVM_Task", "SuspendVM_Task"):
        with pytest.raises(vmodl.fault.NotSupported, match="not supported on the object"):
            getattr(vm(si, TEMPLATE), method)()
    with pytest.raises(vmodl.fault.ManagedObjectNotFound) as raised:
        vm(si, "vm-99999").PowerOffVM_Task()
    assert raised.value.obj._moId == "vm-99999"


def test_cancel_task_on_a_running_power_task_when_scripted_cancelable(si: Any, live: LiveServer) -> None:
    refused = vm(si).PowerOffVM_Task()
    with pytest.raises(vmodl.fault.NotSupported):  # vCenter's power tasks are not cancelable
        refused.CancelTask()
    clock_moves_later(live.backend, 2)
    WaitForTask(refused)
    slow = Behaviour(timeline=(Step("running", 0, progress=10), Step("success", 60)), cancelable=True)
    live.backend.operations.add_override(Override(slow, operation="PowerOnVM_Task", vm="win1"))
    task = vm(si).PowerOnVM_Task()
    live.backend.advance(10)
    task.CancelTask()
    info = task.info
    assert (info.state, info.cancelled, info.progress) == ("error", True, 10)
    assert isinstance(info.error, vmodl.fault.RequestCanceled)
    live.backend.advance(120)
    assert vm(si).runtime.powerState == "poweredOff"  # the cancelled power-on changed nothing


# -- properties ------------------------------------------------------------------------------------


def test_the_vm_properties(si: Any, live: LiveServer) -> None:
    machine = vm(si)
    assert machine.name == "win1"
    assert machine.runtime.host._moId == "host-21" and machine.runtime.connectionState == "connected"
    assert machine.parent._moId.startswith("group-v")
    summary = machine.summary
    assert (summary.vm._moId, summary.runtime.powerState, summary.config.name) == (WIN1, "poweredOn", "win1")
    assert (summary.config.template, summary.config.vmPathName) == (False, "[datastore1] win1/win1.vmx")
    assert vm(si, TEMPLATE).summary.config.template is True
    config = machine.config  # what vim25 requires of it, and the summary says the same (govc vm.info)
    assert (config.name, config.files.vmPathName) == ("win1", summary.config.vmPathName)
    assert (summary.config.uuid, summary.config.instanceUuid) == (config.uuid, config.instanceUuid)
    assert (summary.config.numCpu, summary.config.memorySizeMB) == (
        config.hardware.numCPU,
        config.hardware.memoryMB,
    )
    assert (summary.config.guestId, summary.config.guestFullName) == (config.guestId, config.guestFullName)
    assert list(machine.recentTask) == []
    task = machine.PowerOffVM_Task()
    clock_moves_later(live.backend, 2)
    WaitForTask(task)
    assert [one._moId for one in machine.recentTask] == [task._moId]
    assert machine.runtime.bootTime is None
    machine.PowerOnVM_Task()
    live.backend.advance(2)
    assert machine.runtime.bootTime == T0.replace(second=4)  # set by a power-on from poweredOff
    recent = [one._moId for one in si.content.taskManager.recentTask]
    assert recent[-2:] == [one._moId for one in machine.recentTask]


def test_wait_for_updates_sees_the_power_state_change_when_the_task_succeeds(
    si: Any, live: LiveServer
) -> None:
    collector = si.content.propertyCollector
    spec = PropertyCollector.FilterSpec(
        objectSet=[PropertyCollector.ObjectSpec(obj=vm(si))],
        propSet=[PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["runtime.powerState"])],
    )
    property_filter = collector.CreateFilter(spec, True)
    first = collector.WaitForUpdatesEx("", PropertyCollector.WaitOptions(maxWaitSeconds=0))
    assert first.filterSet[0].objectSet[0].changeSet[0].val == "poweredOn"
    vm(si).PowerOffVM_Task()
    live.backend.advance(1.5)  # running: nothing to report yet
    assert collector.WaitForUpdatesEx(first.version, PropertyCollector.WaitOptions(maxWaitSeconds=0)) is None
    clock_moves_later(live.backend, 0.5)
    update = collector.WaitForUpdatesEx(first.version, PropertyCollector.WaitOptions(maxWaitSeconds=10))
    change = update.filterSet[0].objectSet[0]
    assert (change.kind, change.changeSet[0].name, change.changeSet[0].val) == (
        "modify",
        "runtime.powerState",
        "poweredOff",
    )
    property_filter.Destroy()


# -- on the wire: valid vim25, and remembered answers that follow the task ---------------------------


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return logged_in(app.test_client())


def _xpath(body: bytes, path: str) -> list[str]:
    found = etree.fromstring(body).xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [str(item) for item in found]


def test_the_call_and_the_failed_task_on_the_wire(app: Flask, client: FlaskClient) -> None:
    backend_of(app).inventory.set_power_state(WIN1, "poweredOff")
    response = post(client, call_xml("PowerOffVM_Task", "VirtualMachine", WIN1))
    assert response.status_code == 200
    assert_valid(response.data)
    (task_id,) = _xpath(response.data, "//v:PowerOffVM_TaskResponse/v:returnval[@type='Task']/text()")
    info = post(client, call_xml("Fetch", "Task", task_id, "<prop>info</prop>"))
    assert_valid(info.data)
    fault = etree.fromstring(info.data).find(".//{urn:vim25}error/{urn:vim25}fault")
    assert fault is not None
    assert fault.get(vim25.XSI_TYPE) == "InvalidPowerState"
    assert [(child.tag.split("}")[1], child.text) for child in fault] == [
        ("requestedState", "poweredOff"),
        ("existingState", "poweredOff"),
    ]


@pytest.mark.parametrize(
    "path",
    [
        "runtime",
        "runtime.powerState",
        "runtime.host",
        "summary",
        "summary.config",
        "summary.runtime",
        "recentTask",
        "config.template",
        "summary.config.template",
        "summary.runtime.powerState",
        "runtime.connectionState",
    ],
)
def test_every_vm_property_is_valid_vim25(app: Flask, client: FlaskClient, path: str) -> None:
    backend_of(app).invoke(WIN1, "PowerOffVM_Task", user=USER)
    backend_of(app).advance(2)
    response = post(client, call_xml("Fetch", "VirtualMachine", WIN1, f"<prop>{path}</prop>"))
    assert response.status_code == 200, response.data
    assert_valid(response.data)


def test_a_remembered_vm_read_changes_when_the_task_succeeds(app: Flask, client: FlaskClient) -> None:
    fetch = call_xml("Fetch", "VirtualMachine", WIN1, "<prop>runtime.powerState</prop>")
    backend_of(app).invoke(WIN1, "SuspendVM_Task", user=USER)
    states = []
    for advance in (0, 0, 1.9, 0, 0.1, 0):
        backend_of(app).advance(advance)
        states += _xpath(post(client, fetch).data, "//v:returnval/text()")
    assert states == ["poweredOn"] * 4 + ["suspended"] * 2


def test_the_journal_names_the_vm_and_the_task(app: Flask, client: FlaskClient) -> None:
    response = post(client, call_xml("PowerOffVM_Task", "VirtualMachine", WIN1))
    (task_id,) = _xpath(response.data, "//v:returnval/text()")
    (entry,) = backend_of(app).journal.entries(operation="PowerOffVM_Task")
    assert (entry.face, entry.entity, entry.task_ids, entry.user) == ("soap", WIN1, (task_id,), USER)
    post(client, call_xml("PowerOffVM_Task", "VirtualMachine", TEMPLATE))
    assert (
        backend_of(app).journal.count(operation="PowerOffVM_Task", entity=TEMPLATE, outcome="NotSupported")
        == 1
    )
