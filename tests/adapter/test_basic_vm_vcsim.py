"""The Basic_Vm operations run over pyVmomi against the reference simulator (a vCenter that is not
vismock): find the VM by name, check it, start the method, answer the task; the task then reads
through Retrieve_Task_Status; a refusal is the same error envelope the mock answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.vcsim import running_vcsim, vcsim_address
from vismock.adapter.vcenter import Settings, run_over_soap
from vismock.codec import decode

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with running_vcsim() as url:
        host, port = vcsim_address(url)
        yield Settings(soap_url=f"http://{host}:{port}/sdk", user="user", password="pass")


def request(operation: str, vm: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Basic_Vm</operation-type>"
        f"<operation-name>{operation}</operation-name>"
        f"<parameters><virtual-machine>{vm}</virtual-machine></parameters></vmware-infrastructure-request>"
    ).encode()


def status(task_id: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        "<operation-name>Retrieve_Task_Status</operation-name><parameters><spec-set><object-set>"
        f"<task>{task_id}</task></object-set></spec-set></parameters></vmware-infrastructure-request>"
    ).encode()


def test_power_off_then_the_task_then_a_refusal(settings: Settings) -> None:
    answer = run_over_soap(decode(request("Power_Off_VM", "DC0_H0_VM1")), settings)
    task_id = answer["PowerOffVM_TaskResponse"]["Task"]
    (returnval,) = run_over_soap(decode(status(task_id)), settings)["RetrieveTaskStatusResponse"]["returnval"]
    info = returnval["propSet"]["TaskInfo"]
    assert (info["state"], info["descriptionId"]) == ("success", "VirtualMachine.powerOff")  # vcsim: at once
    again = run_over_soap(decode(request("Power_Off_VM", "DC0_H0_VM1")), settings)
    assert again["metadata"] == {
        "status": "error",
        "error": "The attempted operation cannot be performed in the current state (Powered off).",
        "fault": "InvalidPowerState",
    }
    # vcsim would suspend a powered-off VM; the adapter checks by vim25's rules first.
    assert run_over_soap(decode(request("Suspend_VM", "DC0_H0_VM1")), settings)["metadata"]["fault"] == (
        "InvalidPowerState"
    )
    assert "PowerOnVM_TaskResponse" in run_over_soap(decode(request("Power_On_VM", "DC0_H0_VM1")), settings)


def test_an_unknown_name(settings: Settings) -> None:
    answer = run_over_soap(decode(request("Reset_VM", "no-such-vm")), settings)
    assert answer["metadata"]["fault"] == "ManagedObjectNotFound"
