"""Datacenter: its four folders (``vmFolder``, ``hostFolder``, ``datastoreFolder``,
``networkFolder``) and the datastores and networks in them."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import MoRef

FOLDER_PROPERTIES = ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder")


class Datacenter(ManagedEntity):
    vim_type = "Datacenter"

    def folders(self) -> list[ManagedEntity]:
        found = [self.state.find(ref.value) for p in FOLDER_PROPERTIES if (ref := self.get(p)) is not None]
        return [folder for folder in found if isinstance(folder, ManagedEntity)]

    def _in_folder(self, prop: str, vim_type: str) -> tuple[MoRef, ...]:
        folder = self.get(prop)
        if folder is None:
            return ()
        found: list[MoRef] = []
        pending = [folder.value]
        while pending:  # the folder and its subfolders
            entity = self.state.find(pending.pop(0))
            if isinstance(entity, ManagedEntity):
                for child in entity.children():
                    if child.vim_type == "Folder":
                        pending.append(child.id)
                    elif child.vim_type == vim_type:
                        found.append(child.ref)
        return tuple(found)

    @derived
    def datastore(self) -> tuple[MoRef, ...]:
        return self._in_folder("datastoreFolder", "Datastore")

    @derived
    def network(self) -> tuple[MoRef, ...]:
        return self._in_folder("networkFolder", "Network")
