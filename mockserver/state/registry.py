"""The mock's state: one registry of managed objects, changed in one place.

Modelled on govmomi's simulator (its ``Map``): every object the mock serves (folders, datacenters,
hosts, virtual machines, tasks, snapshots, the collectors and views a session made) and the mock's
own settings (its clock, fault rules, task behaviours) is a :class:`ManagedObject` here, holding
its properties as immutable values. A change happens only inside :meth:`Registry.transaction`
(which holds the one lock) through :meth:`Registry.update`, :meth:`Registry.add` or
:meth:`Registry.remove`, so three things hold by construction:

1. every change raises the one :attr:`Registry.revision` (what a remembered answer is checked
   against) and wakes whoever waits for changes (WaitForUpdates);
2. a transaction that raises is undone: nothing half-changed is ever seen or stored;
3. with a store (``--db``) every change is written before the transaction ends, so before the
   answer that acknowledges it is sent.

A managed object refuses plain attribute assignment, and :meth:`Registry.update` refuses to run
outside a transaction: the rules cannot be forgotten, only broken on purpose (the tests try).

The mock's clock brings changes too: a task's next step, a session's expiry. Those are events on
one schedule (:meth:`Registry.schedule`), fired in due order by :meth:`Registry.settle`, which
every request calls before it reads anything. So between two revisions nothing the mock answers
changes, except what :meth:`Registry.note_volatile` marks (the current time, a session's call count).
A transaction happens at one instant (:func:`real_time_us`): the events due by it fired first, and
every read of the clock inside it the same, so no transaction sees a task ended whose end has not
been applied (a power-on allowed by a VM still off while the power-off it waited for reads done).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.state.store import Store

T = TypeVar("T", bound="ManagedObject")
Event = Callable[[int], None]
"""An event on the schedule: called inside a transaction with the instant (mock-clock µs) it was due."""
NEVER = 2**62
KINDS: dict[str, type[ManagedObject]] = {}
"""Every class of object by its vim_type (how a store's rows are read back)."""


_instant = threading.local()  # .us: the real time of this thread's open transaction


def real_time_us() -> int:
    """Real time, in microseconds since the epoch; inside a transaction, the instant it began
    (the mock's clock is real time plus an offset: it stands still for the transaction too)."""
    pinned: int | None = getattr(_instant, "us", None)
    return pinned if pinned is not None else time.time_ns() // 1_000


class NotInTransaction(RuntimeError):
    """A change of the state outside :meth:`Registry.transaction` (a programming error)."""


class ManagedObject:
    """An object of the registry: its id, and its properties as immutable values by name.

    Subclasses (one module per vim25 type, see ``vismock.mockserver.objects``) name their vim25 type
    in :attr:`vim_type`, read stored properties with :meth:`get` and declare the properties derived
    from others with :func:`derived`. Properties whose name starts with ``_`` are the mock's own
    (a task's timeline, a session's key): kept and stored like the others, never served.
    """

    vim_type: ClassVar[str] = "ManagedObject"
    served: ClassVar[bool] = True  # False: the mock's own (its clock, rules...), never found by a reference
    permanent: ClassVar[bool] = False  # True: the service's own (its managers, settings): a reset keeps it
    public_properties: ClassVar[frozenset[str]] = frozenset()  # readable without a session
    derived_properties: ClassVar[dict[str, DerivedProperty]] = {}
    # vim25 methods and task effects by wire name, collected from what the class body marks
    # (vismock.mockserver.objects.base: vim_method, task_effect), inherited.
    methods: ClassVar[dict[str, Any]] = {}
    effects: ClassVar[dict[str, Any]] = {}

    def __init__(self, object_id: str, props: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "id", object_id)
        object.__setattr__(self, "_props", {k: v for k, v in (props or {}).items() if v is not None})
        object.__setattr__(self, "registry", None)

    id: str
    _props: dict[str, Any]
    registry: Registry | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        body = vars(cls)
        found = {name: value for name, value in body.items() if isinstance(value, DerivedProperty)}
        cls.derived_properties = {**cls.derived_properties, **found}
        methods = {
            v.__vim_method__.name: v.__vim_method__ for v in body.values() if hasattr(v, "__vim_method__")
        }
        cls.methods = {**cls.methods, **methods}
        effects = {name: v for v in body.values() for name in getattr(v, "__vim_effect__", ())}
        cls.effects = {**cls.effects, **effects}
        if "vim_type" in body:  # the class of its type (a subclass for a special case is not)
            KINDS[cls.vim_type] = cls

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{self.vim_type} {self.id}: set {name!r} through Registry.update inside a transaction"
        )

    def __repr__(self) -> str:
        return f"<{self.vim_type} {self.id}>"

    def survives_reset(self) -> bool:
        """Whether a reset keeps this object (the service's own: its managers, the mock's settings)."""
        return self.permanent

    @property
    def ref(self) -> MoRef:
        return MoRef(self.vim_type, self.id)

    @property
    def props(self) -> Mapping[str, Any]:
        """The stored properties (read-only)."""
        return MappingProxyType(self._props)

    def get(self, name: str, default: Any = None) -> Any:
        """A stored property (``default`` when unset)."""
        return self._props.get(name, default)

    def read(self, path: str) -> Any:
        """The value at property path *path* (``runtime.powerState``): stored or derived, then the
        data objects below it; None when unset anywhere on the way."""
        top, _, rest = path.partition(".")
        getter = self.derived_properties.get(top)
        value = getter.read(self) if getter is not None else self._props.get(top)
        if rest and value is not None:
            return value.at(rest) if isinstance(value, Data) else None
        return value

    @property
    def state(self) -> Registry:
        """The registry this object belongs to (it must have been added to one)."""
        if self.registry is None:
            raise RuntimeError(f"{self!r} is not in a registry")
        return self.registry

    def update(self, changes: Mapping[str, Any] | None = None, **named: Any) -> None:
        """Change properties (paths allowed: ``{"runtime.powerState": "poweredOff"}``)."""
        self.state.update(self, {**(changes or {}), **named})

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        """Properties whose value a client's read sees otherwise than they are stored: a task
        progressing by polls shows the step its reads have reached (*poll* counts the read);
        ``currentSession`` is the reader's *session*."""
        return {}

    # -- hooks for subclasses

    def added(self) -> None:
        """Called inside the transaction that added this object (schedule its events here)."""

    def restored(self) -> None:
        """Called when the object is loaded from a store: schedule its events again."""

    def removed(self) -> None:
        """Called inside the transaction that removes this object, before it goes."""


class DerivedProperty:
    """A vim25 property computed from the state when read (``summary`` from ``runtime`` and
    ``config``; a folder's ``childEntity`` from its children's ``parent``): where its value comes
    from is named once, and it is never out of step with its sources. *volatile*: it changes without
    a state change (the current time, a session's call count), so an answer reading it is never
    remembered."""

    def __init__(self, getter: Callable[[Any], Any], volatile: bool = False) -> None:
        self.getter = getter
        self.volatile = volatile
        self.name = getter.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def read(self, obj: ManagedObject) -> Any:
        if self.volatile and obj.registry is not None:
            obj.registry.note_volatile()
        return self.getter(obj)

    def __get__(self, obj: ManagedObject | None, owner: type | None = None) -> Any:
        return self if obj is None else self.read(obj)


def derived(getter: Callable[[Any], Any] | None = None, *, volatile: bool = False) -> Any:
    """Declare a derived property: ``@derived def summary(self) -> Data: ...`` on a type's class."""
    if getter is None:
        return lambda function: DerivedProperty(function, volatile)
    return DerivedProperty(getter, volatile)


@dataclass(slots=True)
class _Transaction:
    """What the open transaction changed: how to undo it, and what to store."""

    undo: list[Callable[[], None]] = field(default_factory=list)
    dirty: dict[str, ManagedObject | None] = field(default_factory=dict)  # id -> object (None: removed)
    changed: bool = False


@dataclass(order=True, slots=True)
class _Scheduled:
    due_us: int
    seq: int
    event: Event = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduled:
    """A handle on a scheduled event: :meth:`cancel` it (a task cancelled before its next step)."""

    __slots__ = ("_entry",)

    def __init__(self, entry: _Scheduled) -> None:
        self._entry = entry

    @property
    def due_us(self) -> int:
        return self._entry.due_us

    def cancel(self) -> None:
        self._entry.cancelled = True


class Registry:
    """Every managed object by id, the one lock, the one revision and the one schedule.

    *now_us* is the mock's clock (microseconds since the epoch): events fall due by it.
    """

    def __init__(self, now_us: Callable[[], int], store: Store | None = None) -> None:
        self._now_us = now_us
        self.store = store
        self._objects: dict[str, ManagedObject] = {}
        # The same objects by class (each in the order added): all(SomeType) without a scan of
        # every object (thousands of tasks) for the VMs, sessions or snapshots it wants.
        self._by_class: dict[type[ManagedObject], dict[str, ManagedObject]] = {}
        # When each object was added: where an undone removal puts it back (a removal does not
        # look for its place among thousands of objects; only the rare undo sorts).
        self._added: dict[str, int] = {}
        self._add_order = itertools.count()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tx: _Transaction | None = None
        self._owner: int | None = None  # the thread whose transaction is open
        self._depth = 0
        self._schedule: list[_Scheduled] = []
        self._seq = itertools.count()
        self.revision = 0
        self.volatile_reads = 0
        self.backend: Any = None  # what owns this state (vismock.mockserver.state.Backend), for objects

    # -- reading (callers hold the lock through a transaction, or read immutable values). A read
    # from outside a transaction (the admin API, the plugin, the dashboard) settles first, so no
    # reader can see the state before the clock's due changes; inside one they have fired already.

    def __contains__(self, object_id: str) -> bool:
        self._settle_for_reader()
        return object_id in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def find(self, object_id: str) -> ManagedObject | None:
        self._settle_for_reader()
        return self._objects.get(object_id)

    def get(self, ref: MoRef, cls: type[T] = ManagedObject) -> T:  # type: ignore[assignment]
        """The object *ref* names, when it is of its type (a subtype will do) and of *cls*;
        ManagedObjectNotFound otherwise, as vCenter answers."""
        self._settle_for_reader()
        found = self._objects.get(ref.value)
        if (
            found is None
            or not found.served
            or not isinstance(found, cls)
            or not is_a(found.vim_type, ref.type)
        ):
            raise ManagedObjectNotFound(ref.type, ref.value)
        return found

    def all(self, cls: type[T] = ManagedObject) -> list[T]:  # type: ignore[assignment]
        """Every object of class *cls*, in the order they were added."""
        self._settle_for_reader()
        classes = [kind for kind, members in self._by_class.items() if members and issubclass(kind, cls)]
        if len(classes) == 1:
            return list(self._by_class[classes[0]].values())  # type: ignore[arg-type]
        return [obj for obj in self._objects.values() if isinstance(obj, cls)] if classes else []

    def of_type(self, vim_type: str) -> list[ManagedObject]:
        """Every object whose vim25 type is *vim_type* or a subtype of it."""
        self._settle_for_reader()
        return [obj for obj in self._objects.values() if is_a(obj.vim_type, vim_type)]

    def now_us(self) -> int:
        """The mock's clock, in microseconds since the epoch."""
        return self._now_us()

    def note_volatile(self) -> None:
        """Something read changes without a state change: the answer must not be remembered."""
        self.volatile_reads += 1

    # -- the one place of change

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; changes inside are undone if this raises, else stored and announced."""
        with self._lock:
            if self._depth != 0:  # inside this thread's open transaction
                yield
                return
            _instant.us = time.time_ns() // 1_000
            try:
                if self._next_due() <= self._now_us():
                    # The events due first, in a transaction of their own: a fault the caller's
                    # work raises must not undo them.
                    with self._opened():
                        self._fire_due()
                with self._opened():
                    yield
            finally:
                _instant.us = None

    @contextmanager
    def _opened(self) -> Iterator[None]:
        tx = self._tx = _Transaction()
        self._owner, self._depth = threading.get_ident(), 1
        try:
            yield
            if tx.dirty and self.store is not None:
                self.store.write(tx.dirty)  # before the answer that acknowledges it
        except BaseException:
            self._rollback(tx)
            raise
        finally:
            self._tx, self._owner, self._depth = None, None, 0
            if tx.changed:
                self._changed.notify_all()

    def _transaction(self) -> _Transaction:
        tx = self._tx
        if tx is None or self._owner != threading.get_ident():
            raise NotInTransaction("the state changes only inside Registry.transaction()")
        return tx

    def add(self, obj: ManagedObject) -> ManagedObject:
        """Add *obj* (its id must be new)."""
        tx = self._insert(obj)
        self._changed_object(tx, obj)
        obj.added()
        return obj

    def restore(self, obj: ManagedObject) -> ManagedObject:
        """Put back *obj* as a store holds it: not an addition (``added()`` is not called: what it
        does happened when the object was first added) and nothing to write back. Whatever an
        object's ``restored()`` changes afterwards is an ordinary change, written like any other."""
        self._raise(self._insert(obj))
        return obj

    def _insert(self, obj: ManagedObject) -> _Transaction:
        tx = self._transaction()
        if obj.id in self._objects:
            raise ValueError(f"{obj!r}: the id {obj.id!r} is taken")
        object.__setattr__(obj, "registry", self)
        self._objects[obj.id] = obj
        self._by_class.setdefault(type(obj), {})[obj.id] = obj
        self._added[obj.id] = next(self._add_order)
        tx.undo.append(lambda: self._forget(obj))
        return tx

    def remove(self, obj: ManagedObject) -> None:
        tx = self._transaction()
        if self._objects.get(obj.id) is not obj:
            return
        obj.removed()
        added = self._added[obj.id]
        self._forget(obj)
        tx.undo.append(lambda: self._reinsert(obj, added))
        tx.dirty[obj.id] = None
        self._raise(tx)

    def update(self, obj: ManagedObject, changes: Mapping[str, Any]) -> None:
        """Set properties of *obj*: ``{"name": ..., "runtime.powerState": ..., "_runtime": ...}``
        (None unsets). Paths below a property set a field of its data object (made when unset)."""
        tx = self._transaction()
        before = dict(obj._props)
        props = obj._props
        try:
            for path, value in changes.items():
                top, _, rest = path.partition(".")
                if rest:
                    current = props.get(top)
                    if not isinstance(current, Data):
                        raise TypeError(f"{obj!r}: {top!r} holds no data object to set {rest!r} in")
                    value = current.with_path(rest, value)
                if value is None:
                    props.pop(top, None)
                else:
                    props[top] = value
        except BaseException:
            _restore(obj, before)  # all of the update or none of it: a rollback finds no undo for it
            raise
        if props == before:
            return  # nothing changed: no new revision, nothing to store
        tx.undo.append(lambda: _restore(obj, before))
        self._changed_object(tx, obj)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: if the block raises, undo what it changed (and only that)."""
        tx = self._transaction()
        mark = len(tx.undo)
        try:
            yield
        except BaseException:
            while len(tx.undo) > mark:
                tx.undo.pop()()
            raise

    def schedule(self, due_us: int, event: Event) -> Scheduled:
        """Fire *event* when the mock's clock reaches *due_us* (at the next :meth:`settle`)."""
        self._transaction()
        entry = _Scheduled(due_us, next(self._seq), event)
        heapq.heappush(self._schedule, entry)
        return Scheduled(entry)

    def settle(self) -> None:
        """Fire every event whose time has come (a cheap check when none has)."""
        # A peek without the lock: the heap is only reordered under it. A cancelled entry on top
        # costs one empty transaction, which drops it. Nothing scheduled (the common case: every
        # request settles several times) is seen without raising.
        schedule = self._schedule
        if not schedule:
            return
        try:
            due_us = schedule[0].due_us
        except IndexError:  # another thread just took the last
            return
        if due_us <= self._now_us():
            with self.transaction():
                pass  # the transaction fires them

    def next_due_us(self) -> int:
        with self._lock:
            return self._next_due()

    def touch(self) -> None:
        """Raise the revision without changing an object: something outside the objects that
        answers depend on changed (the accounts, the dynamic mode)."""
        self._raise(self._transaction())

    # -- waiting for changes

    def wait(self, revision: int, timeout: float) -> int:
        """Block (releasing the lock) until the revision moves past *revision*, the next event
        falls due, or *timeout* seconds pass; the revision then (events fired)."""
        with self._lock:
            if self.revision == revision:
                until_event = (self._next_due() - self._now_us()) / 1e6
                self._changed.wait(max(0.0, min(timeout, until_event)))
        self.settle()
        return self.revision

    def notify(self) -> None:
        """Wake every waiter (a reset, a cancelled wait) so it looks again."""
        with self._lock:
            self._changed.notify_all()

    # -- internals

    def _settle_for_reader(self) -> None:
        if self._owner != threading.get_ident():
            self.settle()

    def _next_due(self) -> int:
        schedule = self._schedule
        while schedule and schedule[0].cancelled:
            heapq.heappop(schedule)
        return schedule[0].due_us if schedule else NEVER

    def _fire_due(self) -> None:
        now = self._now_us()
        while self._next_due() <= now:
            entry = heapq.heappop(self._schedule)
            entry.event(entry.due_us)

    def _changed_object(self, tx: _Transaction, obj: ManagedObject) -> None:
        if obj.id in self._objects:
            tx.dirty[obj.id] = obj
        self._raise(tx)

    def _raise(self, tx: _Transaction) -> None:
        self.revision += 1
        tx.changed = True

    def _forget(self, obj: ManagedObject) -> None:
        self._objects.pop(obj.id, None)
        self._by_class.get(type(obj), {}).pop(obj.id, None)
        self._added.pop(obj.id, None)

    def _reinsert(self, obj: ManagedObject, added: int) -> None:
        """An undone removal: *obj* back in its place in the order objects were added."""
        self._added[obj.id] = added
        order = self._added.__getitem__
        items = sorted([*self._objects.items(), (obj.id, obj)], key=lambda item: order(item[0]))
        self._objects = dict(items)
        kind = type(obj)
        self._by_class[kind] = {key: found for key, found in items if type(found) is kind}

    @staticmethod
    def _rollback(tx: _Transaction) -> None:
        for undo in reversed(tx.undo):
            undo()
        tx.dirty.clear()
        # The revision stays raised: an answer computed meanwhile must not be remembered.


def _restore(obj: ManagedObject, props: dict[str, Any]) -> None:
    obj._props.clear()
    obj._props.update(props)


def is_a(vim_type: str, ancestor: str) -> bool:
    """Whether vim25 type *vim_type* is *ancestor* or a subtype of it (by the vim25 model; the
    mock's own object types are of no vim25 type but their own)."""
    if vim_type == ancestor or ancestor == "ManagedObject":
        return True
    from vismock.schemas import managed_lineage

    return ancestor in managed_lineage(vim_type)
