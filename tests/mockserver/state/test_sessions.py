"""What a SOAP session keeps (collectors, filters, views): owned, destroyed with its owner and its
session, and bounded; through the methods both faces call (``Backend.invoke``) in a session's name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vismock.faults import InvalidState, ManagedObjectNotFound
from vismock.mockserver.objects.base import Context
from vismock.mockserver.state import Backend, sessions
from vismock.mockserver.state.taskfile import load_builtin
from vismock.mockserver.vim25.values import Data, MoRef

ROOT = MoRef("Folder", "group-d1")
TASK_INFO = Data(
    "PropertyFilterSpec",
    propSet=(Data("PropertySpec", type="Task", pathSet=("info",)),),
    objectSet=(Data("ObjectSpec", obj=MoRef("Task", "task-525")),),
)


@pytest.fixture
def backend() -> Iterator[Backend]:
    builtin = load_builtin()
    state = Backend(tasks=builtin.tasks, inventory=builtin.inventory or ())
    yield state
    state.close()


def logged_in(backend: Backend, user: str = "vismock") -> Context:
    """A call context of a new session of *user* (as the SOAP face makes one for its cookie)."""
    session = backend.sessions.session(backend.sessions.create(user))
    assert session is not None
    return Context(backend, user=user, session=session)


def view(backend: Backend, ctx: Context) -> MoRef:
    made: MoRef = backend.invoke("ViewManager", "CreateContainerView", context=ctx, container=ROOT)
    return made


def test_objects_end_with_their_owner_and_their_session(backend: Backend) -> None:
    mine, other = logged_in(backend), logged_in(backend)
    collector = backend.invoke("propertyCollector", "CreatePropertyCollector", context=mine)
    watch = backend.invoke(collector, "CreateFilter", context=mine, spec=TASK_INFO, partialUpdates=False)
    with pytest.raises(ManagedObjectNotFound):  # another session's
        backend.invoke(collector, "DestroyPropertyCollector", context=other)
    assert backend.invoke(collector, "Fetch", context=mine, prop="filter").value == (watch,)
    backend.invoke(collector, "DestroyPropertyCollector", context=mine)
    assert watch.value not in backend.registry  # with its collector
    seen = view(backend, mine)
    assert seen.value in backend.registry
    assert mine.session is not None
    backend.sessions.end(mine.session)
    assert seen.value not in backend.registry  # with its session


def test_a_session_keeps_a_bounded_number_of_objects(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "OBJECTS_PER_SESSION", 3)
    ctx = logged_in(backend)
    views = [view(backend, ctx) for _ in range(3)]
    with pytest.raises(InvalidState, match="destroy some first"):
        view(backend, ctx)
    view(backend, logged_in(backend))  # another session has its own room
    backend.invoke(views[0], "DestroyView", context=ctx)
    view(backend, ctx)  # room again
