"""The objects clients read, through pyVmomi, from vismock (``--tasks vcsim``: the reference
simulator's standard names) and from the reference simulator itself (govmomi's vcsim 0.24): for
each of a VM, a host, a datastore, a cluster, a resource pool and a network, the same property
paths, flattened to every value below them with its pyVmomi type.

Where the simulator has a value, vismock has one of the same type at the same path, except the
differences pinned in tests/data/vcsim/object-differences.yaml, each with vCenter's documented
behaviour as the judge (docs/inventory.md lists them). Values vismock has and the simulator
does not are allowed (it fills in more of what vCenter sends).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import VmomiSupport

from tests.support import DATA
from tests.support.soap import live_server, make_app
from tests.support.vcsim import running_vcsim, vcsim_address

pytestmark = pytest.mark.slow

OBJECTS = {
    "DC0/vm/DC0_H0_VM0": (
        "name config summary guest runtime layout layoutEx storage datastore network resourcePool parent"
        " capability availableField"
    ),
    "DC0/host/DC0_H0/DC0_H0": (
        "name summary hardware.systemInfo hardware.cpuInfo hardware.memorySize runtime vm"
    ),
    "DC0/host/DC0_C0": "name summary host resourcePool datastore network",
    "DC0/host/DC0_C0/Resources": "name summary runtime config owner vm",
    "DC0/datastore/LocalDS_0": "name summary info host vm capability",
    "DC0/network/VM Network": "name summary",
}
DIFFERENCES = DATA / "vcsim" / "object-differences.yaml"


DEPTH = 3  # config.hardware.numCPU: what a client's property path names, not every nested field


def flattened(value: Any, path: str, found: dict[str, str], depth: int = 1) -> None:
    """Every value below *value* by its path, to :data:`DEPTH` names (an array's items by their
    type: ``config.hardware.device[VirtualDisk]``), with its pyVmomi type's name."""
    if value is None or (isinstance(value, list) and not value):
        return
    found[path] = type(value).__name__
    if isinstance(value, list):
        for item in value:
            found[f"{path}[{type(item).__name__.rsplit('.', 1)[-1]}]"] = type(item).__name__
    elif isinstance(value, VmomiSupport.DataObject) and depth < DEPTH:
        for prop in value._GetPropertyList():
            flattened(getattr(value, prop.name, None), f"{path}.{prop.name}", found, depth + 1)


def read_objects(si: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    index = si.content.searchIndex
    for inventory_path, paths in OBJECTS.items():
        entity = index.FindByInventoryPath(inventory_path)
        assert entity is not None, inventory_path
        for path in paths.split():
            value: Any = entity
            for segment in path.split("."):
                value = getattr(value, segment)
            flattened(value, f"{inventory_path}:{path}", found, path.count(".") + 1)
    return found


@pytest.fixture(scope="module")
def on_mock() -> Iterator[dict[str, str]]:
    with live_server(make_app(VISMOCK_TASKS="vcsim")) as live:
        si = SmartConnect(protocol="http", host=live.host, port=live.port, user="vismock", pwd="vismock")
        try:
            yield read_objects(si)
        finally:
            Disconnect(si)
            si._stub.DropConnections()


@pytest.fixture(scope="module")
def on_vcsim() -> Iterator[dict[str, str]]:
    with running_vcsim() as url:
        host, port = vcsim_address(url)
        si = SmartConnect(protocol="http", host=host, port=port, user="user", pwd="pass")
        try:
            yield read_objects(si)
        finally:
            Disconnect(si)
            si._stub.DropConnections()


def test_what_the_simulator_has_vismock_has_with_the_same_types(
    on_mock: dict[str, str], on_vcsim: dict[str, str]
) -> None:
    differences = {
        path: f"vismock {on_mock.get(path, 'unset')}, vcsim {kind}"
        for path, kind in sorted(on_vcsim.items())
        if on_mock.get(path) != kind
    }
    pinned = yaml.safe_load(DIFFERENCES.read_text(encoding="utf-8"))
    assert differences == pinned, yaml.safe_dump(differences, sort_keys=True, width=200)


def test_vismock_has_what_ansible_reads_that_the_simulator_leaves_out(
    on_mock: dict[str, str], on_vcsim: dict[str, str]
) -> None:
    """vmware_vm_info's datastore_url, vmware_guest_info's guest facts: vCenter sends them
    (VirtualMachineConfigInfo.datastoreUrl, GuestInfo.guestFullName, VirtualMachineSummary's
    guest.toolsRunningStatus), the simulator does not, vismock does."""
    vm = "DC0/vm/DC0_H0_VM0"
    for path in ("config.datastoreUrl", "guest.guestFullName", "summary.guest.toolsRunningStatus"):
        assert f"{vm}:{path}" in on_mock, path
        assert f"{vm}:{path}" not in on_vcsim, path
