"""SearchIndex: FindByInventoryPath and FindChild over the inventory.

vCenter's inventory path names the entities from the root folder down, ``Datacenter/vm/win1``
(a leading ``/`` is optional; a ``/`` inside a name is written ``%2f``, and ``%`` as ``%25``).
Nothing found is an answer with no ``returnval``, not a fault.
"""

from __future__ import annotations

from urllib.parse import unquote

from vismock.faults import InvalidArgument, ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.entities import entity_ref, inventory_children
from vismock.mockserver.faces.soap.objects import Call, is_a, managed_type
from vismock.mockserver.faces.soap.service_instance import SEARCH_INDEX
from vismock.mockserver.faces.soap.wire import Value
from vismock.mockserver.state.inventory import ROOT_FOLDER_ID
from vismock.mockserver.state.models import Entity

search_index = managed_type("SearchIndex", singleton=SEARCH_INDEX.value)


@search_index.method("FindByInventoryPath")
def find_by_inventory_path(call: Call) -> Value | None:
    path = call.soap.text("inventoryPath")
    if path is None:
        raise InvalidArgument("FindByInventoryPath needs an <inventoryPath>", "inventoryPath")
    names = [unquote(part) for part in path.split("/") if part]
    current = call.backend.inventory.find(ROOT_FOLDER_ID) if names else None  # no path: nothing found
    for name in names:
        if current is None:
            break
        current = _child_named(call, current, name)
    return None if current is None else wire.moref_value(entity_ref(current))


@search_index.method("FindChild")
def find_child(call: Call) -> Value | None:
    element = call.soap.arg("entity")
    if element is None:
        raise InvalidArgument("FindChild needs an <entity>", "entity")
    ref = wire.moref_of(element)
    entity = call.backend.inventory.find(ref.value)
    if entity is None or not is_a(entity.type, ref.type):
        raise ManagedObjectNotFound(ref.type, ref.value)
    found = _child_named(call, entity, call.soap.text("name") or "")
    return None if found is None else wire.moref_value(entity_ref(found))


def _child_named(call: Call, entity: Entity, name: str) -> Entity | None:
    return next((child for child in inventory_children(call, entity) if child.name == name), None)
