"""The vim25 model: generated from pyVmomi, complete, and answering by vim25's rules."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.support import ROOT
from vismock.mockserver.vim25 import model
from vismock.schemas import schema_directory

SCRIPT = ROOT / "scripts" / "vim25_model.py"
XS = {"xs": "http://www.w3.org/2001/XMLSchema"}


def test_the_shipped_model_is_what_pyvmomi_says() -> None:
    # A fresh interpreter: the check must not depend on what this process loaded of pyVmomi.
    checked = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_check_fails_on_a_stale_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = json.loads((schema_directory() / "vim25" / "model.json").read_text())
    del stale["data"]["TaskInfo"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(stale))
    main = runpy.run_path(str(SCRIPT))["main"]
    monkeypatch.setitem(main.__globals__, "MODEL", path)
    assert main(["--check"]) == 1
    assert "is out of date: run python scripts/vim25_model.py" in capsys.readouterr().err
    assert main([]) == 0 and main(["--check"]) == 0  # rewritten: current again
    assert json.loads(path.read_text())["data"]["TaskInfo"]


def test_it_is_the_whole_of_vim25() -> None:
    vim25 = model()
    assert len(list(vim25.data_type_names())) > 3000
    assert len(list(vim25.enum_names())) > 400
    assert len(list(vim25.managed_type_names())) > 150
    assert len(vim25.task_methods()) > 250


def test_kinds_and_wire_names() -> None:
    vim25 = model()
    kinds = {name: vim25.kind(name) for name in ("string", "dateTime", "anyType", "base64Binary")}
    assert set(kinds.values()) == {"primitive"}
    assert vim25.kind("VirtualMachineConfigInfo") == "data"
    assert vim25.kind("VirtualMachinePowerState") == "enum"
    assert vim25.kind("VirtualMachine") == vim25.kind("ManagedObjectReference") == "managed"
    assert vim25.enum("TaskInfoState").values == ("queued", "running", "success", "error")
    with pytest.raises(KeyError, match=r"'TaskInf' is not a vim25 data type \(did you mean TaskInfo"):
        vim25.data_type("TaskInf")
    with pytest.raises(KeyError, match="not a vim25 type"):
        vim25.kind("NoSuchType")


def test_fields_are_inherited_first_in_wire_order() -> None:
    names = [field.name for field in model().fields("TaskInfo")]
    assert names[:4] == ["dynamicType", "dynamicProperty", "key", "task"]  # DynamicData's first
    assert names.index("state") < names.index("error") < names.index("result") < names.index("reason")
    error = model().field("TaskInfo", "error")
    assert error is not None and (error.type, error.optional) == ("LocalizedMethodFault", True)
    locked = model().field("TaskInfo", "locked")
    assert locked is not None and (locked.type, locked.array) == ("ManagedEntity", True)
    assert model().field("TaskInfo", "progressDetails") is not None
    progress = model().field("TaskInfo", "progressDetails")
    assert progress is not None and progress.version == "8.0.1.0"


def test_the_wire_wins_where_pyvmomi_s_python_model_differs() -> None:
    vim25 = model()
    # A fault in a data object travels wrapped; MethodFault is a root with vim25's two fields.
    assert [field.name for field in vim25.fields("MethodFault")] == ["faultCause", "faultMessage"]
    assert vim25.base("MethodFault") is None
    assert [(field.name, field.type) for field in vim25.data_type("LocalizedMethodFault").own_fields] == [
        ("fault", "MethodFault"),
        ("localizedMessage", "string"),
    ]
    assert vim25.base("LocalizedMethodFault") == "DynamicData"
    # Paths, type and method names are strings; a link is its object's key.
    spec = vim25.field("PropertySpec", "type")
    assert spec is not None and spec.type == "string"
    lun = vim25.field("HostMultipathInfoPath", "lun")
    assert lun is not None and lun.type == "string"
    # pyVmomi's property accessor is a method of every object.
    fetch = vim25.method("VirtualMachine", "Fetch")
    assert fetch is not None and fetch.returns is not None and fetch.returns.type == "anyType"


def test_methods_are_found_on_supertypes_with_their_signatures() -> None:
    vim25 = model()
    snapshot = vim25.method("VirtualMachine", "CreateSnapshot_Task")
    assert snapshot is not None
    assert [(param.name, param.type, param.optional) for param in snapshot.params] == [
        ("name", "string", False),
        ("description", "string", True),
        ("memory", "boolean", False),
        ("quiesce", "boolean", False),
    ]
    assert snapshot.returns is not None and snapshot.returns.type == "Task"
    assert snapshot.task_result is not None and snapshot.task_result.type == "VirtualMachineSnapshot"
    assert snapshot.description_id == "VirtualMachine.createSnapshot"
    assert "SnapshotFault" in snapshot.faults
    destroy = vim25.method("VirtualMachine", "Destroy_Task")
    assert destroy is not None and destroy.declared_by == "ManagedEntity"
    assert vim25.method("VirtualMachine", "NoSuchMethod") is None
    assert vim25.method("NoSuchType", "Destroy_Task") is None
    login = vim25.method("SessionManager", "Login")
    assert login is not None and [param.secret for param in login.params] == [False, True, False]
    retrieve = vim25.method("PropertyCollector", "RetrievePropertiesEx")
    assert retrieve is not None and retrieve.returns is not None
    assert (retrieve.returns.type, retrieve.returns.optional) == ("RetrieveResult", True)


def test_task_methods_name_their_results() -> None:
    tasks = model().task_methods()
    assert tasks["CreateSnapshot_Task"] == ("VirtualMachine", "VirtualMachineSnapshot")
    assert tasks["CloneVM_Task"] == ("VirtualMachine", "VirtualMachine")
    assert tasks["PowerOnVM_Task"] == ("VirtualMachine", None)
    assert tasks["CheckCompatibility_Task"] == ("VirtualMachineCompatibilityChecker", "CheckResult[]")
    assert tasks["VsanClusterReconfig"][0] == "VsanVcClusterConfigSystem"  # a Task need not be named *_Task
    method = model().task_method("PowerOffVM_Task")
    assert method is not None and method.description_id == "VirtualMachine.powerOff"


def test_subtypes() -> None:
    vim25 = model()
    assert vim25.is_subtype("ClusterComputeResource", "ManagedEntity")
    assert vim25.is_subtype("VirtualDisk", "VirtualDevice")
    assert vim25.is_subtype("VirtualMachine", "ManagedObjectReference")
    assert not vim25.is_subtype("VirtualDevice", "VirtualDisk")
    assert not vim25.is_subtype("Task", "ManagedEntity")
    assert vim25.lineage("StoragePod") == (
        "StoragePod",
        "Folder",
        "ManagedEntity",
        "ExtensibleManagedObject",
        "ManagedObject",
    )
    assert {"VirtualDisk", "VirtualE1000", "VirtualDevice"} <= vim25.subtypes("VirtualDevice")
    assert {"InvalidPowerState", "TaskInProgress", "MethodFault", "SystemError"} <= vim25.fault_types()
    assert "LocalizedMethodFault" not in vim25.fault_types() and "TaskInfo" not in vim25.fault_types()


def test_path_types() -> None:
    vim25 = model()
    power = vim25.path_type("VirtualMachine", "runtime.powerState")
    assert power is not None and power.type == "VirtualMachinePowerState"
    devices = vim25.path_type("VirtualMachine", "config.hardware.device")
    assert devices is not None and (devices.type, devices.array) == ("VirtualDevice", True)
    assert vim25.path_type("VirtualMachine", "config.hardware.device.key") is None  # no array indexing
    assert vim25.path_type("VirtualMachine", "parent.name") is None  # no following references
    assert vim25.path_type("Task", "name") is None
    assert vim25.path_type("TaskInfo", "reason") is not None  # below a data type too
    name = vim25.path_type("ClusterComputeResource", "name")
    assert name is not None and name.type == "string"  # inherited from ManagedEntity


# -- the trimmed schema the project kept by hand is covered -------------------------------------------

# What the trimmed schema held that vim25 does not: its own wrappers and one fault name of its own.
NOT_VIM25 = {
    "EmptyResponse": "the schema's type of a void method's response element",
    "TaskResponse": "the schema's type of a task method's response element",
    "RequestTimeout": "the adapter's name for a vCenter that does not answer; vim25 has no such fault",
}
# Where the trimmed schema guessed a field's type wrong (the mock never sends these).
GUESSED_WRONG = {
    "GuestInfo.guestRebootStatus": "typed string there; vim25 9.1 made it a VirtualMachineGuestRebootStatus",
}


def _local(qualified: str) -> str:
    return qualified.rpartition(":")[2]


def _same_type(trimmed: str, declared: str) -> bool:
    """Whether the trimmed schema's type of a field is the model's, given what the trimmed schema
    loosened: an enum it typed string, a data object anyType, a reference ManagedObjectReference."""
    kind = model().kind(declared)
    return (
        trimmed == declared
        or (trimmed == "string" and kind == "enum")
        or (trimmed == "anyType" and kind == "data")
        or (trimmed == "ManagedObjectReference" and kind == "managed")
    )


def test_every_type_and_field_of_the_trimmed_schema_is_in_the_model() -> None:
    path = schema_directory() / "vim25" / "vim25.xsd"
    root = etree.parse(str(path)).getroot()
    missing: list[str] = []
    checked = 0
    for complex_type in root.iterfind("xs:complexType", XS):
        name = str(complex_type.get("name"))
        if name.startswith("ArrayOf") or name == "ManagedObjectReference" or name in NOT_VIM25:
            continue
        if model().kind_or_none(name) != "data":
            missing.append(f"type {name}")
            continue
        for element in complex_type.iterfind(".//xs:sequence/xs:element", XS):
            field = model().field(name, str(element.get("name")))
            trimmed = _local(str(element.get("type") or "xs:anyType"))
            many = element.get("maxOccurs") == "unbounded"
            checked += 1
            wrong = field is None or field.array != many or not _same_type(trimmed, field.type)
            if wrong and f"{name}.{element.get('name')}" not in GUESSED_WRONG:
                missing.append(f"{name}.{element.get('name')}: {trimmed}{'[]' if many else ''}")
    for simple_type in root.iterfind("xs:simpleType", XS):
        values = {str(value.get("value")) for value in simple_type.iterfind(".//xs:enumeration", XS)}
        name = str(simple_type.get("name"))
        if model().kind_or_none(name) != "enum" or not values <= set(model().enum(name).values):
            missing.append(f"enum {name}")
    assert checked > 150
    assert missing == []
