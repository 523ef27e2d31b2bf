"""How busy each SOAP session is (vim25 ``UserSession.callCount`` and ``lastActiveTime``), counted
without a database write per request.

Every call of a session counts, including those the server answers from memory, so the counters
are touched on the hot path, where an SQLite write transaction would cost more than the answer.
They live in a small file next to the database (``<db>-activity``), mapped into memory by every
worker process, one slot per session. A slot has one lane per process so that processes never
write the same bytes: a process claims a free lane once (an ``fcntl`` lock on that lane's byte of
``<db>-lanes``, held while it lives and released by the kernel when it exits); its threads take
turns with a plain lock. A session's activity is the sum of its lanes.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from vismock.mockserver.state.db import current_pid

LANES = 16  # processes counting at once without a lock between them; more share one more lane
SHARED_LANE = LANES
_TAG = struct.Struct("<Q")
_LANE = struct.Struct("<qq")  # calls, last active (mock-clock microseconds)
_SLOT_SIZE = _TAG.size + (LANES + 1) * _LANE.size


@dataclass(frozen=True, slots=True)
class Activity:
    calls: int
    last_active_us: int


def session_tag(key: str) -> int:
    """What marks a slot as a session's (never zero: zero is a slot being given out)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") | 1


@dataclass(slots=True)
class _Claim:
    """This process's lane of one lanes file (fcntl locks belong to a process, not to an object)."""

    pid: int
    fd: int
    lane: int
    lock: threading.Lock
    users: int = 0


_claims: dict[Path, _Claim] = {}
_claims_lock = threading.Lock()


def _claim(lanes_path: Path) -> _Claim:
    with _claims_lock:
        claim = _claims.get(lanes_path)
        if claim is None or claim.pid != current_pid():  # a forked child holds none of its parent's locks
            fd = os.open(lanes_path, os.O_RDWR | os.O_CREAT, 0o600)
            claim = _Claim(current_pid(), fd, _free_lane(fd), threading.Lock())
            _claims[lanes_path] = claim
        claim.users += 1
        return claim


def _free_lane(fd: int) -> int:
    for lane in range(LANES):
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, lane)
        except OSError:
            continue
        return lane  # held while fd is open (closing any fd of the file would release it)
    return SHARED_LANE


def _release_in(lanes_path: Path, claim: _Claim) -> None:
    if claim.pid == current_pid():
        _release(lanes_path, claim)


def _release(lanes_path: Path, claim: _Claim) -> None:
    with _claims_lock:
        claim.users -= 1
        if claim.users <= 0 and _claims.get(lanes_path) is claim:
            del _claims[lanes_path]
            os.close(claim.fd)


class ActivityCounters:
    """One slot per live session (a session's slot number modulo *slots*)."""

    def __init__(self, path: Path, slots: int) -> None:
        self.path = Path(f"{path}-activity")
        self._lanes_path = Path(f"{path}-lanes")
        self._slots = slots
        size = slots * _SLOT_SIZE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._claim: _Claim | None = None
        # Releases the claim when these counters are collected unclosed.
        self._releaser: weakref.finalize[[Path, _Claim], ActivityCounters] | None = None

    def start(self, slot: int, tag: int, now_us: int) -> None:
        """Give *slot* to a new session (*tag*: its :func:`session_tag`): one call (its Login), active now."""
        offset, claim = self._offset(slot), self._my_claim()
        with claim.lock:
            _TAG.pack_into(self._map, offset, 0)  # nobody's while its lanes are cleared
            for lane in range(LANES + 1):
                _LANE.pack_into(self._map, self._lane_offset(offset, lane), 0, 0)
            _LANE.pack_into(self._map, self._lane_offset(offset, claim.lane), 1, now_us)
            _TAG.pack_into(self._map, offset, tag)

    def touch(self, slot: int, tag: int, now_us: int) -> None:
        """One call more for the session in *slot* (nothing when the slot is not, or no longer, its)."""
        offset, claim = self._offset(slot), self._my_claim()
        if _TAG.unpack_from(self._map, offset)[0] != tag:
            return
        at = self._lane_offset(offset, claim.lane)
        with claim.lock:
            if claim.lane != SHARED_LANE:
                self._add(at, now_us)
                return
            fcntl.lockf(claim.fd, fcntl.LOCK_EX, 1, SHARED_LANE)  # shared with other processes
            try:
                self._add(at, now_us)
            finally:
                fcntl.lockf(claim.fd, fcntl.LOCK_UN, 1, SHARED_LANE)

    def read(self, slot: int, tag: int) -> Activity | None:
        """The session's calls and last activity; None when *slot* is not (or no longer) its."""
        offset = self._offset(slot)
        if _TAG.unpack_from(self._map, offset)[0] != tag:
            return None
        lanes = [_LANE.unpack_from(self._map, self._lane_offset(offset, lane)) for lane in range(LANES + 1)]
        return Activity(sum(calls for calls, _ in lanes), max(active for _, active in lanes))

    def close(self) -> None:
        if self._releaser is not None:
            self._releaser()
        self._claim = None
        self._map.close()

    def _my_claim(self) -> _Claim:
        claim = self._claim
        if claim is None or claim.pid != current_pid():
            claim = self._claim = _claim(self._lanes_path)
            # Released with these counters even when nobody closes them (a forked child's
            # claim is its own: the parent's finalizer does nothing there).
            self._releaser = weakref.finalize(self, _release_in, self._lanes_path, claim)
        return claim

    def _add(self, at: int, now_us: int) -> None:
        calls, active = _LANE.unpack_from(self._map, at)
        _LANE.pack_into(self._map, at, calls + 1, max(active, now_us))

    def _offset(self, slot: int) -> int:
        return (slot % self._slots) * _SLOT_SIZE

    @staticmethod
    def _lane_offset(offset: int, lane: int) -> int:
        return offset + _TAG.size + lane * _LANE.size
