"""ViewManager and its views: ContainerView (what a folder, datacenter, compute resource, resource
pool or host holds, directly or recursively, of some types: how ``govc find`` lists the inventory)
and ListView (a list the client keeps: how ``govc tasks`` watches tasks), with DestroyView.

A view belongs to the session that created it (kept in the state with its other objects); its
``view`` is worked out when read, so a container view follows the inventory as it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from vismock.faults import InvalidArgument, ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.entities import entity_ref, inventory_children
from vismock.mockserver.faces.soap.objects import (
    Call,
    is_a,
    load,
    managed_type,
    new_session_ref,
    session_object,
)
from vismock.mockserver.faces.soap.service_instance import VIEW_MANAGER
from vismock.mockserver.faces.soap.wire import MoRef, Value
from vismock.mockserver.state.sessions import SessionObject

VIEW = "view"  # the kind of session object a view is kept as
CONTAINERS = ("Folder", "Datacenter", "ComputeResource", "ResourcePool", "HostSystem")

view_manager = managed_type("ViewManager", singleton=VIEW_MANAGER.value)


def _load_view(call: Call, ref: MoRef, poll: bool) -> dict[str, Any]:
    stored = session_object(call, ref, VIEW)
    data: dict[str, Any] = json.loads(stored.data)
    if data["type"] != ref.type and not is_a(data["type"], ref.type):
        raise ManagedObjectNotFound(ref.type, ref.value)
    return data


view = managed_type("View", load=_load_view)
managed_object_view = managed_type("ManagedObjectView", view)
container_view = managed_type("ContainerView", managed_object_view)
list_view = managed_type("ListView", managed_object_view)


def _create(call: Call, mo_type: str, data: dict[str, Any]) -> Value:
    ref = new_session_ref(call, mo_type)
    call.backend.sessions.add_object(
        call.required_session(), ref.value, VIEW, json.dumps({"type": mo_type, **data})
    )
    return wire.moref_value(ref)


def _refs(elements: Iterable[Any]) -> list[MoRef]:
    return [wire.moref_of(element) for element in elements]


def _exists(call: Call, ref: MoRef) -> bool:
    try:
        load(call, ref, poll=False)
    except ManagedObjectNotFound:
        return False
    return True


# -- ViewManager


@view_manager.method("CreateContainerView")
def create_container_view(call: Call) -> Value:
    container_element = call.soap.arg("container")
    if container_element is None:
        raise InvalidArgument("CreateContainerView needs a <container>", "container")
    container = wire.moref_of(container_element)
    load(call, container, poll=False)  # ManagedObjectNotFound for an unknown one
    if not any(is_a(container.type, kind) for kind in CONTAINERS):
        raise InvalidArgument(f"A {container.type} cannot be the container of a view", "container")
    types = [(element.text or "").strip() for element in call.soap.args("type")]
    recursive = (call.soap.text("recursive") or "false").strip() in ("true", "1")
    return _create(
        call,
        "ContainerView",
        {"container": [container.type, container.value], "types": types, "recursive": recursive},
    )


@view_manager.method("CreateListView")
def create_list_view(call: Call) -> Value:
    refs = [ref for ref in _refs(call.soap.args("obj")) if _exists(call, ref)]
    return _create(call, "ListView", {"view": _pack(refs)})


@view_manager.method("CreateListViewFromView")
def create_list_view_from_view(call: Call) -> Value:
    return _create(call, "ListView", {"view": _pack(_view_of(call, _source_view(call)))})


@view_manager.property("viewList", default=True)
def view_list(call: Call, ref: MoRef, loaded: object) -> Value:
    call.observation.not_remembered()
    stored = call.backend.sessions.objects(call.required_session(), VIEW)
    return wire.moref_array([MoRef(json.loads(item.data)["type"], item.id) for item in stored])


# -- views


@view.method("DestroyView")
def destroy_view(call: Call) -> None:
    _load_view(call, call.this, False)
    call.backend.sessions.remove_object(call.required_session(), call.this.value)


@managed_object_view.property("view", default=True)
def view_property(call: Call, ref: MoRef, data: dict[str, Any]) -> Value:
    return wire.moref_array(_contents(call, data))


def _contents(call: Call, data: dict[str, Any]) -> list[MoRef]:
    if data["type"] == "ListView":
        return [ref for ref in _unpack(data["view"]) if _exists(call, ref)]
    container = MoRef(*data["container"])
    types: Sequence[str] = data["types"]
    found = _descendants(call, container.value) if data["recursive"] else _children(call, container.value)
    return [ref for ref in found if not types or any(is_a(ref.type, kind) for kind in types)]


def _children(call: Call, entity_id: str) -> list[MoRef]:
    entity = call.backend.inventory.find(entity_id)
    return (
        []
        if entity is None
        else [entity_ref(child) for child in inventory_children(call, entity, hosts_hold_vms=True)]
    )


def _descendants(call: Call, entity_id: str) -> list[MoRef]:
    """Everything below the container, depth first, each once (a VM sits in a folder, in a
    resource pool and on a host: it is listed where it is first met)."""
    found: dict[MoRef, None] = {}
    pending = list(reversed(_children(call, entity_id)))
    while pending:
        ref = pending.pop()
        if ref in found:
            continue
        found[ref] = None
        pending.extend(reversed(_children(call, ref.value)))
    return list(found)


@container_view.property("container")
def container(call: Call, ref: MoRef, data: dict[str, Any]) -> Value:
    return wire.moref_value(MoRef(*data["container"]))


@container_view.property("type")
def types_property(call: Call, ref: MoRef, data: dict[str, Any]) -> Value | None:
    return wire.string_array(data["types"]) if data["types"] else None


@container_view.property("recursive")
def recursive_property(call: Call, ref: MoRef, data: dict[str, Any]) -> Value:
    return wire.text_value("xsd:boolean", wire.bool_text(bool(data["recursive"])))


# -- list views


@list_view.method("ModifyListView")
def modify_list_view(call: Call) -> list[Value]:
    """Adds and removes objects; answers the ones to add that do not exist (not added)."""
    data = _load_view(call, call.this, False)
    current = _unpack(data["view"])
    additions = _refs(call.soap.args("add"))
    unresolved = [ref for ref in additions if not _exists(call, ref)]
    removals = set(_refs(call.soap.args("remove")))
    kept = [ref for ref in current if ref not in removals]
    kept.extend(ref for ref in dict.fromkeys(additions) if ref not in unresolved and ref not in kept)
    _store(call, {**data, "view": _pack(kept)})
    return [wire.moref_value(ref) for ref in unresolved]


@list_view.method("ResetListView")
def reset_list_view(call: Call) -> list[Value]:
    """The view becomes the objects given; answers those that do not exist (left out)."""
    data = _load_view(call, call.this, False)
    given = list(dict.fromkeys(_refs(call.soap.args("obj"))))
    unresolved = [ref for ref in given if not _exists(call, ref)]
    _store(call, {**data, "view": _pack([ref for ref in given if ref not in unresolved])})
    return [wire.moref_value(ref) for ref in unresolved]


@list_view.method("ResetListViewFromView")
def reset_list_view_from_view(call: Call) -> None:
    data = _load_view(call, call.this, False)
    _store(call, {**data, "view": _pack(_view_of(call, _source_view(call)))})


def _source_view(call: Call) -> SessionObject:
    element = call.soap.arg("view")
    if element is None:
        raise InvalidArgument("A <view> is needed", "view")
    return session_object(call, wire.moref_of(element), VIEW)


def _view_of(call: Call, stored: SessionObject) -> list[MoRef]:
    return _contents(call, json.loads(stored.data))


def _store(call: Call, data: dict[str, Any]) -> None:
    call.backend.sessions.replace_object(call.required_session(), call.this.value, json.dumps(data))


def _pack(refs: Sequence[MoRef]) -> list[list[str]]:
    return [[ref.type, ref.value] for ref in refs]


def _unpack(items: Sequence[Sequence[str]]) -> list[MoRef]:
    return [MoRef(str(mo_type), str(value)) for mo_type, value in items]
