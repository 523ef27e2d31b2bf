"""The operation against the reference simulator (govmomi's vcsim at /tmp/vcsim-anchor).

Skipped when the binary is absent (failed in CI: tests/support/vcsim.py). The simulator accepts any
user name and password.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from tests.support.vcsim import running_vcsim
from vismock.adapter.vcenter import Settings, run_over_soap
from vismock.codec import decode, encode, validate


@pytest.fixture(scope="module")
def vcsim() -> Iterator[tuple[str, int]]:
    with running_vcsim() as address:
        yield address


@pytest.fixture
def powered_on_task(vcsim: tuple[str, int]) -> Iterator[Any]:
    host, port = vcsim
    si = SmartConnect(protocol="http", host=host, port=port, user="user", pwd="pass")
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = view.view[0]
        view.Destroy()
        if vm.runtime.powerState == "poweredOn":  # the simulator starts its VMs powered on
            WaitForTask(vm.PowerOffVM_Task())
        task = vm.PowerOnVM_Task()
        WaitForTask(task)
        yield task
    finally:
        Disconnect(si)


def _request(task_id: str, soap_url: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        f"<operation-name>Retrieve_Task_Status</operation-name><soap-url>{soap_url}</soap-url>"
        "<transport>http-rpc</transport><user-name>user</user-name><password>pass</password>"
        f"<parameters><spec-set><object-set><task>{task_id}</task></object-set></spec-set></parameters>"
        "</vmware-infrastructure-request>"
    ).encode()


def test_retrieve_task_status_of_a_power_on_task(vcsim: tuple[str, int], powered_on_task: Any) -> None:
    host, port = vcsim
    task_id = powered_on_task._moId
    response = run_over_soap(decode(_request(task_id, f"http://{host}:{port}/sdk")), Settings())
    validate(encode(response, root="vmware-infrastructure-response"))
    assert response["metadata"]["status"] == "success"
    (returnval,) = response["RetrieveTaskStatusResponse"]["returnval"]
    info = returnval["propSet"]["TaskInfo"]
    assert returnval["Task"] == info["key"] == task_id
    assert info["state"] == "success"
    assert info["descriptionId"] == "VirtualMachine.powerOn"
    assert info["VirtualMachine"] == powered_on_task.info.entity._moId
    # This simulator names the task "PowerOn" (vCenter sends the method name, PowerOnVM_Task).
    assert info["name"] in ("PowerOn", "PowerOnVM_Task")


def test_an_unknown_task_on_the_simulator(vcsim: tuple[str, int]) -> None:
    host, port = vcsim
    response = run_over_soap(decode(_request("task-99999", f"http://{host}:{port}/sdk")), Settings())
    assert response["metadata"]["status"] == "error"
    assert response["metadata"]["fault"] == "ManagedObjectNotFound"
