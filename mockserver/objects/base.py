"""What every managed type's module uses: the call context, and the markers of vim25 methods and
of the effects of tasks.

A type's module defines its class (a :class:`~vismock.mockserver.state.registry.ManagedObject`)
and, in its body, its vim25 methods and what its tasks do when they succeed::

    class VirtualMachine(ManagedEntity):
        vim_type = "VirtualMachine"

        @vim_method("PowerOffVM_Task")
        def power_off(self, ctx: Context) -> MoRef:
            return start_task(ctx, self, "PowerOffVM_Task", refusal=...).ref

        @task_effect("PowerOffVM_Task")
        def powered_off(self, task: Task, args: Mapping[str, Any], at_us: int) -> Any:
            ...

A method takes the call's arguments as keywords named as vim25 names them (``removeChildren``),
typed by the vim25 model, and returns a value the SOAP face renders by the method's declared
return type; a fault is raised. Both faces call the same method (the adapter face through
``vismock.adapter.operations``), so a rule lives once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from vismock.faults import NotAuthenticated

if TYPE_CHECKING:
    from vismock.mockserver.state import Backend
    from vismock.mockserver.state.registry import Registry
    from vismock.mockserver.state.sessions import Session

F = TypeVar("F", bound=Callable[..., Any])


class Observer(Protocol):
    """What the journal learns of a call (the faces' Observation)."""

    task_ids: tuple[str, ...]
    entity: str | None


@dataclass(slots=True)
class _NoObserver:
    task_ids: tuple[str, ...] = ()
    entity: str | None = None


@dataclass(slots=True)
class Context:
    """One call of a vim25 method: who makes it, through which face, and what it tells the journal."""

    backend: Backend
    user: str | None = None  # who is calling (a task's TaskReasonUser)
    session: Session | None = None  # the SOAP session, when the call came with a live one
    observation: Observer = field(default_factory=_NoObserver)
    # The adapter face checks before it calls: a method's refusal (InvalidPowerState, TaskInProgress)
    # is raised, as its own error envelope, instead of being reported in a task that fails at once.
    refuse: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list)  # extra reply headers (Set-Cookie)
    remote_addr: str = ""
    user_agent: str = ""

    @property
    def registry(self) -> Registry:
        return self.backend.registry

    def required_session(self) -> Session:
        if self.session is None:
            raise NotAuthenticated()
        return self.session

    def noted_task(self, task_id: str) -> None:
        """The call started (or named) task *task_id*: the journal says so."""
        self.observation.task_ids = (*self.observation.task_ids, task_id)


@dataclass(frozen=True, slots=True)
class Method:
    """A vim25 method of a managed type: its wire name and how to call it."""

    name: str
    function: Callable[..., Any]
    authenticated: bool = True  # False: callable without a session (Login, RetrieveServiceContent)
    # True: it waits (WaitForUpdates), so it opens its own transactions around what it reads and
    # waits between them; every other method runs inside one transaction of the state.
    blocking: bool = False


def vim_method(name: str, *, authenticated: bool = True, blocking: bool = False) -> Callable[[F], F]:
    """Mark a function of a type's class body as vim25 method *name*."""

    def mark(function: F) -> F:
        function.__vim_method__ = Method(name, function, authenticated, blocking)  # type: ignore[attr-defined]
        return function

    return mark


def task_effect(name: str) -> Callable[[F], F]:
    """Mark a function of a type's class body as what a task of method *name* does when it
    succeeds: ``effect(self, task, args, at_us) -> result`` (a fault raised fails the task)."""

    def mark(function: F) -> F:
        function.__vim_effect__ = (*getattr(function, "__vim_effect__", ()), name)  # type: ignore[attr-defined]
        return function

    return mark


# -- reading properties (what RetrieveProperties, Fetch and WaitForUpdates read)


def property_type(vim_type: str, path: str) -> Any:
    """The vim25 declaration of property path *path* of type *vim_type*; InvalidProperty when
    vim25 has no such path (as vCenter answers)."""
    from vismock.faults import InvalidProperty
    from vismock.mockserver.vim25.typemodel import model

    found = model().path_type(vim_type, path) if vim_type in model() else None
    if found is None:
        raise InvalidProperty(path, f"{vim_type} has no property {path!r}")
    return found


def read_properties(
    obj: Any, paths: Sequence[str], session: Session | None, *, poll: bool
) -> list[tuple[str, Any]]:
    """The values of *paths* of *obj* now, typed for the wire (``propSet/val`` carries its
    xsi:type; None: unset). Without a session only what vCenter shows anyone can be read. *poll*:
    the read is a client's (a task progressing by polls counts it); False for a re-check."""
    declared = [(path, property_type(obj.vim_type, path)) for path in paths]
    if session is None and not all(path.split(".", 1)[0] in obj.public_properties for path in paths):
        raise NotAuthenticated()
    seen = obj.client_read(poll=poll, session=session)
    return [(path, _typed(_value(obj, path, seen), field)) for path, field in declared]


def _value(obj: Any, path: str, seen: Mapping[str, Any]) -> Any:
    top, _, rest = path.partition(".")
    if top not in seen:
        return obj.read(path)
    value = seen[top]
    return value.at(rest) if rest and value is not None else value


def _typed(value: Any, declared: Any) -> Any:
    """*value* as an ``anyType`` carries it: its wire type where Python cannot tell it (an enum's
    value, a long, an array); a data object tells its own (a subtype's, where it is one)."""
    from vismock.mockserver.vim25.values import Data, Typed

    if value is None or declared.type == "anyType" or isinstance(value, Data):
        return value
    if declared.array:
        return Typed(_array_type(declared.type), tuple(value))
    return Typed(declared.type, value)


def _array_type(item_type: str) -> str:
    from vismock.mockserver.vim25.typemodel import model
    from vismock.mockserver.vim25.values import array_type

    return "ArrayOfManagedObjectReference" if model().kind(item_type) == "managed" else array_type(item_type)


def default_paths(vim_type: str) -> list[str]:
    """What a PropertySpec with ``all`` reads: every property vim25 gives the type."""
    from vismock.mockserver.vim25.typemodel import model

    return [prop.name for prop in model().properties(vim_type)] if vim_type in model() else []


# -- what every managed object answers


def fetch(obj: Any, ctx: Context, prop: str) -> Any:
    """vim25 Fetch: one property path of any object (a client's read: a polls task counts it)."""
    ((_path, value),) = read_properties(obj, [prop], ctx.session, poll=True)
    return value


EVERY_OBJECT: dict[str, Method] = {"Fetch": Method("Fetch", fetch)}
"""Methods of vim25's ManagedObject, which every object answers whatever its type."""
