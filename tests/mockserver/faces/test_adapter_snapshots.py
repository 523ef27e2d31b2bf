"""The snapshot family, Clone_VM and Delete_VM on the adapter face, through a client's eyes (the
adapter face over HTTP, the plugin's helpers): each answers the queued task, Retrieve_Task_Status
follows it to its end, the VM changes as vCenter changes it, and bad input is an error envelope
naming the vim25 fault."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest

import vismock.codec as codec
from tests.support import DATA
from vismock.mockserver.pytest_plugin import VismockServer

OPERATION_TYPES = {
    "Create_VM_Snapshot": "Advanced_Vm",
    "Revert_VM_Snapshot": "Advanced_Vm",
    "Delete_VM_Snapshot": "Advanced_Vm",
    "Clone_VM": "Configure_Vm",
    "Delete_VM": "Basic_Vm",
    "Power_Off_VM": "Basic_Vm",
    "Retrieve_Task_Status": "Monitor_Vm",
}


def call(server: VismockServer, operation: str, kind: str | None = None, **parameters: Any) -> dict[str, Any]:
    """*operation* on the adapter face: the decoded response envelope."""
    body = codec.encode(
        {
            "operation-type": kind or OPERATION_TYPES[operation],
            "operation-name": operation,
            "parameters": parameters,
        }
    )
    request = urllib.request.Request(server.adapter_url, data=body, headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(request) as response:
        return codec.decode(response.read())


def queued(answer: dict[str, Any]) -> str:
    assert answer["metadata"]["status"] == "success", answer
    (element,) = [value for key, value in answer.items() if key != "metadata"]
    task: str = element["Task"]
    assert re.fullmatch(r"task-\d+", task)
    return task


def follow(server: VismockServer, task_id: str) -> dict[str, Any]:
    """The task read with Retrieve_Task_Status once the mock's clock passed its timeline."""
    server.advance(5)
    answer = call(server, "Retrieve_Task_Status", **{"spec-set": {"object-set": [{"task": task_id}]}})
    ((info),) = [item["propSet"]["TaskInfo"] for item in answer["RetrieveTaskStatusResponse"]["returnval"]]
    return dict(info)


def refused(answer: dict[str, Any]) -> str:
    assert answer["metadata"]["status"] == "error", answer
    return str(answer["metadata"]["fault"])


def snapshot(server: VismockServer, vm: str, name: str, **options: Any) -> dict[str, Any]:
    task = queued(call(server, "Create_VM_Snapshot", **{"virtual-machine": vm, "name": name, **options}))
    info = follow(server, task)
    assert info["state"] == "success", info
    return info


def tree(server: VismockServer, vm: str) -> list[str]:
    """The VM's snapshot paths as the admin API shows them (current one marked with *)."""
    shown = server.app.test_client().get(f"/_vismock/inventory/{server.vm_id(vm)}").get_json()
    return [f"{node['path']}{'*' if node['current'] else ''}" for node in shown.get("snapshots", [])]


@pytest.fixture
def server(vismock_server: VismockServer) -> VismockServer:
    vismock_server.freeze()
    return vismock_server


def test_create_snapshot_answers_its_task_whose_result_is_the_snapshot(server: VismockServer) -> None:
    info = snapshot(server, "win1", "before-patch", description="pre change", memory=True)
    assert info["name"] == "CreateSnapshot_Task"
    assert info["descriptionId"] == "VirtualMachine.createSnapshot"
    assert info["VirtualMachine"] == server.vm_id("win1") and info["entityName"] == "win1"
    assert re.fullmatch(r"snapshot-\d+", info["result"])
    assert tree(server, "win1") == ["before-patch*"]
    server.assert_called("CreateSnapshot_Task", vm="win1", times=1)
    server.assert_called("Create_VM_Snapshot", vm="win1", times=1)


def test_the_advanced_vm_spelling_of_bmcs_sample_is_accepted(server: VismockServer) -> None:
    answer = call(
        server, "Create_VM_Snapshot", kind="Advanced_VM", **{"virtual-machine": "win1", "name": "s1"}
    )
    assert follow(server, queued(answer))["state"] == "success"


def test_snapshots_nest_under_the_current_one_and_paths_name_them(server: VismockServer) -> None:
    snapshot(server, "win1", "base")
    snapshot(server, "win1", "patched")
    snapshot(server, "win1", "tested")
    assert tree(server, "win1") == ["base", "base/patched", "base/patched/tested*"]


def test_a_revert_restores_the_snapshots_power_state_and_makes_it_current(server: VismockServer) -> None:
    snapshot(server, "win1", "off-state", memory=False)  # without memory: recorded powered off
    snapshot(server, "win1", "on-state", memory=True)  # with memory: recorded powered on
    assert server.power_state("win1") == "poweredOn"
    task = queued(call(server, "Revert_VM_Snapshot", **{"virtual-machine": "win1", "name": "off-state"}))
    info = follow(server, task)
    assert (info["state"], info["name"]) == ("success", "RevertToSnapshot_Task")
    assert server.power_state("win1") == "poweredOff"
    assert tree(server, "win1") == ["off-state*", "off-state/on-state"]
    follow(
        server,
        queued(
            call(server, "Revert_VM_Snapshot", **{"virtual-machine": "win1", "name": "off-state/on-state"})
        ),
    )
    assert server.power_state("win1") == "poweredOn"


def test_delete_removes_one_snapshot_or_its_subtree(server: VismockServer) -> None:
    for name in ("a", "b", "c"):
        snapshot(server, "win1", name)
    task = queued(
        call(
            server,
            "Delete_VM_Snapshot",
            **{"virtual-machine": "win1", "name": "a/b", "remove-children": False},
        )
    )
    assert follow(server, task)["state"] == "success"
    assert tree(server, "win1") == ["a", "a/c*"]  # c moved up to a; b was not current
    task = queued(
        call(
            server, "Delete_VM_Snapshot", **{"virtual-machine": "win1", "name": "a", "remove-children": True}
        )
    )
    follow(server, task)
    assert tree(server, "win1") == []


@pytest.mark.parametrize(
    ("operation", "parameters", "fault"),
    [
        ("Create_VM_Snapshot", {"virtual-machine": "win9", "name": "s"}, "ManagedObjectNotFound"),
        ("Create_VM_Snapshot", {"virtual-machine": "rhel9-template", "name": "s"}, "NotSupported"),
        ("Revert_VM_Snapshot", {"virtual-machine": "win1", "name": "no/such"}, "NotFound"),
        (
            "Delete_VM_Snapshot",
            {"virtual-machine": "win1", "name": "nope", "remove-children": True},
            "NotFound",
        ),
        ("Clone_VM", {"virtual-machine": "win9", "name": "x"}, "ManagedObjectNotFound"),
        ("Clone_VM", {"virtual-machine": "win1", "name": "web-01", "folder": "prod"}, "DuplicateName"),
        ("Clone_VM", {"virtual-machine": "win1", "name": "x", "datacenter": "Elsewhere"}, "NotFound"),
        ("Clone_VM", {"virtual-machine": "win1", "name": "x", "folder": "no/such"}, "NotFound"),
        ("Delete_VM", {"virtual-machine": "win1"}, "InvalidPowerState"),
        ("Delete_VM", {"virtual-machine": "win9"}, "ManagedObjectNotFound"),
    ],
)
def test_bad_input_is_an_error_envelope_naming_the_fault(
    server: VismockServer, operation: str, parameters: dict[str, Any], fault: str
) -> None:
    before = server.count()
    assert refused(call(server, operation, **parameters)) == fault
    assert server.count() == before + 1  # journaled, and nothing started
    assert server.journal()[-1].task_ids == ()


def test_an_unknown_snapshot_path_names_the_paths_there_are(server: VismockServer) -> None:
    snapshot(server, "win1", "base")
    answer = call(server, "Revert_VM_Snapshot", **{"virtual-machine": "win1", "name": "bsae"})
    assert refused(answer) == "NotFound"
    assert "'bsae'" in answer["metadata"]["error"] and "base" in answer["metadata"]["error"]


def test_a_vm_busy_with_a_task_refuses_a_snapshot(server: VismockServer) -> None:
    queued(call(server, "Power_Off_VM", **{"virtual-machine": "win1"}))  # running: win1 is busy
    answer = call(server, "Create_VM_Snapshot", **{"virtual-machine": "win1", "name": "s"})
    assert refused(answer) == "TaskInProgress"
    assert tree(server, "win1") == []


def test_clone_makes_a_new_vm_in_the_folder_powered_on_when_asked(server: VismockServer) -> None:
    task = queued(
        call(
            server,
            "Clone_VM",
            **{"virtual-machine": "win1", "name": "win1-copy", "folder": "prod", "power-on": True},
        )
    )
    info = follow(server, task)
    assert (info["state"], info["name"], info["VirtualMachine"]) == (
        "success",
        "CloneVM_Task",
        server.vm_id("win1"),
    )
    clone_id = info["result"]
    assert server.vm_id("win1-copy") == clone_id != server.vm_id("win1")
    shown = server.app.test_client().get(f"/_vismock/inventory/{clone_id}").get_json()
    web = server.app.test_client().get(f"/_vismock/inventory/{server.vm_id('web-01')}").get_json()
    assert shown["parent"] == web["parent"]  # the prod folder
    assert shown["powerState"] == "poweredOn"
    original = server.app.test_client().get(f"/_vismock/inventory/{server.vm_id('win1')}").get_json()
    assert shown["uuid"] != original["uuid"] and shown["instanceUuid"] != original["instanceUuid"]


def test_clone_of_a_template_stays_off_unless_asked_and_can_be_a_template(server: VismockServer) -> None:
    info = follow(
        server, queued(call(server, "Clone_VM", **{"virtual-machine": "rhel9-template", "name": "app-03"}))
    )
    assert server.power_state("app-03") == "poweredOff"
    info = follow(
        server,
        queued(
            call(
                server,
                "Clone_VM",
                **{"virtual-machine": "app-03", "name": "gold", "template": True, "power-on": True},
            )
        ),
    )
    assert info["state"] == "success"
    assert server.power_state("gold") == "poweredOff"  # a template is never powered on


def test_delete_vm_removes_it_and_its_tasks_still_read(server: VismockServer) -> None:
    server.set_power_state("files-01", "poweredOff")
    task = queued(call(server, "Delete_VM", **{"virtual-machine": "files-01"}))
    info = follow(server, task)
    assert (info["state"], info["name"], info["entityName"]) == ("success", "Destroy_Task", "files-01")
    assert refused(call(server, "Delete_VM", **{"virtual-machine": "files-01"})) == "ManagedObjectNotFound"
    assert follow(server, task)["state"] == "success"  # its task still reads


def test_a_scripted_failure_of_a_snapshot_makes_no_snapshot(server: VismockServer) -> None:
    server.script("Create_VM_Snapshot", vm="win1", fault="InvalidState", after=1)
    task = queued(call(server, "Create_VM_Snapshot", **{"virtual-machine": "win1", "name": "s"}))
    info = follow(server, task)
    assert info["state"] == "error" and info["error"]["fault"] == "InvalidState"
    assert tree(server, "win1") == []


def test_the_pipeline_samples_run_in_order_as_docs_snapshots_shows(server: VismockServer) -> None:
    """tests/data/advanced-vm/*.xml, the requests docs/snapshots.md walks through, sent as they are."""
    samples = sorted((DATA / "advanced-vm").glob("*-request.xml"))
    assert len(samples) == 6
    seen = []
    for sample in samples:
        request = urllib.request.Request(
            server.adapter_url, data=sample.read_bytes(), headers={"Content-Type": "text/xml"}
        )
        with urllib.request.urlopen(request) as response:
            info = follow(server, queued(codec.decode(response.read())))
        seen.append((sample.name, info["state"], tree(server, "win1"), server.power_state("win1")))
    assert seen == [
        ("1-create-snapshot-request.xml", "success", ["before-patch*"], "poweredOn"),
        (
            "2-create-child-snapshot-request.xml",
            "success",
            ["before-patch", "before-patch/patched*"],
            "poweredOn",
        ),
        ("3-revert-snapshot-request.xml", "success", ["before-patch*", "before-patch/patched"], "poweredOff"),
        ("4-delete-snapshot-request.xml", "success", ["before-patch*"], "poweredOff"),
        ("5-clone-vm-request.xml", "success", ["before-patch*"], "poweredOff"),
        ("6-delete-vm-request.xml", "success", ["before-patch*"], "poweredOff"),
    ]
    assert server.backend.inventory.named("win1-copy", "VirtualMachine") == []
