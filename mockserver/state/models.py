"""The values the mock's state holds: task definitions, journal entries, fault rules.

Plain frozen dataclasses, imported by every part of the state and by the faces; they import
nothing of the mock themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Progression = Literal["time", "polls", "manual"]
State = Literal["queued", "running", "success", "error"]
ReasonKind = Literal["user", "alarm", "schedule", "system"]
Face = Literal["adapter", "soap", "admin"]
FaultAction = Literal["delay", "status", "error", "malformed", "drop"]


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
    # error: the fault's own vim25 fields in schema order (InvalidPowerState's existingState...)
    fault_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task as the task file (or the admin API) defines it; maps 1:1 to TaskInfo."""

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
    # Other TaskInfo elements the task carries as they are (changeTag, parentTaskKey, ...): the
    # schema's optional plain fields (vismock.codec.taskinfo), by element name.
    fields: tuple[tuple[str, Any], ...] = ()

    @property
    def field_values(self) -> Mapping[str, Any]:
        return dict(self.fields)


@dataclass(slots=True)  # not frozen: made for every request, and a frozen init costs several times more
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
    # The reset generation the request started in; an entry of an earlier one is not written.
    generation: int | None = field(default=None, compare=False)
    entity: str | None = None  # the managed entity the call acted on (a VM's id), when one


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Misbehave on matching requests: for the next ``times`` ones or with ``probability``.

    Matches when every given selector matches (None matches anything).
    ``action``: "delay" (``delay_seconds`` then answer normally), "status" (answer
    ``http_status`` with an error body), "error" (a well-formed error envelope /
    SOAP fault of ``fault`` with ``message``), "malformed" (a truncated body),
    "drop" (close the connection without answering).
    """

    action: FaultAction
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


@dataclass(frozen=True, slots=True)
class Entity:
    """A managed entity of the inventory: a folder, datacenter, cluster, host, VM...

    ``properties`` holds what its type adds to its name and place, JSON-safe values by name:
    a virtual machine's ``powerState``, ``template`` and ``host``; a datacenter's ``vmFolder``...
    """

    id: str  # the managed object id: "vm-42", "group-d1", "datacenter-2"
    type: str  # the vim25 managed object type: "VirtualMachine", "Folder", "Datacenter", ...
    name: str
    parent: str | None = None  # the parent entity's id; None for the root folder
    properties: tuple[tuple[str, Any], ...] = ()

    @property
    def props(self) -> Mapping[str, Any]:
        return dict(self.properties)

    def with_properties(self, **changes: Any) -> Entity:
        merged = {**self.props, **changes}
        return Entity(self.id, self.type, self.name, self.parent, tuple(sorted(merged.items())))
