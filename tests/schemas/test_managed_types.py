"""The shipped table of vim25 managed object types is what pyVmomi's type model says today."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT
from vismock.schemas import managed_lineage, managed_property_type, managed_types


def test_the_table_is_what_pyvmomi_says() -> None:
    # In a fresh interpreter: pyVmomi resolves some property types lazily, so a process that has
    # used it (this one) may name them differently (ManagedObject[] for Task[]).
    script = ROOT / "scripts" / "vim25_managed_types.py"
    checked = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert len(managed_types()) > 150


def test_subtypes_and_inherited_properties() -> None:
    assert managed_lineage("ClusterComputeResource")[:3] == (
        "ClusterComputeResource",
        "ComputeResource",
        "ManagedEntity",
    )
    assert "Folder" in managed_lineage("StoragePod")
    assert managed_lineage("ListView")[-1] == "ManagedObject"
    assert managed_property_type("VirtualMachine", "name") == "string"  # from ManagedEntity
    assert managed_property_type("ClusterComputeResource", "host") == "HostSystem[]"
    assert managed_property_type("Task", "name") is None  # a Task has no name: vCenter's InvalidProperty
    assert managed_property_type("NoSuchType", "name") is None
