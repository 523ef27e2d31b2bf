"""vim25's task methods, from the vim25 model (which scripts/vim25_model.py derives from pyVmomi)."""

from __future__ import annotations

from vismock.schemas import task_methods


def test_every_method_returning_a_task_is_known() -> None:
    methods = task_methods()
    assert len(methods) > 250
    assert all(method.name == name for name, method in methods.items())
    assert "PowerOn" not in methods


def test_the_seed_and_basic_vm_methods_are_known_with_vcenter_s_description_ids() -> None:
    methods = task_methods()
    assert methods["PowerOnVM_Task"].description_id == "VirtualMachine.powerOn"  # the seed's task-2675
    for name, description_id in [
        ("PowerOffVM_Task", "VirtualMachine.powerOff"),
        ("ResetVM_Task", "VirtualMachine.reset"),
        ("SuspendVM_Task", "VirtualMachine.suspend"),
    ]:
        assert (methods[name].type, methods[name].description_id) == ("VirtualMachine", description_id)


def test_description_ids_use_vmodl_names_and_types_wire_names() -> None:
    methods = task_methods()
    # vCenter's descriptionId names the vmodl type and method (HostVsanSystem is vim.host.VsanSystem).
    assert (methods["AddDisks_Task"].type, methods["AddDisks_Task"].description_id) == (
        "HostVsanSystem",
        "VsanSystem.addDisks",
    )
    assert methods["CheckHostPatch_Task"].description_id == "PatchManager.check"
    assert methods["CreateSnapshot_Task"].result == "VirtualMachineSnapshot"
    assert methods["PowerOnVM_Task"].result is None
