"""govc's snapshot commands (snapshot.create, snapshot.tree, snapshot.revert, snapshot.remove) and
vm.destroy, against ``vismock serve`` and the reference simulator side by side (their tasks end at
once on both: tests/data/soap/instant-operations.yaml). Where they differ, vCenter's documented
behaviour is what vismock does (docs/snapshots.md): a revert restores the snapshot's power state.
"""

from __future__ import annotations

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


def power_state(govc: Govc, vm: str) -> str:
    return govc.ok("object.collect", "-s", f"vm/{vm}", "runtime.powerState").strip()


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
