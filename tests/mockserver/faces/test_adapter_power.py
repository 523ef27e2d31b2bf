"""The Basic_Vm operations on the adapter face: BMC's samples, the whole flow (Power_Off_VM, the
task id, Retrieve_Task_Status to the end, the VM over SOAP), every error as an error envelope
naming the vim25 fault, the journal, fault rules, remembered answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

import vismock.codec as codec
from tests.support import DATA
from tests.support.soap import call_xml, logged_in
from tests.support.soap import post as soap_post
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend

SAMPLES = DATA / "basic-vm"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
OPERATIONS = {
    "Power_On_VM": "PowerOnVM_Task",
    "Power_Off_VM": "PowerOffVM_Task",
    "Reset_VM": "ResetVM_Task",
    "Suspend_VM": "SuspendVM_Task",
}


@pytest.fixture
def backend(app: Flask) -> Backend:
    state = services_of(app).backend
    state.freeze(T0)
    return state


def request_xml(operation: str, vm: str, user: str = "", password: str = "") -> bytes:
    return codec.encode(
        {
            "operation-type": "Basic_Vm",
            "operation-name": operation,
            "user-name": user or None,
            "password": password or None,
            "parameters": {"virtual-machine": vm},
        }
    )


def status_request(task_id: str) -> bytes:
    return codec.encode(
        {
            "operation-type": "Monitor_Vm",
            "operation-name": "Retrieve_Task_Status",
            "parameters": {"spec-set": {"object-set": [{"task": task_id}]}},
        }
    )


def post(client: FlaskClient, body: bytes) -> dict[str, Any]:
    """POST to /adapter: HTTP 200 and a valid response envelope, decoded."""
    response = client.post("/adapter", data=body, content_type="text/xml")
    assert response.status_code == 200, response.data
    assert list(codec.iter_errors(response.data)) == []
    return codec.decode(response.data)


def error_of(answer: dict[str, Any]) -> tuple[str, str]:
    metadata = answer["metadata"]
    assert metadata["status"] == "error" and len(answer) == 1, answer
    return metadata["fault"], metadata["error"]


# -- BMC's samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["power-off", "reset", "suspend", "power-on"])
def test_the_samples_validate_decode_and_the_mock_answers_them(
    client: FlaskClient, backend: Backend, name: str
) -> None:
    request = (SAMPLES / f"{name}-request.xml").read_bytes()
    decoded = codec.decode(request)
    assert decoded["parameters"] == {"virtual-machine": "win1"}
    assert decoded["operation-type"] == "Basic_Vm"
    if name == "power-on":
        backend.inventory.set_power_state("vm-601", "poweredOff")
    answer = post(client, request)
    element = codec.default_codec().operations[decoded["operation-name"]].response
    assert answer == {"metadata": {"status": "success"}, element: {"Task": "task-3001"}}
    if name != "power-on":
        response = (SAMPLES / f"{name}-response.xml").read_bytes()
        sample = codec.decode(response)
        assert list(sample) == ["metadata", element] and sample[element]["Task"].startswith("task-71")
        assert codec.decode(codec.encode(sample)) == sample


# -- the whole flow -----------------------------------------------------------------------------


def test_power_off_then_retrieve_task_status_to_success_then_the_vm_over_soap(
    app: Flask, client: FlaskClient, backend: Backend
) -> None:
    answer = post(client, request_xml("Power_Off_VM", "win1", "vismock", "vismock"))
    task_id = answer["PowerOffVM_TaskResponse"]["Task"]
    states: list[str] = []
    while not states or states[-1] not in ("success", "error"):  # as a pipeline polls
        info = post(client, status_request(task_id))["RetrieveTaskStatusResponse"]["returnval"][0]
        states.append(info["propSet"]["TaskInfo"]["state"])
        backend.advance(0.5)
    assert states == ["queued", "running", "running", "running", "success"]
    info = info["propSet"]["TaskInfo"]
    assert (info["name"], info["descriptionId"], info["VirtualMachine"], info["entityName"]) == (
        "PowerOffVM_Task",
        "VirtualMachine.powerOff",
        "vm-601",
        "win1",
    )
    assert info["TaskReasonUser"] == {"userName": "vismock"}
    soap = logged_in(app.test_client())
    read = soap_post(soap, call_xml("Fetch", "VirtualMachine", "vm-601", "<prop>runtime.powerState</prop>"))
    assert etree.fromstring(read.data).findtext(".//{urn:vim25}returnval") == "poweredOff"


@pytest.mark.parametrize(("operation", "method"), OPERATIONS.items())
def test_each_operation_starts_its_method(
    client: FlaskClient, backend: Backend, operation: str, method: str
) -> None:
    if operation == "Power_On_VM":
        backend.inventory.set_power_state("vm-601", "suspended")
    answer = post(client, request_xml(operation, "win1"))
    task_id = answer[f"{method}Response"]["Task"]
    assert backend.tasks.info(task_id, poll=False)["name"] == method
    # An empty user-name means the adapter's configured account (the first one: vismock).
    assert backend.tasks.info(task_id, poll=False)["TaskReasonUser"] == {"userName": "vismock"}


# -- errors: an error envelope naming the fault, and no task -------------------------------------


@pytest.mark.parametrize(
    ("operation", "vm", "start", "fault", "message"),
    [
        ("Power_Off_VM", "win9", None, "ManagedObjectNotFound", "There is no virtual machine named 'win9'"),
        (
            "Power_On_VM",
            "rhel9-template",
            None,
            "NotSupported",
            "The operation is not supported on the object.",
        ),
        ("Power_Off_VM", "files-01", None, "InvalidPowerState", "current state (Powered off)."),
        ("Power_On_VM", "win1", None, "InvalidPowerState", "current state (Powered on)."),
        ("Suspend_VM", "legacy-01", None, "InvalidPowerState", "current state (Suspended)."),
        ("Reset_VM", "win1", "poweredOff", "InvalidPowerState", "current state (Powered off)."),
    ],
)
def test_every_refusal_is_an_error_envelope_and_starts_nothing(
    client: FlaskClient,
    backend: Backend,
    operation: str,
    vm: str,
    start: str | None,
    fault: str,
    message: str,
) -> None:
    if start is not None:
        backend.inventory.set_power_state("vm-601", start)
    tasks_before = len(backend.tasks.specs())
    got_fault, got_message = error_of(post(client, request_xml(operation, vm)))
    assert got_fault == fault and message in got_message
    assert len(backend.tasks.specs()) == tasks_before


def test_a_busy_vm_is_task_in_progress(client: FlaskClient, backend: Backend) -> None:
    post(client, request_xml("Power_Off_VM", "win1"))
    assert error_of(post(client, request_xml("Reset_VM", "win1"))) == (
        "TaskInProgress",
        "Another task is already in progress.",
    )
    backend.advance(2)
    assert "ResetVM_TaskResponse" not in post(client, request_xml("Reset_VM", "win1"))  # now off
    assert "PowerOnVM_TaskResponse" in post(client, request_xml("Power_On_VM", "win1"))


def test_two_vms_with_one_name_are_an_invalid_argument(app: Flask, client: FlaskClient) -> None:
    from vismock.mockserver.state.inventory import entities_from_document

    vms = [{"name": "twin"}, {"name": "twin", "folder": "b"}]
    document = {"datacenters": [{"name": "DC", "hosts": [{"name": "esx", "vms": vms}]}]}
    services_of(app).backend.replace_inventory(entities_from_document(document))
    fault, message = error_of(post(client, request_xml("Power_Off_VM", "twin")))
    assert fault == "InvalidArgument" and "2 virtual machines are named 'twin'" in message


# -- journal, fault rules, remembered answers -------------------------------------------------------------


def test_the_journal_names_the_vm_and_the_created_task(client: FlaskClient, backend: Backend) -> None:
    task_id = post(client, request_xml("Power_Off_VM", "win1"))["PowerOffVM_TaskResponse"]["Task"]
    post(client, request_xml("Power_Off_VM", "win1"))  # busy
    entries = backend.journal.entries(operation="Power_Off_VM")
    assert [(e.entity, e.task_ids, e.outcome) for e in entries] == [
        ("vm-601", (task_id,), "ok"),
        ("vm-601", (), "TaskInProgress"),
    ]


def test_fault_rules_apply_to_the_new_operations(client: FlaskClient, backend: Backend) -> None:
    from vismock.mockserver.state import FaultRule

    backend.faults.add(FaultRule(action="error", operation="Power_Off_VM", fault="HostCommunication"))
    assert error_of(post(client, request_xml("Power_Off_VM", "win1")))[0] == "HostCommunication"
    assert backend.inventory.power("vm-601").running is None  # nothing started
    assert "PowerOffVM_TaskResponse" in post(client, request_xml("Power_Off_VM", "win1"))


def test_a_remembered_refusal_ends_when_the_vm_changes(client: FlaskClient, backend: Backend) -> None:
    request = request_xml("Power_On_VM", "win1")
    assert error_of(post(client, request))[0] == "InvalidPowerState"
    assert error_of(post(client, request))[0] == "InvalidPowerState"  # the same answer again
    backend.inventory.set_power_state("vm-601", "poweredOff")
    assert "PowerOnVM_TaskResponse" in post(client, request)
    assert error_of(post(client, request))[0] == "TaskInProgress"
    backend.advance(2)  # no write: the busy answer held only until the task's end
    assert error_of(post(client, request))[0] == "InvalidPowerState"
    assert backend.journal.count(operation="Power_On_VM") == 5
