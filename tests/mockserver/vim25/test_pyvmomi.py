"""Between pyVmomi and vim25 values; and pyVmomi reading what the model renders (and the reverse)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from lxml import etree
from pyVmomi import SoapAdapter, VmomiSupport, vim

from vismock.mockserver.vim25 import xml
from vismock.mockserver.vim25.pyvmomi import from_pyvmomi, to_pyvmomi
from vismock.mockserver.vim25.values import Data, MoRef, Typed
from vismock.testing.vim25 import data_objects

support: Any = VmomiSupport
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACES = f'xmlns="{xml.VIM25}" xmlns:xsi="{xml.XSI}" xmlns:xsd="{xml.XSD}"'


def failed_task() -> Any:
    return vim.TaskInfo(
        key="task-1",
        task=vim.Task("task-1"),
        descriptionId="VirtualMachine.powerOn",
        entity=vim.VirtualMachine("vm-1"),
        state="error",
        cancelled=False,
        cancelable=False,
        error=vim.fault.InvalidPowerState(existingState="poweredOn", msg="Powered on"),
        result=support.GetVmodlType("long")(5),
        reason=vim.TaskReasonUser(userName="root"),
        queueTime=NOW,
        eventChainId=1,
    )


def test_a_pyvmomi_task_info_as_a_vim25_value() -> None:
    assert from_pyvmomi(failed_task()) == Data(
        "TaskInfo",
        key="task-1",
        task=MoRef("Task", "task-1"),
        descriptionId="VirtualMachine.powerOn",
        entity=MoRef("VirtualMachine", "vm-1"),
        state="error",
        cancelled=False,
        cancelable=False,
        # pyVmomi's MethodFault and its msg: on the wire, and here, a LocalizedMethodFault
        error=Data(
            "LocalizedMethodFault",
            fault=Data("InvalidPowerState", existingState="poweredOn"),
            localizedMessage="Powered on",
        ),
        result=Typed("long", 5),  # pyVmomi's long keeps its wire type
        reason=Data("TaskReasonUser", userName="root"),
        queueTime=NOW,
        eventChainId=1,
    )


def test_and_back_to_pyvmomi() -> None:
    stub = object()
    back = to_pyvmomi(from_pyvmomi(failed_task()), stub)
    assert isinstance(back, vim.TaskInfo) and isinstance(back.error, vim.fault.InvalidPowerState)
    assert (back.error.msg, back.error.existingState, back.entity._moId) == (
        "Powered on",
        "poweredOn",
        "vm-1",
    )
    assert back.entity._stub is stub
    assert type(back.result) is support.GetVmodlType("long") and back.result == 5


def test_primitives_lists_and_pyvmomi_s_own_kinds() -> None:
    spec = support.GetVmodlType("vmodl.query.PropertyCollector.PropertySpec")(
        type=vim.VirtualMachine, pathSet=["name"]
    )
    assert from_pyvmomi(spec) == Data("PropertySpec", type="VirtualMachine", pathSet=("name",))  # a TypeName
    assert from_pyvmomi([vim.VirtualMachine("vm-1"), vim.HostSystem("host-1")]) == (
        MoRef("VirtualMachine", "vm-1"),
        MoRef("HostSystem", "host-1"),
    )
    assert from_pyvmomi(vim.VirtualMachinePowerState.poweredOn) == "poweredOn"
    assert type(from_pyvmomi(vim.VirtualMachinePowerState.poweredOn)) is str
    option = vim.option.OptionValue(key="k", value=support.GetVmodlType("string[]")(["a"]))
    assert from_pyvmomi(option) == Data("OptionValue", key="k", value=("a",))
    assert to_pyvmomi(Typed("ArrayOfString", ())) == []
    assert to_pyvmomi(Typed("VirtualMachinePowerState", "poweredOff")) == "poweredOff"


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _named_by_pyvmomi(value: Any) -> Any:
    """*value* with a real type or method name in each field pyVmomi holds as a type or a method
    (a string on the wire, but pyVmomi resolves it, and refuses a name it does not know)."""
    if isinstance(value, tuple):
        return tuple(_named_by_pyvmomi(item) for item in value)
    if not isinstance(value, Data):
        return value
    info = support.GetWsdlType(xml.VIM25, value.type)
    changes = {}
    for name, item in value.fields().items():
        declared = info._GetPropertyInfo(name).type if value.type != "LocalizedMethodFault" else object
        item_class = declared.Item if issubclass(declared, list) else declared
        replacement = {type: "VirtualMachine", support.ManagedMethod: "PowerOnVM_Task"}.get(item_class)
        if replacement is not None:
            changes[name] = tuple(replacement for _ in item) if isinstance(item, tuple) else replacement
        else:
            changes[name] = _named_by_pyvmomi(item)
    return value.replace(**changes)


# pyVmomi reads some legal vim25 its own way (a fault outside a LocalizedMethodFault as one, no
# DynamicData fields on a LocalizedMethodFault, names of types and methods it resolves): these
# draw only what vCenter sends.
VCENTER_LIKE = data_objects(depth=1, like_vcenter=True).map(_named_by_pyvmomi)


@SETTINGS
@given(value=VCENTER_LIKE)
def test_pyvmomi_reads_what_the_model_renders(value: Data) -> None:
    rendered = xml.render_typed("obj", value, "anyType")
    document = rendered.replace("<obj ", f"<obj {NAMESPACES} ", 1)
    assert from_pyvmomi(SoapAdapter.Deserialize(document.encode(), object)) == value


@SETTINGS
@given(value=VCENTER_LIKE)
def test_the_model_reads_what_pyvmomi_writes(value: Data) -> None:
    assume("\\r" not in repr(value))  # pyVmomi writes a carriage return raw: XML reads it as a newline
    written = SoapAdapter.Serialize(to_pyvmomi(value), version="vim.version.v9_1_1_0")
    assert xml.parse_value(etree.fromstring(written), "anyType") == value
