"""The Basic_Vm operations run as the adapter runs them, over pyVmomi against a vCenter (the
mock's /sdk), answer byte for byte what the mock's adapter face answers for the same request and
the same state (two mocks started alike: one reached over SOAP, one through POST /adapter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.both_faces import Prepare, both, nothing
from tests.support.soap import PASSWORD, USER, LiveServer
from vismock.adapter.vcenter import Settings, run_over_soap
from vismock.cli import main
from vismock.codec import decode, encode
from vismock.mockserver.state import Backend


def request_for(operation: str, vm: str, *, user: str = USER, password: str = PASSWORD) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Basic_Vm</operation-type>"
        f"<operation-name>{operation}</operation-name><soap-url></soap-url><transport></transport>"
        f"<user-name>{user}</user-name><password>{password}</password>"
        f"<parameters><virtual-machine>{vm}</virtual-machine></parameters></vmware-infrastructure-request>"
    ).encode()


def vm_state(state: str) -> Prepare:
    return lambda backend: backend.inventory.set_power_state("vm-601", state) and None


def busy(backend: Backend) -> None:
    backend.invoke("vm-601", "PowerOffVM_Task", user=USER)


@pytest.mark.parametrize(
    ("operation", "vm", "prepare", "expected"),
    [
        ("Power_Off_VM", "win1", nothing, "PowerOffVM_TaskResponse"),
        ("Power_On_VM", "win1", vm_state("poweredOff"), "PowerOnVM_TaskResponse"),
        ("Power_On_VM", "win1", vm_state("suspended"), "PowerOnVM_TaskResponse"),
        ("Reset_VM", "win1", nothing, "ResetVM_TaskResponse"),
        ("Suspend_VM", "win1", nothing, "SuspendVM_TaskResponse"),
        ("Power_On_VM", "win1", nothing, "InvalidPowerState"),
        ("Power_Off_VM", "files-01", nothing, "InvalidPowerState"),
        ("Suspend_VM", "legacy-01", nothing, "InvalidPowerState"),
        ("Reset_VM", "win1", vm_state("suspended"), "InvalidPowerState"),
        ("Power_On_VM", "rhel9-template", nothing, "NotSupported"),
        ("Power_Off_VM", "win9", nothing, "ManagedObjectNotFound"),
        ("Reset_VM", "win1", busy, "TaskInProgress"),
    ],
)
def test_the_operation_over_soap_answers_what_the_adapter_face_answers(
    servers: tuple[LiveServer, LiveServer], operation: str, vm: str, prepare: Prepare, expected: str
) -> None:
    by_soap, by_face = both(servers, request_for(operation, vm), prepare)
    assert by_soap == by_face
    answer = decode(by_face)
    if expected.endswith("Response"):
        assert answer[expected]["Task"].startswith("task-")
    else:
        assert answer["metadata"]["fault"] == expected


def test_the_started_tasks_read_alike_on_both(servers: tuple[LiveServer, LiveServer]) -> None:
    request = request_for("Power_Off_VM", "win1")
    by_soap, by_face = both(servers, request, nothing)
    assert by_soap == by_face
    task_id = decode(by_face)["PowerOffVM_TaskResponse"]["Task"]
    status = (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        f"<operation-name>Retrieve_Task_Status</operation-name><user-name>{USER}</user-name>"
        f"<password>{PASSWORD}</password><parameters><spec-set><object-set><task>{task_id}</task>"
        "</object-set></spec-set></parameters></vmware-infrastructure-request>"
    ).encode()
    over_soap, adapter_face = servers
    for server in servers:
        server.backend.advance(2)
    settings = Settings(soap_url=f"{over_soap.url}/sdk")
    read_by_soap = encode(run_over_soap(decode(status), settings), root="vmware-infrastructure-response")
    read_by_face = adapter_face.app.test_client().post("/adapter", data=status, content_type="text/xml").data
    assert read_by_soap == read_by_face
    assert b"<state>success</state>" in read_by_face and b"<userName>vismock</userName>" in read_by_face


def test_vismock_run_prints_the_envelope(
    servers: tuple[LiveServer, LiveServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    over_soap, _ = servers
    over_soap.backend.reset()
    request_file = tmp_path / "request.xml"
    request_file.write_bytes(request_for("Power_Off_VM", "win1", user="", password=""))
    monkeypatch.setenv("VISMOCK_VCENTER_PASSWORD", PASSWORD)
    status = main(["run", str(request_file), "--soap-url", f"{over_soap.url}/sdk", "--user", USER])
    assert status == 0
    task_id = decode(capfdbinary.readouterr().out)["PowerOffVM_TaskResponse"]["Task"]
    assert over_soap.backend.inventory.power("vm-601").running == task_id
    request_file.write_bytes(request_for("Power_Off_VM", "files-01", user="", password=""))
    assert main(["run", str(request_file), "--soap-url", f"{over_soap.url}/sdk", "--user", USER]) == 1
    assert b"<fault>InvalidPowerState</fault>" in capfdbinary.readouterr().out
