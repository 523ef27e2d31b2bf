"""The shipped table of vim25 task methods is what pyVmomi's type model says today."""

from __future__ import annotations

import runpy

from tests.support import ROOT
from vismock.schemas import task_methods


def test_every_method_in_the_table_is_what_pyvmomi_says() -> None:
    # A subset, not equality: a newer pyVmomi may know methods the table does not list yet
    # (scripts/vim25_task_methods.py adds them), but nothing listed may disagree with it.
    script = runpy.run_path(str(ROOT / "scripts" / "vim25_task_methods.py"))
    from_pyvmomi = script["task_methods"]()
    shipped = {name: (method.type, method.description_id) for name, method in task_methods().items()}
    assert {name: from_pyvmomi.get(name) for name in shipped} == shipped
    assert len(shipped) > 200


def test_the_seed_and_basic_vm_methods_are_known_with_vcenter_s_description_ids() -> None:
    methods = task_methods()
    assert methods["PowerOnVM_Task"].description_id == "VirtualMachine.powerOn"  # the seed's task-2675
    for name, description_id in [
        ("PowerOffVM_Task", "VirtualMachine.powerOff"),
        ("ResetVM_Task", "VirtualMachine.reset"),
        ("SuspendVM_Task", "VirtualMachine.suspend"),
    ]:
        assert (methods[name].type, methods[name].description_id) == ("VirtualMachine", description_id)
    assert "PowerOn" not in methods and all(name.endswith("_Task") for name in methods)
