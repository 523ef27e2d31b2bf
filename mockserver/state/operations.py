"""How the tasks that methods create behave: the scenario's ``operations:`` (a behaviour by task
method, or ``default``) and ``overrides:`` (scripted outcomes of the next tasks), as one object of
the registry, so scripting is a change like any other (the revision moves, ``--db`` keeps it).

Every task method goes through it (:func:`vismock.mockserver.objects.task.start_task`): power,
snapshots, clones, destroys. An override is matched by method and entity (name or id) and each
match consumes one of its ``times``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from vismock.mockserver.state.behaviour import DEFAULT_BEHAVIOUR, DEFAULT_KEY, Behaviour, Override
from vismock.mockserver.state.registry import ManagedObject

OPERATIONS_ID = "vismock:operations"


class Operations(ManagedObject):
    """``behaviours``: (key, Behaviour) pairs; ``overrides``: Overrides in the order they are tried
    (``times`` is what remains); ``loaded``: the scenario's, which reset returns to."""

    vim_type = "vismock.Operations"
    served = False
    permanent = True

    def __init__(self, object_id: str = OPERATIONS_ID, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"behaviours": (), "overrides": (), "next_id": 1})

    # -- reading

    def behaviours(self) -> dict[str, Behaviour]:
        return dict(self._props["behaviours"])

    def overrides(self) -> list[Override]:
        return list(self._props["overrides"])

    def behaviour_for(self, method: str, entity_id: str, entity_name: str) -> Behaviour:
        """The first override matching this task (one of its times consumed), else the method's
        behaviour, else the default one. Inside a transaction."""
        overrides = self.overrides()
        for index, override in enumerate(overrides):
            if override.matches(method, entity_id, entity_name):
                if override.times is not None:
                    left = override.times - 1
                    overrides[index : index + 1] = [replace(override, times=left)] if left > 0 else []
                    self.update(overrides=tuple(overrides))
                return override.behaviour
        behaviours = self.behaviours()
        return behaviours.get(method) or behaviours.get(DEFAULT_KEY) or DEFAULT_BEHAVIOUR

    # -- changing (inside a transaction)

    def load(self, behaviours: Mapping[str, Behaviour], overrides: Sequence[Override]) -> None:
        """Make these the scenario's behaviours and overrides, and the live ones."""
        self.update(loaded=(tuple(sorted(behaviours.items())), tuple(overrides)))
        self.reset()

    def reset(self) -> None:
        behaviours, overrides = self._props.get("loaded", ((), ()))
        self.update(behaviours=behaviours, overrides=(), next_id=self._props.get("next_id", 1))
        for override in overrides:
            self.add_override(override)

    def set_behaviours(self, behaviours: Mapping[str, Behaviour], *, replace_all: bool = False) -> None:
        with self.state.transaction():
            current = {} if replace_all else self.behaviours()
            self.update(behaviours=tuple(sorted({**current, **behaviours}.items())))

    def add_override(self, override: Override) -> Override:
        with self.state.transaction():
            number = int(self._props["next_id"])
            added = replace(override, id=number)
            self.update(overrides=(*self._props["overrides"], added), next_id=number + 1)
        return added

    def delete_override(self, override_id: int) -> bool:
        with self.state.transaction():
            kept = tuple(o for o in self._props["overrides"] if o.id != override_id)
            found = len(kept) != len(self._props["overrides"])
            self.update(overrides=kept)
        return found

    def clear_overrides(self) -> None:
        with self.state.transaction():
            self.update(overrides=())
