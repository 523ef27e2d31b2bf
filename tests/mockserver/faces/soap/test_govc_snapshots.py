"""govc's snapshot commands (snapshot.create, snapshot.tree, snapshot.revert, snapshot.remove),
vm.clone and vm.destroy, against ``vismock serve`` and the reference simulator side by side (their
tasks end at once on both: tests/data/soap/instant-operations.yaml). Where they differ, vCenter's
documented behaviour is what vismock does (docs/snapshots.md): a revert restores the snapshot's
power state, a clone gets MAC addresses of its own, a clone's name is unique in its folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DATA
from tests.support.tools import Govc, Target, mock_target, sim_target

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def instant_mock() -> Iterator[Target]:
    with mock_target("--tasks", str(DATA / "soap" / "instant-operations.yaml")) as target:
        yield target


@pytest.fixture(scope="module")
def simulator() -> Iterator[Target]:
    with sim_target() as target:
        yield target


@pytest.fixture(params=["vismock", "vcsim"])
def on(request: pytest.FixtureRequest) -> Target:
    target: Target = request.getfixturevalue("instant_mock" if request.param == "vismock" else "simulator")
    target.reset()
    return target


@pytest.fixture
def govc(on: Target, tmp_path: Path) -> Govc:
    return on.govc(tmp_path)


# Where each clones to: a datastore and a host (both servers have more than one of each, so govc
# asks for them), as the lead ran it on `vismock serve`.
PLACEMENT = {
    "vismock": ("datastore1", "/Datacenter/host/Cluster-A/esx01.lab.local"),
    "vcsim": ("LocalDS_0", "/DC0/host/DC0_H0/DC0_H0"),
}


def power_state(govc: Govc, vm: str) -> str:
    return read(govc, vm, "runtime.powerState")


def read(govc: Govc, vm: str, path: str) -> str:
    """One property of VM *vm* (a path below the datacenter's vm folder), as govc prints it."""
    return govc.ok("object.collect", "-s", f"vm/{vm}", path).strip()


def clone_arguments(on: Target, source: str, name: str, *options: str) -> list[str]:
    """``vm.clone -vm SOURCE -ds DS -host HOST OPTIONS NAME``."""
    datastore, host = PLACEMENT[on.name]
    return ["vm.clone", "-vm", source, "-ds", datastore, "-host", host, *options, name]


def clone(on: Target, govc: Govc, source: str, name: str, *options: str) -> None:
    govc.ok(*clone_arguments(on, source, name, *options))


def mac_address(govc: Govc, vm: str) -> str:
    found = re.search(r"MAC Address:\s+(\S+)", govc.ok("device.info", "-vm", vm, "ethernet-0"))
    assert found, f"{vm} has no MAC address"
    return found.group(1)


def test_snapshot_create_tree_revert_remove(on: Target, govc: Govc) -> None:
    vm = on.vms[1]  # powered on in both inventories: win1, DC0_H0_VM1
    govc.ok("snapshot.create", "-vm", vm, "-m=false", "off")
    govc.ok("snapshot.create", "-vm", vm, "on")  # with memory (govc's default)
    tree = govc.lines("snapshot.tree", "-vm", vm)
    assert [line.strip() for line in tree] == ["off", "on", "."]  # "." marks the current one
    govc.ok("snapshot.revert", "-vm", vm, "off")
    if on.served is not None:  # vCenter: the snapshot without memory was taken powered off
        assert power_state(govc, vm) == "poweredOff"
        govc.ok("vm.power", "-on", vm)
    else:  # the simulator only moves the current snapshot
        assert power_state(govc, vm) == "poweredOn"
    govc.ok("snapshot.revert", "-vm", vm, "on")
    assert power_state(govc, vm) == "poweredOn"
    govc.ok("snapshot.remove", "-vm", vm, "on")
    assert [line.strip() for line in govc.lines("snapshot.tree", "-vm", vm)] == ["off", "."]
    govc.ok("snapshot.remove", "-vm", vm, "*")
    assert govc.lines("snapshot.tree", "-vm", vm) == []


def test_snapshot_tree_with_ids_and_descriptions(on: Target, govc: Govc) -> None:
    vm = on.vms[1]
    govc.ok("snapshot.create", "-vm", vm, "-d", "before the change", "base")
    (line, current) = govc.lines("snapshot.tree", "-vm", vm, "-i", "-D")
    assert line.startswith("[snapshot-") and line.rstrip().endswith("base")
    assert current.strip().endswith(".")
    govc.ok("snapshot.remove", "-vm", vm, "base")


def test_vm_destroy(on: Target, govc: Govc) -> None:
    vm = on.vms[-1]  # legacy-01 (suspended) on vismock, DC0_C0_RP0_VM1 on the simulator
    govc.ok("vm.destroy", vm)  # govc powers it off first, as it must be off to be destroyed
    gone = govc.run("vm.info", "-r", vm)
    assert vm not in gone.stdout
    assert vm not in govc.ok("find", "-type", "m")


def test_vm_clone_then_vm_destroy_of_the_clone(on: Target, govc: Govc) -> None:
    source = on.vms[1]
    datastore, _host = PLACEMENT[on.name]
    clone(on, govc, source, "clone-a", "-on=false")
    assert govc.lines("find", "-type", "m", "-name", "clone-a") == [f"/{on.datacenter}/vm/clone-a"]
    assert power_state(govc, "clone-a") == "poweredOff"
    assert read(govc, "clone-a", "config.files.vmPathName") == f"[{datastore}] clone-a/clone-a.vmx"
    assert read(govc, "clone-a", "config.uuid") != read(govc, source, "config.uuid")
    assert read(govc, "clone-a", "config.hardware.memoryMB") == read(govc, source, "config.hardware.memoryMB")
    disks = re.findall(r"File:\s+(.+)", govc.ok("device.info", "-vm", "clone-a", "disk-*"))
    assert disks and all(disk.startswith(f"[{datastore}] clone-a/clone-a") for disk in disks)
    govc.ok("vm.destroy", "clone-a")
    assert govc.lines("find", "-type", "m", "-name", "clone-a") == []
    assert power_state(govc, source) == "poweredOn"  # the source is untouched


def test_vm_clone_powers_the_clone_on_by_default(on: Target, govc: Govc) -> None:
    clone(on, govc, on.vms[1], "clone-b")  # -on=true: govc's own PowerOnVM_Task after the clone
    assert power_state(govc, "clone-b") == "poweredOn"
    govc.ok("vm.destroy", "clone-b")  # powered off by govc first, then destroyed
    assert govc.lines("find", "-type", "m", "-name", "clone-b") == []


def test_vm_clone_makes_a_template_and_a_vm_from_it(on: Target, govc: Govc) -> None:
    clone(on, govc, on.vms[1], "gold-c", "-template")
    assert (read(govc, "gold-c", "config.template"), power_state(govc, "gold-c")) == ("true", "poweredOff")
    clone(on, govc, "gold-c", "from-gold-c", "-on=false")
    assert read(govc, "from-gold-c", "config.template") == "false"
    assert read(govc, "from-gold-c", "config.guestId") == read(govc, "gold-c", "config.guestId")


def test_a_clone_gets_a_mac_address_of_its_own(on: Target, govc: Govc) -> None:
    source = on.vms[1]
    clone(on, govc, source, "clone-d", "-on=false")
    if on.served is not None:  # vCenter: a generated MAC is changed when it conflicts with a registered VM's
        assert mac_address(govc, "clone-d") != mac_address(govc, source)
    else:  # the simulator copies the source's
        assert mac_address(govc, "clone-d") == mac_address(govc, source)


def test_a_clone_to_a_name_taken_in_the_folder(on: Target, govc: Govc) -> None:
    source = on.vms[1]
    clone(on, govc, source, "clone-e", "-on=false")
    refused = govc.run(*clone_arguments(on, source, "clone-e", "-on=false"))
    assert refused.returncode == 1
    forced = govc.run(*clone_arguments(on, source, "clone-e", "-on=false", "-force"))  # no check of files
    found = govc.lines("find", "-type", "m", "-name", "clone-e")
    if on.served is not None:  # vCenter: DuplicateName, from the server, with or without -force
        assert "The name 'clone-e' already exists." in refused.stderr
        assert forced.returncode == 1 and "The name 'clone-e' already exists." in forced.stderr
        assert found == [f"/{on.datacenter}/vm/clone-e"]
        # (govc's own check of the files finds nothing: vismock serves no Datastore.browser)
    else:  # govc's own check finds the files; with -force the simulator makes a second clone-e
        datastore, _host = PLACEMENT[on.name]
        assert f"file [{datastore}] clone-e/clone-e.vmx already exists" in refused.stderr
        assert forced.returncode == 0
        assert found == [f"/{on.datacenter}/vm/clone-e"] * 2


def test_vm_clone_with_cpus_memory_or_a_note_needs_reconfig_vm_task(on: Target, govc: Govc) -> None:
    """govc applies -c, -m and -annotation after the clone with ReconfigVM_Task, which vismock does
    not serve yet (docs/soap.md): the clone is made, with its source's hardware, and govc fails."""
    done = govc.run(*clone_arguments(on, on.vms[1], "clone-f", "-on=false", "-c", "4", "-m", "2048"))
    if on.served is not None:
        assert done.returncode == 1
        assert "Method 'ReconfigVM_Task' is not implemented by vismock" in done.stderr
        assert read(govc, "clone-f", "config.hardware.numCPU") == read(
            govc, on.vms[1], "config.hardware.numCPU"
        )
    else:
        assert done.returncode == 0, done.stderr
        assert read(govc, "clone-f", "config.hardware.numCPU") == "4"
        assert read(govc, "clone-f", "config.hardware.memoryMB") == "2048"
