"""ViewManager and its views: ContainerView (what a folder, datacenter, compute resource, resource
pool or host holds, directly or recursively, of some types: how ``govc find`` lists the inventory)
and ListView (a list the client keeps: how ``govc tasks`` watches tasks), with DestroyView.

A view belongs to the session that created it (``_session``: it goes with the session); a
container view's ``view`` is derived from the inventory when read, so it follows the inventory as
it changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vismock.faults import InvalidArgument, ManagedObjectNotFound
from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.property_collector import owned_by, session_ref
from vismock.mockserver.state.registry import ManagedObject, derived, is_a
from vismock.mockserver.vim25.values import MoRef

CONTAINERS = ("Folder", "Datacenter", "ComputeResource", "ResourcePool", "HostSystem")


class ViewManager(ManagedObject):
    vim_type = "ViewManager"
    permanent = True

    def __init__(self, object_id: str = "ViewManager", props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props)

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        """``viewList``: the reader's views (another session's are not there for it)."""
        return {"viewList": tuple(view.ref for view in self.state.all(View) if owned_by(view, session))}

    @vim_method("CreateContainerView")
    def create_container_view(
        self, ctx: Context, container: MoRef, type: tuple[str, ...] | None = None, recursive: bool = False
    ) -> MoRef:
        ctx.backend.lookup(container)  # ManagedObjectNotFound for an unknown one
        if not any(is_a(container.type, kind) for kind in CONTAINERS):
            raise InvalidArgument(f"A {container.type} cannot be the container of a view", "container")
        props = {"container": container, "type": tuple(type or ()) or None, "recursive": recursive}
        return _create(ctx, ContainerView, props)

    @vim_method("CreateListView")
    def create_list_view(self, ctx: Context, obj: tuple[MoRef, ...] | None = None) -> MoRef:
        return _create(ctx, ListView, {"_list": tuple(ref for ref in obj or () if _exists(ctx, ref))})

    @vim_method("CreateListViewFromView")
    def create_list_view_from_view(self, ctx: Context, view: MoRef) -> MoRef:
        return _create(ctx, ListView, {"_list": _source(ctx, view).read("view")})


def _create(ctx: Context, cls: type[View], props: Mapping[str, Any]) -> MoRef:
    session = ctx.required_session()
    ctx.backend.sessions.check_room(session)
    made = cls(session_ref(ctx, cls.vim_type), {**props, "_session": session.id})
    ctx.registry.add(made)
    return made.ref


def _exists(ctx: Context, ref: MoRef) -> bool:
    try:
        ctx.backend.lookup(ref)
    except ManagedObjectNotFound:
        return False
    return True


def _source(ctx: Context, ref: MoRef) -> View:
    view = ctx.registry.get(ref, View)
    if not owned_by(view, ctx.session):
        raise ManagedObjectNotFound(ref.type, ref.value)
    return view


class View(ManagedObject):
    vim_type = "View"

    @vim_method("DestroyView")
    def destroy_view(self, ctx: Context) -> None:
        _source(ctx, self.ref)
        ctx.registry.remove(self)


class ManagedObjectView(View):
    vim_type = "ManagedObjectView"


class ContainerView(ManagedObjectView):
    """``container``, ``type``, ``recursive``; ``view`` is derived from the inventory."""

    vim_type = "ContainerView"

    @derived
    def view(self) -> tuple[MoRef, ...]:
        container: MoRef = self.get("container")
        types: tuple[str, ...] = self.get("type", ())
        found = (
            self._descendants(container.value) if self.get("recursive") else self._children(container.value)
        )
        return tuple(ref for ref in found if not types or any(is_a(ref.type, kind) for kind in types))

    def _children(self, entity_id: str) -> list[MoRef]:
        entity = self.state.find(entity_id)
        return (
            []
            if not isinstance(entity, ManagedEntity)
            else [child.ref for child in members(entity, hosts_hold_vms=True)]
        )

    def _descendants(self, entity_id: str) -> list[MoRef]:
        """Everything below the container, depth first, each once (a VM sits in a folder, in a
        resource pool and on a host: it is listed where it is first met)."""
        found: dict[MoRef, None] = {}
        pending = list(reversed(self._children(entity_id)))
        while pending:
            ref = pending.pop()
            if ref in found:
                continue
            found[ref] = None
            pending.extend(reversed(self._children(ref.value)))
        return list(found)


class ListView(ManagedObjectView):
    """A list the client keeps (``_list``); ``view`` shows those of them that still exist."""

    vim_type = "ListView"

    @derived
    def view(self) -> tuple[MoRef, ...]:
        return tuple(ref for ref in self.get("_list", ()) if self.state.find(ref.value) is not None)

    @vim_method("ModifyListView")
    def modify_list_view(
        self, ctx: Context, add: tuple[MoRef, ...] | None = None, remove: tuple[MoRef, ...] | None = None
    ) -> tuple[MoRef, ...]:
        """Adds and removes objects; answers the ones to add that do not exist (not added)."""
        _source(ctx, self.ref)
        additions = list(add or ())
        unresolved = [ref for ref in additions if not _exists(ctx, ref)]
        removals = set(remove or ())
        kept = [ref for ref in self.get("_list", ()) if ref not in removals]
        kept.extend(ref for ref in dict.fromkeys(additions) if ref not in unresolved and ref not in kept)
        self.update(_list=tuple(kept))
        return tuple(unresolved)

    @vim_method("ResetListView")
    def reset_list_view(self, ctx: Context, obj: tuple[MoRef, ...] | None = None) -> tuple[MoRef, ...]:
        """The view becomes the objects given; answers those that do not exist (left out)."""
        _source(ctx, self.ref)
        given = list(dict.fromkeys(obj or ()))
        unresolved = [ref for ref in given if not _exists(ctx, ref)]
        self.update(_list=tuple(ref for ref in given if ref not in unresolved))
        return tuple(unresolved)

    @vim_method("ResetListViewFromView")
    def reset_list_view_from_view(self, ctx: Context, view: MoRef) -> None:
        _source(ctx, self.ref)
        self.update(_list=_source(ctx, view).read("view"))


def members(entity: ManagedEntity, *, hosts_hold_vms: bool = False) -> list[ManagedEntity]:
    """What vCenter counts as *entity*'s children (SearchIndex.FindChild, container views): a
    folder's entities, a datacenter's four folders, a compute resource's hosts and root resource
    pool, a resource pool's child pools and virtual machines; a host's virtual machines too when
    *hosts_hold_vms* (a container view of a host shows them; FindChild does not)."""
    from vismock.mockserver.objects.compute_resource import ComputeResource
    from vismock.mockserver.objects.datacenter import Datacenter
    from vismock.mockserver.objects.host_system import HostSystem
    from vismock.mockserver.objects.resource_pool import ResourcePool

    if isinstance(entity, Datacenter):
        return entity.folders()
    if isinstance(entity, ComputeResource | ResourcePool):
        return entity.members()
    if isinstance(entity, HostSystem):
        return entity.vms() if hosts_hold_vms else []
    return entity.children()


def refs(entities: Iterable[ManagedEntity]) -> tuple[MoRef, ...]:
    return tuple(entity.ref for entity in entities)
