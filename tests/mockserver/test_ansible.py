"""Ansible's VMware collections, unchanged, against ``vismock serve --tls``: real
``ansible-playbook`` runs of the playbooks in tests/data/ansible (community.vmware and
vmware.vmware, as the ``ansible`` package bundles them; ``validate_certs: false``), asserting on
what each module returned and, through the journal, on what it called.

Outside CI a missing ansible skips these, saying how to get it: ``pip install -e ".[ansible]"``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import DATA
from tests.support.components import missing
from tests.support.served import Served, served

pytestmark = pytest.mark.slow  # a real server and ansible-playbook runs (about 3 s each)

PLAYBOOKS = DATA / "ansible"
HOW = 'pip install -e ".[ansible]" (the ansible package brings community.vmware and vmware.vmware)'


def ansible_playbook() -> str:
    """The ansible-playbook of this Python's environment (skips, or fails in CI, without one)."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if found is None:
        missing(f"ansible is not installed ({HOW})")
    try:
        import requests  # noqa: F401  (community.vmware's modules refuse to run without it)
    except ImportError:
        missing(f"requests is not installed ({HOW})")
    return found


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("ansible")
    with served("--tls", "--tls-dir", str(folder / "tls"), "--quiet") as server:
        yield server


def play(mock: Served, playbook: str, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Run *playbook* against a reset mock: each task's result by its name."""
    command = ansible_playbook()
    mock.call("POST", "/_vismock/reset", b"{}", "application/json")
    environment = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,  # the modules need this environment's pyVmomi
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
    }
    result = subprocess.run(
        [command, "-i", "localhost,", "-c", "local", playbook, "-e", f"vismock_port={mock.port}"],
        cwd=PLAYBOOKS,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (found,) = json.loads(result.stdout)["plays"]
    return {task["task"]["name"]: task["hosts"]["localhost"] for task in found["tasks"]}


def calls(mock: Served, operation: str) -> list[dict[str, Any]]:
    """The journal's SOAP entries of *operation* since the last reset."""
    entries: list[dict[str, Any]] = mock.call("GET", f"/_vismock/journal?face=soap&operation={operation}")[
        "entries"
    ]
    return entries


def outcomes(mock: Served, *operations: str) -> dict[str, list[str]]:
    """The outcome of each call of each of *operations* since the last reset, in order."""
    return {operation: [call["outcome"] for call in calls(mock, operation)] for operation in operations}


def test_vmware_vm_info_lists_every_vm_as_vcenter_describes_it(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "vm_info.yml", tmp_path)
    listed = {vm["guest_name"]: vm for vm in results["every VM"]["virtual_machines"]}
    assert {"TestDev", "win1", "rhel9-template", "legacy-01"} <= set(listed)
    win1 = listed["win1"]
    assert win1["moid"] == "vm-601"
    assert win1["power_state"] == "poweredOn"
    assert win1["ip_address"] == "10.20.30.41"
    assert win1["guest_fullname"] == "Microsoft Windows Server 2019 (64-bit)"
    assert (win1["datacenter"], win1["cluster"], win1["esxi_hostname"]) == (
        "Datacenter",
        "Cluster-A",
        "esx01.lab.local",
    )
    assert win1["folder"] == "/Datacenter/vm"
    assert win1["datastore_url"] == [{"name": "datastore1", "url": win1["datastore_url"][0]["url"]}]
    assert win1["datastore_url"][0]["url"].startswith("ds:///vmfs/volumes/")
    (mac,) = win1["mac_address"]
    assert win1["vm_network"] == {mac: {"ipv4": ["10.20.30.41/24"], "ipv6": []}}
    assert listed["legacy-01"]["cluster"] is None  # a standalone host's VM
    assert listed["legacy-01"]["ip_address"] == ""  # suspended: its guest reports nothing
    (alone,) = results["win1 with its allocation"]["virtual_machines"]
    assert alone["allocated"] == {"cpu": 2, "memory": 4096, "storage": 60 * 1024**3}
    assert calls(mock, "CreateContainerView"), "the module lists VMs through a container view"


def test_vmware_guest_info_facts_and_vsphere_properties(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "guest_info.yml", tmp_path)
    facts = results["facts"]["instance"]
    assert facts["hw_name"] == "win1"
    assert facts["hw_power_status"] == "poweredOn"
    assert (facts["hw_processor_count"], facts["hw_cores_per_socket"], facts["hw_memtotal_mb"]) == (
        2,
        1,
        4096,
    )
    assert facts["hw_guest_id"] == "windows2019srv_64Guest"
    assert facts["ipv4"] == "10.20.30.41"
    assert facts["guest_tools_status"] == "guestToolsRunning"
    assert facts["hw_esxi_host"] == "esx01.lab.local" and facts["hw_cluster"] == "Cluster-A"
    assert facts["hw_datastores"] == ["datastore1"]
    assert facts["hw_eth0"]["summary"] == "VM Network"
    assert facts["hw_eth0"]["ipaddresses"] == ["10.20.30.41"]
    assert "[datastore1] win1/win1.vmdk" in facts["hw_files"]
    assert "[datastore1] win1/win1_1.vmdk" in facts["hw_files"]
    vsphere = results["vsphere properties"]["instance"]
    assert vsphere["config"]["hardware"] == {"memoryMB": 4096, "numCPU": 2}
    assert vsphere["guest"] == {"ipAddress": "10.20.30.41"}
    assert vsphere["summary"] == {"runtime": {"powerState": "poweredOn"}, "config": {"numVirtualDisks": 2}}
    assert results["by uuid"]["instance"]["moid"] == "vm-601"
    (search,) = calls(mock, "FindByUuid")
    assert search["outcome"] == "ok"


def test_vmware_guest_powerstate_changes_once_and_names_a_missing_vm(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "powerstate.yml", tmp_path)
    assert results["power off"]["changed"] is True
    assert results["power off"]["instance"]["hw_power_status"] == "poweredOff"
    assert results["power off again"]["changed"] is False
    failed = results["a VM that does not exist"]
    assert failed["failed"] is True
    assert "no-such-vm" in failed["msg"]
    assert results["power on (vmware.vmware)"]["changed"] is True
    assert mock.call("GET", "/_vismock/inventory/vm-601")["powerState"] == "poweredOn"
    (off,) = calls(mock, "PowerOffVM_Task")  # the second run changed nothing: one call only
    (on,) = calls(mock, "PowerOnVM_Task")
    assert off["entity"] == on["entity"] == "vm-601"


def test_vmware_guest_snapshot_takes_lists_reverts_and_removes(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "snapshots.yml", tmp_path)
    assert results["take"]["changed"] is True
    listed = results["list"]["guest_snapshots"]
    assert listed["current_snapshot"]["name"] == "before-patch"
    assert [s["name"] for s in listed["snapshots"]] == ["before-patch"]
    assert listed["current_snapshot"]["state"] == "poweredOff"  # taken without memory
    assert results["revert"]["changed"] is True
    assert results["remove"]["changed"] is True
    # The revert powered win1 off (the snapshot's state, as vCenter does): with memory or not, the
    # next snapshots record it off.
    taken = results["take with memory"]["snapshot_results"]["current_snapshot"]
    assert (taken["name"], taken["state"]) == ("with-memory", "poweredOff")
    tree = results["take a child"]["snapshot_results"]
    assert [s["name"] for s in tree["snapshots"]] == ["with-memory", "child"]
    assert tree["current_snapshot"]["name"] == "child"
    assert results["remove all"]["changed"] is True
    assert results["list after remove all"]["guest_snapshots"] == {}
    assert mock.call("GET", "/_vismock/inventory/vm-601")["snapshots"] == []
    assert outcomes(
        mock, "CreateSnapshot_Task", "RevertToSnapshot_Task", "RemoveSnapshot_Task", "RemoveAllSnapshots_Task"
    ) == {
        "CreateSnapshot_Task": ["ok"] * 3,
        "RevertToSnapshot_Task": ["ok"],
        "RemoveSnapshot_Task": ["ok"],
        "RemoveAllSnapshots_Task": ["ok"],
    }


def test_vmware_vmware_vm_snapshot_takes_renames_and_removes(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "vm_snapshot.yml", tmp_path)
    taken = results["take"]
    assert taken["changed"] is True and taken["vm"] == {"moid": "vm-601", "name": "win1"}
    assert taken["result"]["state"] == "success" and taken["result"]["entity_name"] == "win1"
    first = taken["snapshot"]
    assert (first["name"], first["description"], first["state"]) == ("s1", "first", "poweredOn")  # memory
    assert results["take again"]["changed"] is False
    assert results["rename"]["changed"] is True and results["rename"]["renamed"] is True
    assert results["take a child"]["snapshot"]["state"] == "poweredOff"  # without memory
    assert results["remove the first by id"]["changed"] is True
    listed = results["list"]["guest_snapshots"]
    assert [s["name"] for s in listed["snapshots"]] == ["s2"]  # the child moved up to the root
    assert results["remove all by moid"]["changed"] is True
    assert mock.call("GET", "/_vismock/inventory/vm-601")["snapshots"] == []
    # (a snapshot is no ManagedEntity: the journal names no entity for its methods)
    assert outcomes(
        mock, "CreateSnapshot_Task", "RenameSnapshot", "RemoveSnapshot_Task", "RemoveAllSnapshots_Task"
    ) == {
        "CreateSnapshot_Task": ["ok"] * 2,  # the second "take" found s1 and changed nothing
        "RenameSnapshot": ["ok"],
        "RemoveSnapshot_Task": ["ok"],
        "RemoveAllSnapshots_Task": ["ok"],
    }


def test_vmware_guest_clones_a_template_and_deletes_the_clones(mock: Served, tmp_path: Path) -> None:
    results = play(mock, "clone.yml", tmp_path)
    off = results["clone powered off"]["instance"]
    assert results["clone powered off"]["changed"] is True
    assert (off["hw_name"], off["hw_power_status"], off["hw_is_template"]) == ("web-99", "poweredOff", False)
    assert (off["hw_guest_id"], off["hw_memtotal_mb"]) == ("rhel9_64Guest", 1024)  # the template's
    assert "[datastore1] web-99/web-99.vmx" in off["hw_files"]
    sized = results["clone with hardware"]["instance"]
    assert (sized["hw_processor_count"], sized["hw_memtotal_mb"]) == (2, 2048)  # the clone spec's config
    assert (sized["hw_esxi_host"], sized["hw_datastores"]) == ("esx03.lab.local", ["datastore2"])
    assert "[datastore2] web-98/web-98.vmx" in sized["hw_files"]
    assert results["clone again"]["changed"] is False  # it exists: nothing to do
    assert results["power on"]["instance"]["hw_power_status"] == "poweredOn"
    refused = results["delete powered on"]
    assert refused["failed"] is True and "web-98" in refused["msg"] and "'powered on'" in refused["msg"]
    assert results["delete with force"]["changed"] is True
    assert results["delete powered off"]["changed"] is True
    assert results["delete again"]["changed"] is False
    names = {entity["name"] for entity in mock.call("GET", "/_vismock/inventory")["entities"]}
    assert not {"web-98", "web-99"} & names and "rhel9-template" in names
    clones = calls(mock, "CloneVM_Task")
    assert [(call["entity"], call["outcome"]) for call in clones] == [("vm-900", "ok")] * 2  # rhel9-template
    (on,) = calls(mock, "PowerOnVM_Task")
    (off_call,) = calls(mock, "PowerOffVM_Task")  # force: off first, then destroyed
    destroyed = [call["entity"] for call in calls(mock, "Destroy_Task")]
    assert on["entity"] == off_call["entity"] == sized["moid"]
    assert destroyed == [sized["moid"], off["moid"]]
