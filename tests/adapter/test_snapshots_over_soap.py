"""The snapshot family, Clone_VM and Delete_VM run as the adapter runs them, over pyVmomi against a
vCenter (the mock's /sdk), answer byte for byte what the mock's adapter face answers for the same
request and the same state (two mocks prepared alike), and change the state alike."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.both_faces import Prepare, both, nothing
from tests.support.soap import PASSWORD, USER, LiveServer
from vismock.codec import decode, encode
from vismock.mockserver.state import Backend
from vismock.mockserver.state.behaviour import INSTANT

KINDS = {
    "Create_VM_Snapshot": "Advanced_Vm",
    "Revert_VM_Snapshot": "Advanced_VM",
    "Delete_VM_Snapshot": "Advanced_Vm",
}
KINDS |= {"Clone_VM": "Configure_Vm", "Delete_VM": "Basic_Vm"}
INSTANT_TASKS = {"default": INSTANT}  # the snapshot family's tasks end when created, on both


def request_for(operation: str, **parameters: Any) -> bytes:
    return encode(
        {
            "operation-type": KINDS[operation],
            "operation-name": operation,
            "user-name": USER,
            "password": PASSWORD,
            "parameters": parameters,
        }
    )


def with_snapshots(*names: str) -> Prepare:
    def prepare(backend: Backend) -> None:
        for name in names:
            backend.invoke("vm-601", "CreateSnapshot_Task", user=USER, name=name, memory=False, quiesce=False)

    return prepare


def powered_off(vm_id: str) -> Prepare:
    return lambda backend: backend.inventory.set_power_state(vm_id, "poweredOff") and None


CASES = [
    (
        "Create_VM_Snapshot",
        {"virtual-machine": "win1", "name": "s1", "memory": True},
        nothing,
        "CreateSnapshot_TaskResponse",
    ),
    ("Create_VM_Snapshot", {"virtual-machine": "rhel9-template", "name": "s1"}, nothing, "NotSupported"),
    ("Create_VM_Snapshot", {"virtual-machine": "win9", "name": "s1"}, nothing, "ManagedObjectNotFound"),
    (
        "Revert_VM_Snapshot",
        {"virtual-machine": "win1", "name": "a/b"},
        with_snapshots("a", "b"),
        "RevertToSnapshot_TaskResponse",
    ),
    ("Revert_VM_Snapshot", {"virtual-machine": "win1", "name": "a/c"}, with_snapshots("a", "b"), "NotFound"),
    (
        "Delete_VM_Snapshot",
        {"virtual-machine": "win1", "name": "a", "remove-children": True},
        with_snapshots("a", "b"),
        "RemoveSnapshot_TaskResponse",
    ),
    (
        "Delete_VM_Snapshot",
        {"virtual-machine": "win1", "name": "x", "remove-children": False},
        nothing,
        "NotFound",
    ),
    (
        "Clone_VM",
        {"virtual-machine": "win1", "name": "win1-copy", "folder": "prod", "power-on": True},
        nothing,
        "CloneVM_TaskResponse",
    ),
    (
        "Clone_VM",
        {"virtual-machine": "win1", "name": "x", "datacenter": "Datacenter", "datastore": "datastore1"},
        nothing,
        "CloneVM_TaskResponse",
    ),
    ("Clone_VM", {"virtual-machine": "win1", "name": "db-01", "folder": "prod"}, nothing, "DuplicateName"),
    ("Clone_VM", {"virtual-machine": "win1", "name": "x", "datastore": "nowhere"}, nothing, "NotFound"),
    ("Delete_VM", {"virtual-machine": "files-01"}, nothing, "Destroy_TaskResponse"),
    ("Delete_VM", {"virtual-machine": "win1"}, nothing, "InvalidPowerState"),
]


@pytest.mark.parametrize(("operation", "parameters", "prepare", "expected"), CASES)
def test_over_soap_answers_what_the_adapter_face_answers(
    servers: tuple[LiveServer, LiveServer],
    operation: str,
    parameters: dict[str, Any],
    prepare: Prepare,
    expected: str,
) -> None:
    by_soap, by_face = both(servers, request_for(operation, **parameters), prepare, INSTANT_TASKS)
    assert by_soap == by_face
    answer = decode(by_soap)
    assert expected in answer or answer["metadata"].get("fault") == expected, answer


def test_each_side_changed_its_state_alike(servers: tuple[LiveServer, LiveServer]) -> None:
    request = request_for("Revert_VM_Snapshot", **{"virtual-machine": "win1", "name": "a"})
    both(servers, request, with_snapshots("a", "b"), INSTANT_TASKS)
    over_soap, adapter_face = servers
    for server in (over_soap, adapter_face):
        assert server.backend.inventory.power("vm-601").state == "poweredOff"  # "a" was taken without memory
        assert [node["current"] for node in server.backend.inventory.snapshots("vm-601")] == [True, False]
