"""Datastore: where virtual machines' files are."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity


class Datastore(ManagedEntity):
    vim_type = "Datastore"


class StoragePod(ManagedEntity):
    vim_type = "StoragePod"
