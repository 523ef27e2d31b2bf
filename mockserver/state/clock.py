"""The mock's clock: real time plus an offset, or frozen at an instant.

Every lifecycle reads it, so tests are deterministic: freeze, add a task, advance. It never jumps
back by itself (resume keeps the offset); :meth:`Clock.freeze` at an earlier instant is the one way
back (the state then restarts what it recorded after that instant: see Backend.freeze).

The clock is an object of the registry like any other, so setting it is a change like any other
(the revision moves, ``--db`` keeps it); reading it is two attribute reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vismock.errors import VismockError
from vismock.mockserver.state.registry import ManagedObject, real_time_us

CLOCK_ID = "vismock:clock"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Far from datetime's limits even with a timeline's offsets added.
CLOCK_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, tzinfo=UTC))
MAX_ADVANCE_SECONDS = 100 * 365 * 86_400  # a century: far past any timeline, far from datetime's limits


def to_us(value: datetime) -> int:
    """Microseconds since the epoch (exact: integers, not floats). A naive *value* is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // MICROSECOND


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Clock(ManagedObject):
    """``frozen_us`` set: frozen there; else real time plus ``offset_us``."""

    vim_type = "vismock.Clock"
    served = False
    permanent = True

    def __init__(self, object_id: str = CLOCK_ID, props: dict[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"offset_us": 0})

    # -- reading

    def now_us(self) -> int:
        frozen: int | None = self._props.get("frozen_us")
        return frozen if frozen is not None else real_time_us() + int(self._props["offset_us"])

    def now(self) -> datetime:
        """The mock's clock (aware UTC): real time unless frozen, plus any advance."""
        return from_us(self.now_us())

    def describe(self) -> dict[str, Any]:
        """``{"now": datetime, "frozen": bool, "offset_seconds": float}`` for the admin API."""
        now_us = self.now_us()
        return {
            "now": from_us(now_us),
            "frozen": self._props.get("frozen_us") is not None,
            "offset_seconds": (now_us - real_time_us()) / 1_000_000,
        }

    # -- moving it (inside a transaction)

    def freeze(self, at: datetime | None = None) -> int:
        """Stop the clock at *at* (aware) or at the current mock time; the instant, in µs."""
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise VismockError("freeze(at=...) needs an aware datetime (with a time zone)")
        if at is not None and not CLOCK_RANGE[0] <= at <= CLOCK_RANGE[1]:
            raise VismockError(f"freeze(at={at.isoformat()}): the clock stays within years 1970..8999")
        frozen_us = to_us(at) if at is not None else self.now_us()
        self.update(frozen_us=frozen_us)
        return frozen_us

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (frozen or running) by *seconds* (>= 0)."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise VismockError(
                f"advance({seconds!r}): the clock moves forward by 0..{MAX_ADVANCE_SECONDS} seconds at a time"
            )
        delta_us = round(seconds * 1_000_000)
        if from_us(self.now_us() + delta_us) > CLOCK_RANGE[1]:
            raise VismockError(f"advance({seconds!r}) would take the clock past year 8999")
        frozen = self._props.get("frozen_us")
        if frozen is not None:
            self.update(frozen_us=frozen + delta_us)
        else:
            self.update(offset_us=self._props["offset_us"] + delta_us)
        return self.now()

    def resume(self) -> datetime:
        """Let the clock run again from where it stands (it never jumps backwards)."""
        now_us = self.now_us()
        self.update(frozen_us=None, offset_us=now_us - real_time_us())
        return from_us(now_us)

    def reset(self) -> None:
        self.update(frozen_us=None, offset_us=0)
