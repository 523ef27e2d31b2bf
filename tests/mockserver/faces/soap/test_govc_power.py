"""govc's VM commands (vm.power, vm.info, tasks listing the new task) and govmomi's task waiter on
a power task, against ``vismock serve`` and the reference simulator side by side.

Each test runs against both (``-k vcsim``: the simulator alone) and follows vCenter where the
simulator differs (docs/power.md): the task is named after the method (PowerOffVM_Task, which govc
prints as PowerOffVM), its target is the VM's name, its initiator the session's user, and powering
off a VM that is off fails in the task with InvalidPowerState and vCenter's message.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import Govc, Target, build_go_program, recent_tasks


@pytest.fixture(scope="module")
def waiter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_program("vismockwait", tmp_path_factory.mktemp("go"))


def _power_state(govc: Govc, vm: str) -> str:
    return govc.ok("object.collect", "-s", f"vm/{vm}", "runtime.powerState").strip()


def _newest_task_row(govc: Govc) -> list[str]:
    return govc.lines("tasks")[-1].split()


def test_power_off_and_on_through_govc(target: Target, govc: Govc, waiter: Path) -> None:
    vm = target.vms[1]  # powered on in both inventories: win1, DC0_H0_VM1
    assert _power_state(govc, vm) == "poweredOn"

    off = govc.ok("vm.power", "-off", vm)
    assert re.fullmatch(r"Powering off VirtualMachine:vm-\d+\.\.\. OK\n", off)
    assert _power_state(govc, vm) == "poweredOff"
    row = _newest_task_row(govc)
    if target.served is not None:  # vCenter's words
        assert row[:3] == ["PowerOffVM", vm, "vismock"] and "success" in row
    else:  # the simulator names the task PowerOff, its target by moref, its initiator vcsim
        assert row[0] == "PowerOff" and row[1].startswith("vm-") and row[2] == "vcsim"
        assert "success" in row

    again = govc.run("vm.power", "-off", vm)
    assert again.returncode == 1
    if target.served is not None:
        assert (
            "The attempted operation cannot be performed in the current state (Powered off)" in again.stderr
        )
    else:
        assert "InvalidPowerState" in again.stderr
    failed = recent_tasks(govc)[-1]
    waited = subprocess.run(
        [str(waiter), "-u", target.url, "-task", failed], capture_output=True, text=True, timeout=60
    )
    seen = json.loads(waited.stdout)
    assert (waited.returncode, seen["state"], seen["fault"]) == (1, "error", "InvalidPowerState")

    on = govc.ok("vm.power", "-on", vm)
    assert re.fullmatch(r"Powering on VirtualMachine:vm-\d+\.\.\. OK\n", on)
    assert _power_state(govc, vm) == "poweredOn"


def test_vm_info(target: Target, govc: Govc) -> None:
    vm = target.vms[0]
    info = {
        key.strip(): value.strip()
        for key, value in (line.split(":", 1) for line in govc.lines("vm.info", vm) if ":" in line)
    }
    assert info["Name"] == vm
    assert info["Path"] == f"/{target.datacenter}/vm/{vm}"
    assert info["Power state"] == "poweredOn"
    assert info["Host"] == ("esx01.lab.local" if target.served is not None else "DC0_H0")


def test_a_power_task_is_waited_for_without_govc_waiting(target: Target, govc: Govc, waiter: Path) -> None:
    vm = target.vms[1]
    govc.ok("vm.power", "-off", "-wait=false", vm)  # the method only: no waiting in govc
    task = recent_tasks(govc)[-1]
    waited = subprocess.run(
        [str(waiter), "-u", target.url, "-task", task], capture_output=True, text=True, timeout=60
    )
    assert (waited.returncode, json.loads(waited.stdout)["state"]) == (0, "success")
    govc.ok("vm.power", "-on", vm)
