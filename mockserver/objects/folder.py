"""Folder: the inventory's containers (the root ``Datacenters`` folder, each datacenter's ``vm``,
``host``, ``datastore`` and ``network`` folders and their subfolders)."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import MoRef

ROOT_FOLDER_ID = "group-d1"


class Folder(ManagedEntity):
    """``childType`` (what it may hold); ``childEntity`` is derived from its children's ``parent``."""

    vim_type = "Folder"

    @derived
    def childEntity(self) -> tuple[MoRef, ...]:
        return tuple(child.ref for child in self.children())
