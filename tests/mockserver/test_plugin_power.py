"""The pytest plugin's helpers for the inventory and power operations, and its journal assertions
in vim25 terms, on either face."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

import vismock.codec as codec
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.mockserver.state.taskfile import TaskFileError


def adapter(server: VismockServer, operation: str, **parameters: Any) -> dict[str, Any]:
    """A request to the adapter face over a real socket."""
    if operation == "Retrieve_Task_Status":
        data = {
            "operation-type": "Monitor_Vm",
            "parameters": {"spec-set": {"object-set": [{"task": parameters["task"]}]}},
        }
    else:
        data = {"operation-type": "Basic_Vm", "parameters": {"virtual-machine": parameters["vm"]}}
    body = codec.encode({**data, "operation-name": operation})
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/adapter", body=body, headers={"Content-Type": "text/xml"})
        return codec.decode(connection.getresponse().read())
    finally:
        connection.close()


@pytest.fixture
def si(vismock_server: VismockServer) -> Iterator[Any]:
    port = int(vismock_server.url.rsplit(":", 1)[1])
    service_instance = SmartConnect(
        protocol="http", host="127.0.0.1", port=port, user="vismock", pwd="vismock"
    )
    yield service_instance
    Disconnect(service_instance)
    service_instance._stub.DropConnections()  # no keep-alive socket left for the closing server


def test_power_off_win1_on_both_faces_and_assert_in_vim25_terms(
    vismock_server: VismockServer, si: Any
) -> None:
    vismock_server.freeze()
    task_id = adapter(vismock_server, "Power_Off_VM", vm="win1")["PowerOffVM_TaskResponse"]["Task"]
    for _ in range(3):
        adapter(vismock_server, "Retrieve_Task_Status", task=task_id)
    vismock_server.advance(2)
    assert vim.Task(task_id, si._stub).info.state == "success"  # a fourth read, over SOAP
    assert vismock_server.power_state("win1") == "poweredOff"
    vim.VirtualMachine("vm-601", si._stub).PowerOnVM_Task()
    vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=1)  # the adapter's Power_Off_VM
    vismock_server.assert_called("Power_On_VM", vm="vm-601", times=1)  # the SOAP PowerOnVM_Task
    vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=1, face="adapter")
    vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=0, face="soap")
    vismock_server.assert_polled(task_id, times=4)
    vismock_server.assert_polled(task_id, times=3, face="adapter")
    with pytest.raises(
        AssertionError, match=r"expected PowerOffVM_Task or Power_Off_VM on win1 2 time\(s\), saw 1"
    ):
        vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=2)
    with pytest.raises(AssertionError, match="saw 4"):
        vismock_server.assert_polled(task_id, times=3)


def test_script_a_failure_after_two_polls(vismock_server: VismockServer) -> None:
    vismock_server.script("Power_Off_VM", vm="win1", fault="InvalidState", after=2, progression="polls")
    task_id = adapter(vismock_server, "Power_Off_VM", vm="win1")["PowerOffVM_TaskResponse"]["Task"]
    states = []
    for _ in range(3):
        answer = adapter(vismock_server, "Retrieve_Task_Status", task=task_id)
        states.append(answer["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]["state"])
    assert states == ["running", "running", "error"]
    assert vismock_server.power_state("win1") == "poweredOn"


def test_operations_and_inventory_from_the_plugin(vismock_server: VismockServer) -> None:
    vismock_server.set_operation(timeline=[{"state": "success", "at": 0}])  # every operation instant
    vismock_server.set_inventory(
        {
            "datacenters": [
                {"name": "DC", "hosts": [{"name": "esx", "vms": [{"name": "app", "power": "poweredOff"}]}]}
            ]
        }
    )
    assert "PowerOnVM_TaskResponse" in adapter(vismock_server, "Power_On_VM", vm="app")
    assert vismock_server.power_state("app") == "poweredOn"
    vismock_server.set_power_state("app", "suspended")
    assert vismock_server.power_state("app") == "suspended"
    with pytest.raises(ValueError, match=r"set_inventory: datacenters\[0\]\.name: is required"):
        vismock_server.set_inventory({"datacenters": [{}]})
    with pytest.raises(LookupError, match="no virtual machine"):
        vismock_server.power_state("win1")  # not in this inventory


def test_the_next_test_starts_from_the_loaded_state(vismock_server: VismockServer) -> None:
    assert vismock_server.power_state("win1") == "poweredOn"
    assert vismock_server.backend.operations.behaviours() == {}
    assert vismock_server.backend.operations.overrides() == []


def test_script_refuses_a_vm_the_inventory_does_not_have(vismock_server: VismockServer) -> None:
    """It was accepted and never matched."""
    with pytest.raises(LookupError) as refused:
        vismock_server.script("Power_Off_VM", vm="win9", fault="InvalidState")
    message = str(refused.value)
    assert message.startswith(
        "script(operation='Power_Off_VM', vm='win9', fault='InvalidState'): no VM 'win9' in the inventory"
    )
    assert "; its VMs: TestDev (vm-525), win1 (vm-601), web-01 (vm-1001)," in message
    vismock_server.script("Power_Off_VM", vm="vm-601", fault="InvalidState")  # by id: accepted


def test_a_bad_outcome_names_the_call_made(vismock_server: VismockServer) -> None:
    with pytest.raises(TaskFileError) as refused:
        vismock_server.script("Power_Off_VM", vm="win1", fault="InvalidStat")
    assert str(refused.value) == (
        "script(operation='Power_Off_VM', vm='win1', fault='InvalidStat'): fault: 'InvalidStat' is not a"
        " vim25 fault type vismock serves (did you mean InvalidState?) (schemas/vim25/vim25.xsd defines them;"
        " e.g. InvalidState, NoDiskSpace, InvalidPowerState)"
    )
