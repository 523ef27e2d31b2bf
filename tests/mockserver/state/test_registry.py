"""The registry's rules for writers, each enforced by construction, and each broken on purpose here:

1. the state changes only inside a transaction (elsewhere: NotInTransaction);
2. only through update/add/remove (a managed object refuses assignment; its properties are a
   read-only view; values are immutable);
3. a transaction is all or nothing: one that raises is undone, and with a store what it changed
   is written before it ends (a store that fails undoes it too).

And what readers rely on: every change raises the revision (an update that changes nothing does
not), and the clock's changes are events fired in due order before anything is read.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.state.clock import Clock as MockClock
from vismock.mockserver.state.registry import ManagedObject, NotInTransaction, Registry, derived
from vismock.mockserver.state.store import Store, StoreError
from vismock.mockserver.vim25.values import Data


class Thing(ManagedObject):
    vim_type = "vismock.TestThing"
    served = False

    @derived
    def doubled(self) -> int:
        return int(self.get("count", 0)) * 2


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> Registry:
    return Registry(clock)


def added(registry: Registry, **props: Any) -> Thing:
    with registry.transaction():
        thing = Thing("thing-1", props)
        registry.add(thing)
    return thing


# -- rule 1: inside a transaction only


def test_a_change_outside_a_transaction_is_refused(registry: Registry) -> None:
    thing = added(registry, count=1)
    with pytest.raises(NotInTransaction):
        thing.update(count=2)
    with pytest.raises(NotInTransaction):
        registry.add(Thing("thing-2"))
    with pytest.raises(NotInTransaction):
        registry.remove(thing)
    assert thing.get("count") == 1


def test_another_threads_transaction_does_not_let_this_thread_write(registry: Registry) -> None:
    thing = added(registry, count=1)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with registry.transaction():
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    try:
        with pytest.raises(NotInTransaction):
            thing.update(count=2)
    finally:
        release.set()
        holder.join(5)


# -- rule 2: through the registry only


def test_a_managed_object_refuses_assignment_and_its_properties_are_read_only(registry: Registry) -> None:
    thing = added(registry, count=1)
    with pytest.raises(AttributeError, match=r"Registry\.update"):
        thing.count = 2  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        thing.props["count"] = 2  # type: ignore[index]
    assert thing.get("count") == 1


def test_a_data_object_is_immutable() -> None:
    info = Data("TaskInfo", key="task-1", state="running")
    with pytest.raises(AttributeError):
        info.state = "success"  # type: ignore[misc]
    assert info.replace(state="success").state == "success" and info.state == "running"


# -- rule 3: all or nothing


def test_a_transaction_that_raises_is_undone(registry: Registry) -> None:
    thing = added(registry, count=1)
    with pytest.raises(RuntimeError), registry.transaction():
        thing.update(count=2)
        registry.add(Thing("thing-2"))
        registry.remove(thing)
        raise RuntimeError("half way")
    assert registry.find("thing-1") is thing and thing.get("count") == 1
    assert registry.find("thing-2") is None


def test_an_update_that_fails_on_a_later_path_changes_nothing(registry: Registry) -> None:
    thing = added(registry, count=1)
    with registry.transaction():
        with pytest.raises(TypeError, match="holds no data object"), registry.savepoint():
            thing.update({"count": 2, "count.deeper": 3})  # the second path cannot be set
        assert thing.get("count") == 1  # the first path's change went with it
        thing.update(count=4)
    assert thing.get("count") == 4


def test_a_savepoint_undoes_only_what_it_changed(registry: Registry) -> None:
    thing = added(registry, count=1)
    with registry.transaction():
        thing.update(count=2)
        with pytest.raises(ValueError), registry.savepoint():
            thing.update(count=3)
            raise ValueError("the effect failed")
    assert thing.get("count") == 2


def test_a_store_gets_every_change_before_the_transaction_ends(tmp_path: Path, clock: Clock) -> None:
    store = Store(tmp_path / "state.db")
    registry = Registry(clock, store)
    seen: list[Any] = []
    with registry.transaction():
        registry.add(Thing("thing-1", {"count": 1}))
    with registry.transaction():
        registry.find("thing-1").update(count=2)  # type: ignore[union-attr]
        seen.append(_stored(tmp_path / "state.db"))  # not yet: the transaction is open
    seen.append(_stored(tmp_path / "state.db"))
    assert seen == [{"thing-1": '{"count":1}'}, {"thing-1": '{"count":2}'}]


def test_a_store_that_fails_undoes_the_change(tmp_path: Path, clock: Clock) -> None:
    store = Store(tmp_path / "state.db")
    registry = Registry(clock, store)
    thing = Thing("thing-1", {"count": 1})
    with registry.transaction():
        registry.add(thing)
    store.close()  # every later write fails
    with pytest.raises(sqlite3.ProgrammingError), registry.transaction():
        thing.update(count=2)
    assert thing.get("count") == 1


def test_a_file_that_is_no_state_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="not a vismock state file"):
        Store(other)


def _stored(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, data FROM objects"))


# -- what readers rely on


def test_every_change_raises_the_revision_and_no_change_does_not(registry: Registry) -> None:
    thing = added(registry, count=1)
    revision = registry.revision
    with registry.transaction():
        thing.update(count=1)
    assert registry.revision == revision
    with registry.transaction():
        thing.update(count=2)
    assert registry.revision > revision


def test_a_derived_property_follows_its_sources(registry: Registry) -> None:
    thing = added(registry, count=2)
    assert thing.read("doubled") == 4
    with registry.transaction():
        thing.update(count=5)
    assert thing.read("doubled") == 10


def test_events_fire_in_due_order_before_anything_is_read(registry: Registry, clock: Clock) -> None:
    thing = added(registry, count=0)
    fired: list[int] = []

    def event(label: int) -> Any:
        def fire(due_us: int) -> None:
            fired.append(label)
            thing.update(count=label)

        return fire

    with registry.transaction():
        registry.schedule(clock.now + 20, event(2))
        registry.schedule(clock.now + 10, event(1))
        registry.schedule(clock.now + 30, event(3))
    revision = registry.revision
    clock.now += 25
    registry.settle()
    assert fired == [1, 2] and thing.get("count") == 2 and registry.revision > revision


@pytest.mark.parametrize("read", ["find", "all", "of_type", "get"])
def test_a_read_outside_a_transaction_sees_the_events_due(
    registry: Registry, clock: Clock, read: str
) -> None:
    """The admin API, the plugin and the dashboard read without a request's settle: the registry's
    readers settle themselves (a snapshot task done 2 s ago showed no snapshot before this)."""
    thing = added(registry, count=0)
    with registry.transaction():
        registry.schedule(clock.now + 10, lambda due: thing.update(count=1))
    clock.now += 10
    readers = {
        "find": lambda: registry.find("thing-1"),
        "all": lambda: registry.all(Thing),
        "of_type": lambda: registry.of_type("vismock.TestThing"),
        "get": lambda: registry.get(thing.ref),
    }
    if read == "get":
        with pytest.raises(ManagedObjectNotFound):  # unserved: not found, but the events fired first
            readers[read]()
    else:
        readers[read]()
    assert thing.get("count") == 1


def test_events_survive_a_transaction_that_fails_after_them(registry: Registry, clock: Clock) -> None:
    thing = added(registry, count=0)
    with registry.transaction():
        registry.schedule(clock.now + 10, lambda due: thing.update(count=1))
    clock.now += 10
    with pytest.raises(RuntimeError), registry.transaction():
        raise RuntimeError("the caller's own work fails")
    assert thing.get("count") == 1


class Other(ManagedObject):
    vim_type = "vismock.TestOther"
    served = False


def test_all_lists_a_class_in_the_order_added_also_after_an_undone_removal(registry: Registry) -> None:
    with registry.transaction():
        for number in range(3):
            registry.add(Thing(f"thing-{number}", {}))
            registry.add(Other(f"other-{number}", {}))
    with pytest.raises(RuntimeError), registry.transaction():
        registry.remove(registry.all(Thing)[1])
        assert [thing.id for thing in registry.all(Thing)] == ["thing-0", "thing-2"]
        raise RuntimeError("undone")
    assert [thing.id for thing in registry.all(Thing)] == ["thing-0", "thing-1", "thing-2"]
    assert [other.id for other in registry.all(Other)] == ["other-0", "other-1", "other-2"]
    assert [obj.id for obj in registry.all()][:4] == ["thing-0", "other-0", "thing-1", "other-1"]
    with pytest.raises(RuntimeError), registry.transaction():
        registry.add(Thing("thing-9", {}))
        raise RuntimeError("undone")
    assert len(registry.all(Thing)) == 3 and registry.find("thing-9") is None


def test_a_transaction_happens_at_one_instant() -> None:
    """The mock's real-time clock stands still inside a transaction: an event that falls due
    during one is not half-seen (its time passed by the clock, its change not applied), it fires
    at the start of the next. Broken, a power-off's end could read done while the VM still read on."""
    clock = MockClock()
    registry = Registry(clock.now_us)
    fired: list[int] = []
    with registry.transaction():
        start = clock.now_us()
        registry.schedule(start + 2_000, fired.append)
        time.sleep(0.005)
        assert clock.now_us() == registry.now_us() == start
        assert fired == []
    with registry.transaction():
        assert fired == [start + 2_000]
        assert registry.now_us() >= start + 5_000
    outside = clock.now_us()  # outside a transaction: real time again
    time.sleep(0.002)
    assert clock.now_us() > outside


def test_a_waiter_wakes_on_a_change(registry: Registry) -> None:
    thing = added(registry, count=0)
    revision = registry.revision

    def change() -> None:
        time.sleep(0.05)
        with registry.transaction():
            thing.update(count=1)

    changer = threading.Thread(target=change)
    changer.start()
    started = time.monotonic()
    assert registry.wait(revision, timeout=10) > revision
    assert time.monotonic() - started < 5
    changer.join()
