"""Ids for what the mock creates (a clone's ``vm-N``, a snapshot's ``snapshot-N``), vCenter style:
a counter per prefix that no reset sets back, skipping ids the state holds, so an id is never
given twice (a destroyed VM's tasks still name it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.mockserver.state.registry import ManagedObject

IDS_ID = "vismock:ids"


class Ids(ManagedObject):
    vim_type = "vismock.Ids"
    served = False
    permanent = True

    def __init__(self, object_id: str = IDS_ID, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"next": ()})

    def new(self, prefix: str, first: int = 1) -> str:
        """The next free ``{prefix}{n}`` (inside a transaction)."""
        counters = dict(self._props["next"])
        number = int(counters.get(prefix, first))
        while f"{prefix}{number}" in self.state:
            number += 1
        counters[prefix] = number + 1
        self.update(next=tuple(sorted(counters.items())))
        return f"{prefix}{number}"
