"""vismock.schemas' vim25 answers about managed types come from the vim25 model."""

from __future__ import annotations

from vismock.schemas import entity_types, fault_fields, fault_types, managed_lineage, managed_property_type


def test_subtypes_and_inherited_properties() -> None:
    assert managed_lineage("ClusterComputeResource")[:3] == (
        "ClusterComputeResource",
        "ComputeResource",
        "ManagedEntity",
    )
    assert "Folder" in managed_lineage("StoragePod")
    assert managed_lineage("ListView")[-1] == "ManagedObject"
    assert managed_lineage("NoSuchType") == ("NoSuchType",)
    assert managed_property_type("VirtualMachine", "name") == "string"  # from ManagedEntity
    assert managed_property_type("ClusterComputeResource", "host") == "HostSystem[]"
    assert managed_property_type("ContainerView", "type") == "string[]"  # TypeName: a string on the wire
    assert managed_property_type("Task", "name") is None  # a Task has no name: vCenter's InvalidProperty
    assert managed_property_type("NoSuchType", "name") is None
    assert managed_property_type("TaskInfo", "key") is None  # a data type, not a managed one


def test_every_vim25_fault_type_with_its_fields() -> None:
    assert len(fault_types()) > 650
    assert {"InvalidPowerState", "VAppConfigFault", "MethodFault"} <= fault_types()
    assert "RequestTimeout" not in fault_types()  # the adapter's own name: vim25 has no such fault
    fields = fault_fields("InvalidPowerState")
    assert [(field.name, field.type, field.required) for field in fields] == [
        ("requestedState", "VirtualMachinePowerState", False),
        ("existingState", "VirtualMachinePowerState", True),
    ]
    (task,) = fault_fields("TaskInProgress")
    assert task.is_reference and task.type == "Task"
    assert fault_fields("NotAFault") == () and fault_fields("TaskInfo") == ()


def test_entity_types_are_managed_entities_the_adapter_can_name() -> None:
    assert all("ManagedEntity" in managed_lineage(name) for name in entity_types())
