"""vim25 values: data objects checked against the model when built, immutable, and their JSON form."""

from __future__ import annotations

import copy
import pickle
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vismock.codec import XsDateTime
from vismock.mockserver.vim25.values import (
    Data,
    MoRef,
    Typed,
    canonical_any,
    entity_type_of,
    from_json,
    to_json,
    wire_type_of,
)
from vismock.testing.vim25 import any_values, data_objects

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
TASK = MoRef("Task", "task-1")
VM = MoRef("VirtualMachine", "vm-1")


def task_info(**changes: Any) -> Data:
    fields: dict[str, Any] = {
        "key": "task-1",
        "task": TASK,
        "descriptionId": "VirtualMachine.powerOn",
        "entity": VM,
        "state": "running",
        "cancelled": False,
        "cancelable": True,
        "reason": Data("TaskReasonUser", userName="root"),
        "queueTime": NOW,
        "eventChainId": 7,
    }
    return Data("TaskInfo", **{**fields, **changes})


def test_fields_read_as_attributes_and_by_name() -> None:
    info = task_info()
    assert (info.type, info.state, info.entity, info.error) == ("TaskInfo", "running", VM, None)
    assert info["key"] == "task-1" and info["progress"] is None
    spec = Data("PropertySpec", type="VirtualMachine", pathSet=["name"])
    assert spec.type == "PropertySpec" and spec["type"] == "VirtualMachine"  # a field named like a method
    with pytest.raises(AttributeError, match=re.escape("TaskInfo has no field 'stat' (did you mean state")):
        _ = info.stat
    with pytest.raises(KeyError):
        _ = info["stat"]


def test_fields_are_kept_in_wire_order_whatever_the_order_given() -> None:
    info = Data("TaskInfo", eventChainId=1, state="queued", key="k", queueTime=NOW)
    assert list(info.fields()) == ["key", "state", "queueTime", "eventChainId"]


def test_unset_and_empty_are_not_stored() -> None:
    info = task_info(progress=None, locked=())
    assert "progress" not in info.fields() and "locked" not in info.fields()
    assert info == task_info()  # vim25 cannot tell an empty array from an unset one


def test_arrays_are_stored_as_tuples() -> None:
    spec = Data("PropertySpec", type="Task", pathSet=["info", "name"])
    assert spec.pathSet == ("info", "name")
    hash(spec)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"stat": "running"}, TypeError, "TaskInfo has no field 'stat' (did you mean state"),
        ({"state": "finished"}, ValueError, "TaskInfo.state: str 'finished' is not a TaskInfoState value"),
        ({"state": 3}, ValueError, "is not a TaskInfoState value"),
        ({"key": 42}, TypeError, "TaskInfo.key: expected a str, got int 42"),
        ({"cancelled": "false"}, TypeError, "TaskInfo.cancelled: expected a bool"),
        ({"eventChainId": 2**31}, ValueError, "out of the int range"),
        ({"eventChainId": True}, TypeError, "expected an int"),
        ({"progress": 1.5}, TypeError, "expected an int"),
        ({"queueTime": datetime(2026, 1, 1)}, ValueError, "a naive datetime has no time zone"),
        ({"queueTime": "2026-01-01T00:00:00Z"}, TypeError, "expected an aware datetime or an XsDateTime"),
        ({"task": VM}, TypeError, "TaskInfo.task: expected a MoRef to a Task"),
        ({"entity": TASK}, TypeError, "expected a MoRef to a ManagedEntity"),
        ({"entity": "vm-1"}, TypeError, "expected a MoRef"),
        ({"reason": Data("TaskInfo")}, TypeError, "TaskInfo.reason: expected a TaskReason data object"),
        ({"locked": VM}, TypeError, "expected a tuple of ManagedEntity"),
        ({"locked": [VM, "vm-2"]}, TypeError, "expected a MoRef to a ManagedEntity"),
        ({"result": object()}, TypeError, "an anyType cannot tell the wire type"),
    ],
)
def test_construction_checks_names_and_kinds(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        task_info(**changes)


def test_data_types_and_subtypes() -> None:
    disk = Data("VirtualDisk", key=2000, capacityInKB=1024)
    hardware = Data("VirtualHardware", numCPU=2, memoryMB=2048, device=[disk, Data("VirtualE1000", key=4000)])
    assert hardware.device[0] is disk
    with pytest.raises(TypeError, match="not a vim25 data type"):
        Data("NoSuchType")
    with pytest.raises(TypeError, match="not a vim25 data type"):
        Data("VirtualMachine")  # a managed type: its values are references


def test_values_the_wire_gives_are_accepted() -> None:
    info = task_info(queueTime=XsDateTime("2026-01-01T00:00:00.123456789Z"), progress=50)
    assert info.queueTime == "2026-01-01T00:00:00.123456789Z"
    assert Data("KeyAnyValue", key="k", value=Typed("long", 5)).value == Typed("long", 5)
    assert Data("HostSystemResourceInfo", key="k").key == "k"
    assert (
        Data("VirtualMachineQuickStats", overallCpuUsage=3, guestHeartbeatStatus="green").overallCpuUsage == 3
    )
    assert Data("CryptoKeyPlain", keyId=Data("CryptoKeyId", keyId="k"), algorithm="a", keyData="d")
    assert Data("HostSnmpConfigSpec", enabled=True).enabled is True
    assert Data("HostIpRouteConfig", defaultGateway="10.0.0.1").defaultGateway == "10.0.0.1"
    assert Data("FileQueryFlags", fileType=True, fileSize=True, modification=True, fileOwner=False)


def test_any_type_keeps_its_wire_type() -> None:
    assert canonical_any(Typed("int", 5)) == 5  # what Python's int says already
    assert canonical_any(Typed("long", 5)) == Typed("long", 5)
    assert canonical_any(Typed("double", 1)) == 1.0
    assert canonical_any(["a", "b"]) == ("a", "b")
    assert canonical_any(Typed("ArrayOfString", ())) == Typed("ArrayOfString", ())
    assert canonical_any(Typed("ManagedObjectReference", VM)) == VM
    assert wire_type_of(2**40) == "long" and wire_type_of(VM) == "ManagedObjectReference"
    assert wire_type_of((VM, TASK)) == "ArrayOfManagedObjectReference"
    assert wire_type_of(()) is None and wire_type_of(("a", 1)) is None
    with pytest.raises(ValueError, match="not a VirtualMachinePowerState value"):
        canonical_any(Typed("VirtualMachinePowerState", "on"))
    with pytest.raises(ValueError, match="out of the short range"):
        canonical_any(Typed("short", 2**20))
    with pytest.raises(TypeError, match="'Nonsense' is not a vim25 type"):
        canonical_any(Typed("Nonsense", 1))


def test_replace_at_and_with_path() -> None:
    info = task_info()
    done = info.replace(state="success", progress=100, cancelable=None)
    assert (done.state, done.progress, done.cancelable, info.state) == ("success", 100, None, "running")
    assert info.at("reason.userName") == "root"
    assert info.at("error.localizedMessage") is None  # unset on the way
    failed = info.with_path("error.localizedMessage", "boom")
    assert failed.error == Data(
        "LocalizedMethodFault", localizedMessage="boom"
    )  # created, of the declared type
    assert failed.with_path("error.fault", Data("InvalidState")).at("error.localizedMessage") == "boom"
    assert info.with_path("reason.userName", None).reason == Data("TaskReasonUser")
    with pytest.raises(KeyError, match="TaskInfo has no field 'nope'"):
        info.with_path("nope.x", 1)
    with pytest.raises(KeyError, match="is not a data object"):
        info.with_path("locked.x", 1)
    with pytest.raises(KeyError, match="below a value that is not a data object"):
        info.at("key.length")
    with pytest.raises(ValueError, match="not a TaskInfoState value"):
        info.with_path("state", "nope")


def test_immutable_equal_and_hashable() -> None:
    info = task_info()
    with pytest.raises(AttributeError, match="immutable"):
        info.state = "success"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del info.key
    assert info == task_info() and hash(info) == hash(task_info())
    assert info != task_info(state="queued") and info != Data("TaskInfo", **info.fields()).replace(key="x")
    assert {info: 1}[task_info()] == 1
    assert pickle.loads(pickle.dumps(info)) == info and copy.deepcopy(info) == info
    assert repr(Data("TaskReasonUser", userName="root")) == "Data('TaskReasonUser', userName='root')"


def test_an_id_s_prefix_tells_its_entity_type() -> None:
    assert entity_type_of("vm-12") == "VirtualMachine" and entity_type_of("x") == "ManagedEntity"


def test_json_form_of_special_values() -> None:
    values = [
        NOW,
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        XsDateTime("2026-01-01T00:00:00.5Z"),
        b"\x00\xff",
        float("inf"),
        Typed("long", 3),
        (VM, TASK),
    ]
    for value in values:
        back = from_json(to_json(value))
        assert back == value and type(back) is type(value)
    assert from_json(to_json(NOW.astimezone(timezone(timedelta(hours=2))))).utcoffset() == timedelta(hours=2)
    with pytest.raises(ValueError, match="not the JSON form of a vim25 value"):
        from_json({"_nope": 1})
    with pytest.raises(TypeError, match="is not a vim25 value"):
        to_json(object())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(value=data_objects(depth=1))
def test_json_round_trips_any_data_object(value: Data) -> None:
    assert from_json(to_json(value)) == value


@settings(max_examples=60, deadline=None)
@given(value=any_values(depth=1))
def test_json_round_trips_any_any_type_value(value: Any) -> None:
    canonical = canonical_any(value)
    assert from_json(to_json(canonical)) == canonical


@given(value=st.sampled_from(["a", 1, 2**40, 1.5, True, NOW, b"x", VM]))
def test_plain_values_say_their_wire_type(value: Any) -> None:
    assert canonical_any(value) == value
