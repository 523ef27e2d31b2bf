"""The stored (JSON) form of the values the state holds, for ``--db``: vim25 data objects and
references, times, byte strings, tuples, and the mock's own frozen dataclasses (task definitions,
behaviours, fault rules...), each read back exactly as it was written.

One encoder for every object: a property holding a value of a kind listed here is stored without
any code of its type's own. A dataclass is stored by its class name, so its class must be
registered (:func:`storable`); a value of any other kind is refused when written, not lost.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from vismock.codec import XsDateTime
from vismock.mockserver.vim25.values import Data, MoRef

C = TypeVar("C", bound=type)
_DATACLASSES: dict[str, type] = {}


def storable(cls: C) -> C:
    """Register frozen dataclass *cls* as a value the state may hold (by its name)."""
    _DATACLASSES[cls.__name__] = cls
    return cls


def encode(value: Any) -> Any:
    """*value* as JSON-safe data (lists, dicts with string keys, strings, numbers, None)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, XsDateTime):
        return {"$x": str(value)}
    if isinstance(value, str):
        return value
    if isinstance(value, MoRef):
        return {"$r": [value.type, value.value]}
    if isinstance(value, Data):
        return {"$d": value.type, "f": {name: encode(item) for name, item in value.fields().items()}}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"$m": [[encode(key), encode(item)] for key, item in value.items()]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _DATACLASSES:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$c": type(value).__name__, "f": fields}
    raise TypeError(f"a {type(value).__name__} cannot be stored (register it with stored.storable)")


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "$x": lambda data: XsDateTime(data["$x"]),
    "$r": lambda data: MoRef(*data["$r"]),
    "$d": lambda data: Data(data["$d"], **{name: decode(item) for name, item in data["f"].items()}),
    "$t": lambda data: datetime.fromisoformat(data["$t"]),
    "$b": lambda data: base64.b64decode(data["$b"]),
    "$m": lambda data: {decode(key): decode(item) for key, item in data["$m"]},
    "$c": lambda data: _DATACLASSES[data["$c"]](**{name: decode(item) for name, item in data["f"].items()}),
}


def decode(data: Any) -> Any:
    """The value :func:`encode` made *data* of (lists come back as tuples: values are immutable)."""
    if isinstance(data, list):
        return tuple(decode(item) for item in data)
    if isinstance(data, dict):
        for key, decoder in _DECODERS.items():
            if key in data:
                return decoder(data)
        raise ValueError(f"not a stored value: {sorted(data)}")
    return data


def _register_state_values() -> None:
    """The mock's own values that objects hold (defined where they belong, stored from here)."""
    from vismock.mockserver.state import behaviour, lifecycle, models

    for cls in (
        models.TaskSpec, models.Step, models.Reason, models.FaultRule, models.Entity,
        lifecycle.Runtime, behaviour.Behaviour, behaviour.Override,
    ):  # fmt: skip
        storable(cls)


_register_state_values()
