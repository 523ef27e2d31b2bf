"""Typed values of XSD simple types: text to Python and back.

Integers decode to ``int``, booleans to ``bool``, decimals to ``Decimal`` and
``xs:dateTime`` to :class:`XsDateTime`, an exact lexical wrapper: a ``str``
subclass that keeps the text as sent (vCenter sends nanoseconds, which a
``datetime`` cannot hold) and converts to an aware ``datetime`` on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

Parse = Callable[[str], Any]
# The class below has a property named datetime: annotations inside it use this name.
Moment = datetime
Render = Callable[[Any], str]


class XsDateTime(str):
    """An ``xs:dateTime`` exactly as written, comparable to its text.

    ``.datetime`` gives the aware ``datetime`` (fractions past microseconds are
    truncated; ``24:00:00`` is the next midnight). Encoding accepts a
    ``datetime`` too, written in canonical form with ``Z`` for UTC.
    """

    __slots__ = ()

    @property
    def datetime(self) -> Moment:
        text = str(self)
        date_part, _, rest = text.partition("T")
        clock, zone = _split_zone(rest)
        hms, _, fraction = clock.partition(".")
        midnight_after = hms == "24:00:00"
        if midnight_after:
            hms = "00:00:00"
        iso = f"{date_part}T{hms}" + (f".{fraction[:6].ljust(6, '0')}" if fraction else "") + zone
        value = datetime.fromisoformat(iso)
        return value + timedelta(days=1) if midnight_after else value

    @classmethod
    def from_datetime(cls, value: Moment) -> XsDateTime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a naive datetime has no time zone; xs:dateTime here needs one")
        # Canonical xs:dateTime: no trailing zeros in the fraction, Z for UTC.
        offset = value.utcoffset()
        assert offset is not None
        minutes, seconds = divmod(int(offset.total_seconds()), 60)
        if seconds or offset.microseconds:
            raise ValueError("xs:dateTime time zones are whole minutes; this offset has seconds")
        if abs(minutes) > 14 * 60:
            raise ValueError("xs:dateTime time zones lie within -14:00..+14:00")
        sign = "-" if minutes < 0 else "+"
        zone = "Z" if minutes == 0 else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        fraction = f"{value.microsecond:06d}".rstrip("0")
        # The fields formatted one by one: strftime ("%Y" does not pad years before 1000 on every
        # platform) costs twice as much, and every task's TaskInfo writes three times.
        clock = (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        ) + (f".{fraction}" if fraction else "")
        return cls(clock + zone)


def _split_zone(clock: str) -> tuple[str, str]:
    if clock.endswith("Z"):
        return clock[:-1], "+00:00"
    if len(clock) > 6 and clock[-6] in "+-":
        return clock[:-6], clock[-6:]
    return clock, ""


def _parse_bool(text: str) -> bool:
    return text in ("true", "1")


def _render_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _render_bool(value: Any) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return "true" if value else "false"


def _render_int(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return str(value)


def _render_decimal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(f"expected a Decimal or int, got {type(value).__name__}")
    return str(value)


def _render_float(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a float, got {type(value).__name__}")
    return repr(float(value)).replace("inf", "INF")


def _render_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return XsDateTime.from_datetime(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"expected an xs:dateTime string or aware datetime, got {type(value).__name__}")


# Builtin integer types and their value ranges (XSD Part 2); restrictions narrow them further.
INTEGER_RANGES: dict[str, tuple[int | None, int | None]] = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
    "positiveInteger": (1, None),
    "nonNegativeInteger": (0, None),
    "negativeInteger": (None, -1),
    "nonPositiveInteger": (None, 0),
    "integer": (None, None),
}
INTEGER_TYPES = frozenset(INTEGER_RANGES)

# Builtin XSD type name -> (parse, render). Types not listed are text.
_BY_BUILTIN: dict[str, tuple[Parse, Render]] = {
    "boolean": (_parse_bool, _render_bool),
    "decimal": (Decimal, _render_decimal),
    "float": (float, _render_float),
    "double": (float, _render_float),
    "dateTime": (XsDateTime, _render_datetime),
    **{name: (int, _render_int) for name in INTEGER_TYPES},
}
TEXT: tuple[Parse, Render] = (str, _render_str)


def converters_for(builtin_names: list[str]) -> tuple[Parse, Render]:
    """The converters of the nearest builtin ancestor named in *builtin_names*.

    *builtin_names* lists a simple type's builtin ancestors, nearest first
    (``int`` before ``long`` before ``decimal``).
    """
    for name in builtin_names:
        if name in _BY_BUILTIN:
            return _BY_BUILTIN[name]
    return TEXT
