"""vim25 values: managed object references and immutable data objects (stand-in: no model checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MoRef:
    """A vim25 ManagedObjectReference."""

    type: str
    value: str


class Data:
    """An immutable vim25 data object: its type name and its fields (None: unset)."""

    __slots__ = ("_fields", "_hash", "type")

    type: str
    _fields: dict[str, Any]

    def __init__(self, type_name: str, /, **fields: Any) -> None:
        object.__setattr__(self, "type", type_name)
        object.__setattr__(
            self,
            "_fields",
            {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items() if v is not None},
        )
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self.type} is immutable: use replace()")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._fields.get(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Data) and other.type == self.type and other._fields == self._fields

    def __hash__(self) -> int:
        return hash((self.type, tuple(sorted(self._fields.items()))))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self.type}({inner})"

    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    def replace(self, **changes: Any) -> Data:
        return Data(self.type, **{**self._fields, **changes})

    def at(self, path: str) -> Any:
        value: Any = self
        for part in path.split("."):
            if not isinstance(value, Data):
                return None
            value = value._fields.get(part)
        return value

    def with_path(self, path: str, value: Any) -> Data:
        head, _, rest = path.partition(".")
        if not rest:
            return self.replace(**{head: value})
        current = self._fields.get(head)
        if not isinstance(current, Data):
            raise TypeError(f"{self.type}.{head} is unset: cannot set {rest!r} below it")
        return self.replace(**{head: current.with_path(rest, value)})


def fields_of(value: Data) -> Mapping[str, Any]:
    return value.fields()
