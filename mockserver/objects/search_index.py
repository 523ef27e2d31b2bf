"""SearchIndex: finding entities as clients do, over the inventory.

FindByInventoryPath and FindChild by names: vCenter's inventory path names the entities from the
root folder down, ``Datacenter/vm/win1`` (a leading ``/`` is optional; a ``/`` inside a name is
written ``%2f``, and ``%`` as ``%25``). FindByUuid (a VM's BIOS ``config.uuid``, or its
``config.instanceUuid``; a host's ``hardware.systemInfo.uuid``), FindByIp and FindByDnsName (what a
running VM's guest reports: ``guest.ipAddress`` and its NICs' addresses, ``guest.hostName``; a
host's name), each with its FindAllBy form, within a datacenter when one is given;
FindByDatastorePath (a VM by its ``.vmx`` path). Nothing found is an answer with no
``returnval``, not a fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

    @vim_method("FindByUuid")
    def find_by_uuid(
        self,
        ctx: Context,
        uuid: str,
        vmSearch: bool,
        datacenter: MoRef | None = None,
        instanceUuid: bool | None = None,
    ) -> MoRef | None:
        return _first(self.find_all_by_uuid(ctx, uuid, vmSearch, datacenter, instanceUuid))

    @vim_method("FindAllByUuid")
    def find_all_by_uuid(
        self,
        ctx: Context,
        uuid: str,
        vmSearch: bool,
        datacenter: MoRef | None = None,
        instanceUuid: bool | None = None,
    ) -> tuple[MoRef, ...]:
        wanted = uuid.lower()
        if not vmSearch:
            return _matching(
                ctx, datacenter, "HostSystem", lambda h: _text(h, "hardware.systemInfo.uuid") == wanted
            )
        path = "config.instanceUuid" if instanceUuid else "config.uuid"
        return _matching(ctx, datacenter, "VirtualMachine", lambda vm: _text(vm, path) == wanted)

    @vim_method("FindByIp")
    def find_by_ip(
        self, ctx: Context, ip: str, vmSearch: bool, datacenter: MoRef | None = None
    ) -> MoRef | None:
        return _first(self.find_all_by_ip(ctx, ip, vmSearch, datacenter))

    @vim_method("FindAllByIp")
    def find_all_by_ip(
        self, ctx: Context, ip: str, vmSearch: bool, datacenter: MoRef | None = None
    ) -> tuple[MoRef, ...]:
        if not vmSearch:
            return _matching(ctx, datacenter, "HostSystem", lambda host: host.name == ip)
        return _matching(ctx, datacenter, "VirtualMachine", lambda vm: ip in _addresses(vm))

    @vim_method("FindByDnsName")
    def find_by_dns_name(
        self, ctx: Context, dnsName: str, vmSearch: bool, datacenter: MoRef | None = None
    ) -> MoRef | None:
        return _first(self.find_all_by_dns_name(ctx, dnsName, vmSearch, datacenter))

    @vim_method("FindAllByDnsName")
    def find_all_by_dns_name(
        self, ctx: Context, dnsName: str, vmSearch: bool, datacenter: MoRef | None = None
    ) -> tuple[MoRef, ...]:
        wanted = dnsName.lower()
        if not vmSearch:
            return _matching(ctx, datacenter, "HostSystem", lambda host: host.name.lower() == wanted)
        return _matching(ctx, datacenter, "VirtualMachine", lambda vm: _text(vm, "guest.hostName") == wanted)

    @vim_method("FindByDatastorePath")
    def find_by_datastore_path(self, ctx: Context, datacenter: MoRef, path: str) -> MoRef | None:
        return _first(
            _matching(
                ctx, datacenter, "VirtualMachine", lambda vm: vm.read("config.files.vmPathName") == path
            )
        )

    @vim_method("FindChild")
    def find_child(self, ctx: Context, entity: MoRef, name: str) -> MoRef | None:
        parent = ctx.registry.get(entity, ManagedEntity)
        found = _child_named(parent, name)
        return None if found is None else found.ref


def _child_named(entity: ManagedEntity, name: str) -> ManagedEntity | None:
    return next((child for child in members(entity) if child.name == name), None)


def _first(found: tuple[MoRef, ...]) -> MoRef | None:
    return found[0] if found else None


def _text(entity: ManagedEntity, path: str) -> str | None:
    value = entity.read(path)
    return None if value is None else str(value).lower()


def _addresses(vm: ManagedEntity) -> set[str]:
    """Every address the VM's guest reports now (none while it is not running)."""
    guest = vm.read("guest")
    found = {str(guest.ipAddress)} if guest is not None and guest.ipAddress else set()
    for nic in (guest.net if guest is not None else None) or ():
        found.update(nic.ipAddress or ())
    return found


def _matching(
    ctx: Context, datacenter: MoRef | None, vim_type: str, wanted: Callable[[ManagedEntity], bool]
) -> tuple[MoRef, ...]:
    """The entities of *vim_type* (in *datacenter*, when given: ManagedObjectNotFound if it is
    not one) that are *wanted*."""
    within = None if datacenter is None else ctx.registry.get(datacenter, ManagedEntity)
    found = []
    for entity in ctx.registry.all(ManagedEntity):
        if entity.vim_type != vim_type or not wanted(entity):
            continue
        if within is None or within.id in _ancestors(entity):
            found.append(entity.ref)
    return tuple(found)


def _ancestors(entity: ManagedEntity) -> set[str]:
    """The ids above *entity*: its parents' chain (a VM's folders, a host's cluster...)."""
    found: set[str] = set()
    current: ManagedEntity | None = entity
    while current is not None and current.parent_id is not None and current.parent_id not in found:
        found.add(current.parent_id)
        parent = current.state.find(current.parent_id)
        current = parent if isinstance(parent, ManagedEntity) else None
    return found
