"""SearchIndex: FindByInventoryPath and FindChild over the inventory.

vCenter's inventory path names the entities from the root folder down, ``Datacenter/vm/win1``
(a leading ``/`` is optional; a ``/`` inside a name is written ``%2f``, and ``%`` as ``%25``).
Nothing found is an answer with no ``returnval``, not a fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.objects.folder import ROOT_FOLDER_ID
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.view_manager import members
from vismock.mockserver.state.registry import ManagedObject
from vismock.mockserver.vim25.values import MoRef


class SearchIndex(ManagedObject):
    vim_type = "SearchIndex"
    permanent = True

    def __init__(self, object_id: str = "SearchIndex", props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props)

    @vim_method("FindByInventoryPath")
    def find_by_inventory_path(self, ctx: Context, inventoryPath: str) -> MoRef | None:
        names = [unquote(part) for part in inventoryPath.split("/") if part]
        root = self.state.find(ROOT_FOLDER_ID)
        current = root if names and isinstance(root, ManagedEntity) else None  # no path: nothing found
        for name in names:
            if current is None:
                break
            current = _child_named(current, name)
        return None if current is None else current.ref

    @vim_method("FindChild")
    def find_child(self, ctx: Context, entity: MoRef, name: str) -> MoRef | None:
        parent = ctx.registry.get(entity, ManagedEntity)
        found = _child_named(parent, name)
        return None if found is None else found.ref


def _child_named(entity: ManagedEntity, name: str) -> ManagedEntity | None:
    return next((child for child in members(entity) if child.name == name), None)
