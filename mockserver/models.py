"""The mock vCenter's state: tasks, their lifecycles, clock, journal, fault rules, sessions.

One :class:`Backend` holds everything in an embedded SQLite database (WAL mode)
so that every worker process of the server sees the same state; the same class
serves in-process use (tests) and server mode. ``reset()`` returns to the
loaded task file. Handlers in ``responses.py`` / ``soap.py`` call it and render
what it returns; it never renders XML itself.

INTERFACE CONTRACT (shared by the web, SOAP and adapter modules): the names and
signatures below are fixed; bodies marked TODO are being implemented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Progression = Literal["time", "polls", "manual"]
State = Literal["queued", "running", "success", "error"]
ReasonKind = Literal["user", "alarm", "schedule", "system"]
Face = Literal["adapter", "soap", "admin"]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the task runs: vim25 TaskReasonUser / Alarm / Schedule / System."""

    kind: ReasonKind = "user"
    user_name: str | None = None  # user
    alarm: str | None = None  # alarm: Alarm moref id
    alarm_name: str | None = None
    entity: str | None = None  # alarm: entity moref id
    entity_name: str | None = None
    name: str | None = None  # schedule: scheduled task name
    scheduled_task: str | None = None  # schedule: ScheduledTask moref id


@dataclass(frozen=True, slots=True)
class Step:
    """One point of a task's timeline.

    ``at`` is seconds after queueing (progression "time") or the number of
    polls (progression "polls"); in "manual" mode steps are taken in order by
    the admin API and ``at`` is ignored. The last step is terminal when its
    state is success or error.
    """

    state: State
    at: float = 0
    progress: int | None = None
    result: str | None = None  # success: the result (e.g. a moref id)
    fault: str | None = None  # error: vim25 fault type name
    message: str | None = None  # error: localized message


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A canned task as the task file (or the admin API) defines it; maps 1:1 to TaskInfo."""

    id: str  # "task-525"; also TaskInfo key and Task
    name: str  # vim25 method name, "PowerOnVM_Task"
    description_id: str  # "VirtualMachine.powerOn"
    entity_type: str | None = None  # "VirtualMachine" (an element of the ManagedEntity group)
    entity_id: str | None = None  # "vm-42"
    entity_name: str | None = None
    reason: Reason = field(default_factory=Reason)
    cancelable: bool = False
    event_chain_id: int = 0
    progression: Progression = "time"
    timeline: tuple[Step, ...] = (Step(state="success"),)
    queued_at: datetime | None = None  # fixed queueTime; None: when the task is (re)loaded
    description: str | None = None  # optional LocalizableMessage message
    change_tag: str | None = None
    parent_task_key: str | None = None
    root_task_key: str | None = None
    activation_id: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the mock saw it. Passwords never reach here."""

    time: datetime
    face: Face
    operation: str  # "Retrieve_Task_Status", a SOAP method name, or an admin route
    task_ids: tuple[str, ...] = ()
    user: str | None = None
    outcome: str = "ok"  # "ok", or a fault type / "invalid" / "fault-injected"
    http_status: int = 200
    latency_ms: float = 0.0
    id: int | None = None  # assigned by the journal


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Misbehave on matching requests: for the next ``times`` ones or with ``probability``.

    Matches when every given selector matches (None matches anything).
    ``action``: "delay" (``delay_seconds`` then answer normally), "status" (answer
    ``http_status`` with an error body), "error" (a well-formed error envelope /
    SOAP fault of ``fault`` with ``message``), "malformed" (a truncated body),
    "drop" (close the connection without answering).
    """

    action: Literal["delay", "status", "error", "malformed", "drop"]
    task: str | None = None
    operation: str | None = None
    face: Face | None = None
    times: int | None = 1  # None: unlimited (then probability applies)
    probability: float = 1.0
    delay_seconds: float = 0.0
    http_status: int = 500
    fault: str = "SystemError"
    message: str = "fault injected by vismock"
    id: int | None = None


class Backend:
    """All mock state, shared across worker processes through one SQLite file."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        tasks: Sequence[TaskSpec] = (),
        accounts: Mapping[str, str] | None = None,
        journal_cap: int = 10_000,
    ) -> None:
        """*path* None: a private temporary database. *accounts* None: vismock/vismock.

        Opening an existing database keeps its tasks, rules and clock (restart-safe);
        *tasks* become the "loaded file" that ``reset()`` returns to.
        """
        raise NotImplementedError  # TODO

    def reset(self) -> None:
        """Tasks back to the loaded set (lifecycles restart), journal, rules, sessions cleared, clock real."""
        raise NotImplementedError

    # -- tasks -----------------------------------------------------------------------
    def list_tasks(self) -> list[TaskSpec]:
        raise NotImplementedError

    def get_task(self, task_id: str) -> TaskSpec:
        """Raises vismock.faults.TaskNotFound."""
        raise NotImplementedError

    def put_tasks(self, specs: Iterable[TaskSpec]) -> None:
        """Add or replace; a replaced task's lifecycle restarts (queued at ``now()``)."""
        raise NotImplementedError

    def delete_task(self, task_id: str) -> None:
        raise NotImplementedError

    def task_info(self, task_id: str, *, poll: bool = True) -> dict[str, Any]:
        """The task's vim25 TaskInfo now, as a dict in vismock.codec's decode form.

        ``poll`` counts this read for "polls" progression (a client reading the task);
        pass False for internal peeks (WaitForUpdates re-checks, admin views).
        Raises vismock.faults.TaskNotFound.
        """
        raise NotImplementedError

    def advance_task(self, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Manual progression: take the next *steps* timeline steps; returns the new TaskInfo."""
        raise NotImplementedError

    def cancel_task(self, task_id: str) -> None:
        """vim25 CancelTask: NotSupported if not cancelable, InvalidState if already finished;
        otherwise the task ends in error with RequestCanceled and cancelled=true."""
        raise NotImplementedError

    # -- clock ------------------------------------------------------------------------
    def now(self) -> datetime:
        """The mock's clock (aware UTC): real time unless frozen, plus any advance."""
        raise NotImplementedError

    def freeze(self, at: datetime | None = None) -> datetime:
        raise NotImplementedError

    def advance(self, seconds: float) -> datetime:
        raise NotImplementedError

    def resume(self) -> datetime:
        raise NotImplementedError

    # -- accounts and SOAP sessions ---------------------------------------------------------
    def check_login(self, user: str, password: str) -> bool:
        raise NotImplementedError

    def create_session(self, user: str) -> str:
        """A new session key (the vmware_soap_session cookie value)."""
        raise NotImplementedError

    def session_user(self, key: str) -> str | None:
        """The user of a live session, or None for unknown / ended keys."""
        raise NotImplementedError

    def end_session(self, key: str) -> None:
        raise NotImplementedError

    # -- journal ----------------------------------------------------------------------------
    def record(self, entry: JournalEntry) -> None:
        """Append; the oldest entries beyond ``journal_cap`` are dropped."""
        raise NotImplementedError

    def journal(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        raise NotImplementedError

    def count_requests(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
    ) -> int:
        raise NotImplementedError

    def clear_journal(self) -> None:
        raise NotImplementedError

    # -- fault rules --------------------------------------------------------------------------
    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Store *rule*; returns it with its id."""
        raise NotImplementedError

    def list_faults(self) -> list[FaultRule]:
        raise NotImplementedError

    def clear_faults(self) -> None:
        raise NotImplementedError

    def take_fault(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> FaultRule | None:
        """The first rule matching this request, consumed atomically (``times`` decremented
        across all workers), or None. Probability is drawn here."""
        raise NotImplementedError
