"""ManagedEntity: what every inventory object has (name, parent, recentTask, the task running on
it), and the vim25 methods every entity answers (Destroy_Task lives on the types that allow it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vismock.mockserver.state.registry import ManagedObject, derived
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.objects.task import Task

RECENT_ON_ENTITY = 10  # ManagedEntity.recentTask: an entity's newest tasks


class ManagedEntity(ManagedObject):
    """``name``, ``parent`` (a reference; unset for the root folder), ``recentTask`` and the
    mock's own ``_latest`` (the last task that ran on it: while it runs, the entity is busy)."""

    vim_type = "ManagedEntity"

    def __init__(self, object_id: str, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, {"recentTask": (), **(props or {})})

    @property
    def name(self) -> str:
        return str(self._props.get("name", self.id))

    @property
    def parent_id(self) -> str | None:
        parent: MoRef | None = self._props.get("parent")
        return None if parent is None else parent.value

    @derived
    def overallStatus(self) -> str:
        return "green"

    @derived
    def configStatus(self) -> str:
        return "green"

    @derived
    def availableField(self) -> tuple[Data, ...]:
        """The custom field definitions that apply to this entity (CustomFieldsManager's)."""
        from vismock.mockserver.objects.custom_fields import fields_for

        return fields_for(self.state, self.vim_type)

    @derived
    def value(self) -> tuple[Data, ...]:
        """vim25's other name of ``customValue``: the entity's custom field values."""
        return tuple(self._props.get("customValue", ()))

    def children(self) -> list[ManagedEntity]:
        """The entities whose ``parent`` is this one, in the order they were added."""
        return [obj for obj in self.state.all(ManagedEntity) if obj.parent_id == self.id]

    def path(self) -> str:
        """The inventory path: ``/Datacenter/vm/win1`` (the root folder is ``/``)."""
        names: list[str] = []
        current: ManagedEntity | None = self
        while current is not None and current.parent_id is not None:
            names.append(current.name)
            found = self.state.find(current.parent_id)
            current = found if isinstance(found, ManagedEntity) else None
        return "/" + "/".join(reversed(names))

    def ancestor(self, vim_type: str) -> ManagedEntity | None:
        """The nearest entity of *vim_type* above this one (a host's Datacenter, a pool's cluster)."""
        current = self.state.find(self.parent_id or "")
        seen: set[str] = set()
        while isinstance(current, ManagedEntity) and current.id not in seen:
            if current.vim_type == vim_type:
                return current
            seen.add(current.id)
            current = self.state.find(current.parent_id or "")
        return None

    def below(self, vim_type: str) -> list[ManagedEntity]:
        """The entities of *vim_type* below this one (a datacenter's hosts), in the order added."""
        return [
            entity
            for entity in self.state.all(ManagedEntity)
            if entity.vim_type == vim_type and self._is_above(entity)
        ]

    def _is_above(self, entity: ManagedEntity) -> bool:
        current: ManagedEntity | None = entity
        seen: set[str] = set()
        while current is not None and current.id not in seen:
            if current.parent_id == self.id:
                return True
            seen.add(current.id)
            found = self.state.find(current.parent_id or "")
            current = found if isinstance(found, ManagedEntity) else None
        return False

    # -- tasks on this entity

    def running_task(self) -> Task | None:
        """The task acting on this entity now (TaskInProgress names it), if any."""
        from vismock.mockserver.objects.task import Task

        latest = self.state.find(str(self._props.get("_latest", "")))
        if isinstance(latest, Task) and latest.ended() is None:
            return latest
        return None

    def note_task(self, task: Task, *, ran: bool) -> None:
        """A task was created on this entity (*ran*: it acts on it, rather than failing at once)."""
        recent = (*self._props.get("recentTask", ()), task.ref)[-RECENT_ON_ENTITY:]
        changes: dict[str, Any] = {"recentTask": recent}
        if ran:
            changes["_latest"] = task.id
        self.update(changes)

    def forget_task(self, task_id: str) -> None:
        """Task *task_id* is gone (deleted, pruned): no longer among recentTask."""
        listed = any(ref.value == task_id for ref in self._props.get("recentTask", ()))
        if not listed and self._props.get("_latest") != task_id:
            return  # an old task (most pruned ones): nothing here names it
        recent = tuple(ref for ref in self._props.get("recentTask", ()) if ref.value != task_id)
        self.update(
            recentTask=recent,
            _latest=None if self._props.get("_latest") == task_id else self._props.get("_latest"),
        )


def ref_of(entity: ManagedObject | None, default_type: str = "ManagedEntity", object_id: str = "") -> MoRef:
    return entity.ref if entity is not None else MoRef(default_type, object_id)
