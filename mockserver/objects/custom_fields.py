"""CustomFieldsManager: custom attributes (vCenter's "Custom Attributes").

A field definition (``CustomFieldDef``: key, name, type ``string``, the managed type it applies to
or every type) is made by AddCustomFieldDef and listed in ``field``; SetField gives an entity a
value for it, kept in the entity's ``customValue`` (``CustomFieldStringValue``) and shown in a VM's
``summary.customValue``; every entity's ``availableField`` lists the definitions that apply to it.
A reset forgets the definitions (the manager is made anew) and the values (with the inventory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.faults import InvalidArgument, fault_named
from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import ManagedObject, Registry, is_a
from vismock.mockserver.vim25.values import Data, MoRef

MANAGER_ID = "CustomFieldsManager"
FIRST_KEY = 100  # vCenter's keys of user-made fields start above its own


class CustomFieldsManager(ManagedObject):
    """``field`` (the definitions); the mock's own ``_nextKey``."""

    vim_type = "CustomFieldsManager"

    def __init__(self, object_id: str = MANAGER_ID, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props)

    def definitions(self) -> tuple[Data, ...]:
        return tuple(self.get("field", ()))

    def _named(self, name: str, mo_type: str | None) -> Data | None:
        return next(
            (d for d in self.definitions() if d.name == name and d.managedObjectType == mo_type), None
        )

    def _definition(self, key: int) -> Data:
        found = next((d for d in self.definitions() if d.key == key), None)
        if found is None:
            raise InvalidArgument(f"No custom field has the key {key}", "key")
        return found

    @vim_method("AddCustomFieldDef")
    def add_custom_field_def(
        self,
        ctx: Context,
        name: str,
        moType: str | None = None,
        fieldDefPolicy: Data | None = None,
        fieldPolicy: Data | None = None,
    ) -> Data:
        if self._named(name, moType) is not None:
            raise fault_named("DuplicateName", f"The name '{name}' already exists.", (("name", name),))
        key = int(self.get("_nextKey", FIRST_KEY))
        made = Data("CustomFieldDef", key=key, name=name, type="string", managedObjectType=moType)
        self.update(field=(*self.definitions(), made), _nextKey=key + 1)
        return made

    @vim_method("RenameCustomFieldDef")
    def rename_custom_field_def(self, ctx: Context, key: int, name: str) -> None:
        found = self._definition(key)
        if self._named(name, found.managedObjectType) is not None:
            raise fault_named("DuplicateName", f"The name '{name}' already exists.", (("name", name),))
        self.update(field=tuple(d.replace(name=name) if d.key == key else d for d in self.definitions()))

    @vim_method("RemoveCustomFieldDef")
    def remove_custom_field_def(self, ctx: Context, key: int) -> None:
        self._definition(key)
        self.update(field=tuple(d for d in self.definitions() if d.key != key))
        for entity in ctx.registry.all(ManagedEntity):
            values = entity.get("customValue", ())
            if any(value.key == key for value in values):
                entity.update(customValue=tuple(value for value in values if value.key != key))

    @vim_method("SetField")
    def set_field(self, ctx: Context, entity: MoRef, key: int, value: str) -> None:
        target = ctx.registry.get(entity, ManagedEntity)
        definition = self._definition(key)
        if definition.managedObjectType and not is_a(target.vim_type, definition.managedObjectType):
            raise InvalidArgument(
                f"The field {definition.name!r} applies to {definition.managedObjectType}, not"
                f" {target.vim_type}",
                "entity",
            )
        kept = tuple(item for item in target.get("customValue", ()) if item.key != key)
        made = Data("CustomFieldStringValue", key=key, value=value)
        target.update(customValue=tuple(sorted((*kept, made), key=lambda item: int(item.key))))


def fields_for(registry: Registry, vim_type: str) -> tuple[Data, ...]:
    """The field definitions that apply to an entity of *vim_type* (its ``availableField``)."""
    manager = registry.find(MANAGER_ID)
    if not isinstance(manager, CustomFieldsManager):
        return ()
    return tuple(
        d for d in manager.definitions() if not d.managedObjectType or is_a(vim_type, d.managedObjectType)
    )
