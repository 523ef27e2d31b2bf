"""Power operations hammered from both faces against a real ``vismock serve``, and the checks of
what the state then holds: every task ended, no two tasks that acted on one VM overlapping in
time, and a linearizability check over the journal (every call explained by one instant within
its own request, and the successful tasks, in order, explaining every VM's final power state).

``tests/mockserver/test_power_concurrency.py`` runs it (32 clients, 20 s); ``bench/workflow.py``
reuses its clients.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

import vismock.codec as codec
from vismock import power
from vismock.codec import XsDateTime

VIM25 = "{urn:vim25}"
REFUSALS = ("TaskInProgress", "InvalidPowerState")
ADAPTER_OPERATIONS = {vis: method for vis, method in power.vis_operations().items()}
METHODS = tuple(power.METHODS)
SLACK = timedelta(milliseconds=1)  # journal times and latencies are rounded to microseconds


# -- the clients -----------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP connection to the server (reopened if the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (1, 2):
            try:
                self._connection.request("POST", path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
                cookie = response.getheader("Set-Cookie")
                if cookie:
                    self.cookie = cookie.split(";", 1)[0]
                return response.status, data
            except (ConnectionError, http.client.HTTPException):
                self._connection.close()
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()


def soap(call: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        f'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>{call}</soapenv:Body>'
        "</soapenv:Envelope>"
    ).encode()


def soap_call(method: str, this_type: str, this: str, arguments: str = "") -> bytes:
    return soap(f'<{method} xmlns="urn:vim25"><_this type="{this_type}">{this}</_this>{arguments}</{method}>')


LOGIN = soap_call(
    "Login", "SessionManager", "SessionManager", "<userName>vismock</userName><password>vismock</password>"
)


def basic_vm_request(operation: str, vm_name: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Basic_Vm</operation-type>"
        f"<operation-name>{operation}</operation-name>"
        f"<parameters><virtual-machine>{vm_name}</virtual-machine></parameters></vmware-infrastructure-request>"
    ).encode()


def status_request(task_id: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        "<operation-name>Retrieve_Task_Status</operation-name><parameters><spec-set><object-set>"
        f"<task>{task_id}</task></object-set></spec-set></parameters></vmware-infrastructure-request>"
    ).encode()


def task_state_call(task_id: str) -> bytes:
    return soap_call(
        "RetrievePropertiesEx",
        "PropertyCollector",
        "propertyCollector",
        "<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>"
        f'<objectSet><obj type="Task">{task_id}</obj></objectSet></specSet><options/>',
    )


@dataclass
class Tally:
    """What the clients saw: HTTP statuses, operations started and refused, polls."""

    statuses: Counter[int] = field(default_factory=Counter)
    started: int = 0
    refused: int = 0
    polls: int = 0
    workflows: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds per workflow
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, other: Tally) -> None:
        with self.lock:
            self.statuses.update(other.statuses)
            self.started += other.started
            self.refused += other.refused
            self.polls += other.polls
            self.workflows += other.workflows
            self.latencies.extend(other.latencies)
            self.problems.extend(other.problems)


class PowerClient:
    """A client of one face: starts power operations on VMs and polls each task to its end."""

    def __init__(self, port: int, face: str, poll_pause: float = 0.005) -> None:
        self.face = face
        self.connection = Connection(port)
        self.poll_pause = poll_pause
        self.tally = Tally()
        if face == "soap":
            status, data = self.connection.post("/sdk", LOGIN)
            self._expect(status == 200 and b"LoginResponse" in data, "Login", status, data)

    def start(self, method: str, vm_id: str, vm_name: str) -> str | None:
        """Start *method* on the VM; the task's id, or None when the adapter refused it."""
        if self.face == "soap":
            status, data = self.connection.post("/sdk", soap_call(method, "VirtualMachine", vm_id))
            self._expect(status == 200, method, status, data)
            found = etree.fromstring(data).findtext(f".//{VIM25}returnval")
            self._expect(bool(found), f"{method} answers a task", status, data)
            self.tally.started += 1
            return found
        operation = next(vis for vis, m in ADAPTER_OPERATIONS.items() if m == method)
        status, data = self.connection.post("/adapter", basic_vm_request(operation, vm_name))
        self._expect(status == 200, operation, status, data)
        answer = codec.decode(data)
        if answer["metadata"]["status"] == "error":
            self._expect(answer["metadata"].get("fault") in REFUSALS, f"{operation} refusal", status, data)
            self.tally.refused += 1
            return None
        self.tally.started += 1
        return str(answer[f"{method}Response"]["Task"])

    def poll_to_end(self, task_id: str) -> str:
        """Read the task until it ends (as a pipeline does); its final state."""
        while True:
            self.tally.polls += 1
            if self.face == "soap":
                status, data = self.connection.post("/sdk", task_state_call(task_id))
                self._expect(status == 200, "RetrievePropertiesEx", status, data)
                state = etree.fromstring(data).findtext(f".//{VIM25}val") or ""
            else:
                status, data = self.connection.post("/adapter", status_request(task_id))
                self._expect(status == 200, "Retrieve_Task_Status", status, data)
                answer = codec.decode(data)
                state = answer["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]["state"]
            if state in ("success", "error"):
                return state
            time.sleep(self.poll_pause)

    def _expect(self, condition: bool, what: str, status: int, data: bytes) -> None:
        self.tally.statuses[status] += 1
        if not condition:
            self.tally.problems.append(f"{self.face} {what}: HTTP {status} {data[:200]!r}")
            raise RuntimeError(self.tally.problems[-1])


def hammer(port: int, clients: int, seconds: float, vms: dict[str, str], seed: int = 14) -> Tally:
    """*clients* threads (half per face) starting random power operations on the VMs (id -> name)
    and polling each task to its end, for *seconds*."""
    total = Tally()
    stop = threading.Event()
    threads = []
    for number in range(clients):
        face = "soap" if number % 2 else "adapter"
        rng = random.Random(seed * 1000 + number)

        def run(face: str = face, rng: random.Random = rng) -> None:
            client = PowerClient(port, face)
            try:
                while not stop.is_set():
                    vm_id = rng.choice(sorted(vms))
                    task_id = client.start(rng.choice(METHODS), vm_id, vms[vm_id])
                    if task_id is not None:
                        client.poll_to_end(task_id)
            except Exception as error:  # a wrong answer: reported, not hidden
                client.tally.problems.append(f"{face} client stopped: {error}")
            finally:
                client.connection.close()
                total.add(client.tally)

        threads.append(threading.Thread(target=run, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return total


# -- what the state holds afterwards -----------------------------------------------------------------


def admin(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", f"/_vismock{path}")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def when(text: str) -> datetime:
    return XsDateTime(text.replace("+00:00", "Z")).datetime


@dataclass(frozen=True)
class TaskRecord:
    id: str
    vm: str
    method: str
    progression: str
    state: str
    fault: str | None
    queued: datetime
    completed: datetime | None

    @property
    def refused(self) -> bool:
        """Failed at once by the state check: it never acted on the VM."""
        return self.fault in REFUSALS and self.completed == self.queued


@dataclass(frozen=True)
class CallRecord:
    """A call in the journal: its window (server-side: start, start + latency) and its answer."""

    face: str
    operation: str
    vm: str | None
    start: datetime
    end: datetime
    outcome: str
    tasks: tuple[str, ...]
    http_status: int

    @property
    def method(self) -> str:
        return ADAPTER_OPERATIONS.get(self.operation, self.operation)

    @property
    def is_power(self) -> bool:
        return self.method in METHODS


def collect(port: int, vms: dict[str, str]) -> tuple[list[TaskRecord], list[CallRecord], dict[str, str]]:
    """The tasks on *vms*, every journal entry, and each VM's power state, from the admin API."""
    tasks = []
    for task in admin(port, "/tasks")["tasks"]:
        info = task["info"]
        if info.get("VirtualMachine") not in vms:
            continue
        completed = info.get("completeTime")
        tasks.append(
            TaskRecord(
                task["id"],
                info["VirtualMachine"],
                info["name"],
                task["spec"]["progression"],
                info["state"],
                (info.get("error") or {}).get("fault"),
                when(info["queueTime"]),
                when(completed) if completed else None,
            )
        )
    calls = []
    for entry in admin(port, "/journal")["entries"]:
        start = when(entry["time"])
        end = start + timedelta(milliseconds=entry["latency_ms"])
        calls.append(
            CallRecord(
                entry["face"],
                entry["operation"],
                entry["entity"],
                start,
                end,
                entry["outcome"],
                tuple(entry["task_ids"]),
                entry["http_status"],
            )
        )
    states = {vm_id: admin(port, f"/inventory/{vm_id}")["powerState"] for vm_id in vms}
    return tasks, calls, states


@dataclass
class Findings:
    tasks: int = 0
    calls: int = 0
    ran: int = 0
    successes: int = 0
    refusals_checked: int = 0
    violations: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(text)


def check(
    tasks: list[TaskRecord], calls: list[CallRecord], final: dict[str, str], initial: dict[str, str]
) -> Findings:
    """Every rule the run must keep; each broken one is a violation, described."""
    power_calls = [call for call in calls if call.is_power and call.vm in initial]
    findings = Findings(tasks=len(tasks), calls=len(power_calls))
    by_id = {task.id: task for task in tasks}
    for call in calls:
        if call.http_status >= 500:
            findings.fail(f"HTTP {call.http_status}: {call}")
    for task in tasks:
        if task.state not in ("success", "error"):
            findings.fail(f"{task.id} has not ended: {task.state}")
    for call in power_calls:
        _check_power_call(call, by_id, findings)
    windows = Windows(tasks, calls)
    for vm_id in initial:
        history = History(initial[vm_id], [t for t in tasks if t.vm == vm_id and not t.refused], windows)
        findings.ran += len(history.ran)
        findings.successes += len(history.successes)
        history.check_no_overlap(findings)
        history.check_replay(final[vm_id], findings)
        for call in power_calls:
            refusal = by_id[call.tasks[0]] if call.tasks else None
            if call.vm != vm_id or (refusal is not None and not refusal.refused):
                continue
            fault = refusal.fault if refusal is not None else call.outcome
            if fault in REFUSALS:
                history.check_refusal(call.method, fault or "", call.start, call.end, findings, f"{call}")
    return findings


def _check_power_call(call: CallRecord, by_id: dict[str, TaskRecord], findings: Findings) -> None:
    if not call.tasks:
        if call.outcome not in REFUSALS:
            findings.fail(f"a call that started nothing answered {call.outcome}: {call}")
        return
    task = by_id.get(call.tasks[0])
    if task is None:
        findings.fail(f"{call.tasks[0]} answered by a call is not in the store")
    elif not call.start - SLACK <= task.queued <= call.end + SLACK:
        findings.fail(f"{task.id} was queued at {task.queued}, outside its call {call.start}..{call.end}")
    elif (task.vm, task.method) != (call.vm, call.method):
        findings.fail(f"{task.id} acts on {task.vm} by {task.method}, its call was {call}")


class Windows:
    """When each task's start and end took effect, as clients could see them: a start within the
    call that created the task (a state change is committed, then announced to remembered answers,
    both before that call answers); a clock-driven end exactly at completeTime; a poll-driven end
    within the poll that showed it."""

    def __init__(self, tasks: list[TaskRecord], calls: list[CallRecord]) -> None:
        self.created: dict[str, tuple[datetime, datetime]] = {}
        self.ended: dict[str, tuple[datetime, datetime]] = {}
        polls: dict[str, list[CallRecord]] = {}
        for call in calls:
            if call.is_power and call.tasks:
                self.created[call.tasks[0]] = (call.start - SLACK, call.end + SLACK)
            elif not call.is_power:
                for task_id in call.tasks:
                    polls.setdefault(task_id, []).append(call)
        for task in tasks:
            if task.completed is None:
                continue
            end = task.completed
            if task.progression == "polls":
                showing = [
                    c.end
                    for c in polls.get(task.id, ())
                    if c.start - SLACK <= task.completed <= c.end + SLACK
                ]
                end = max([task.completed, *showing]) + SLACK
            self.ended[task.id] = (task.completed, end)


class History:
    """One VM's tasks that acted on it, and what clients could see of them at any instant."""

    def __init__(self, initial: str, ran: list[TaskRecord], windows: Windows) -> None:
        self.initial = initial
        self.windows = windows
        self.ran = sorted(ran, key=lambda task: task.queued)
        self.successes = sorted(
            (task for task in ran if task.state == "success"), key=lambda task: task.completed or task.queued
        )

    def _started(self, task: TaskRecord) -> tuple[datetime, datetime]:
        return self.windows.created.get(task.id, (task.queued, task.queued))

    def _ended(self, task: TaskRecord) -> tuple[datetime, datetime]:
        far = datetime.max.replace(tzinfo=task.queued.tzinfo)
        return self.windows.ended.get(task.id, (far, far))

    def states_at(self, moment: datetime) -> set[str]:
        """The power states clients could see at *moment*: successes surely applied, and those
        possibly applied."""
        surely, possibly = self.initial, self.initial
        for task in self.successes:
            earliest, latest = self._ended(task)
            if latest <= moment:
                surely = power.after(task.method, surely)
            if earliest <= moment:
                possibly = power.after(task.method, possibly)
        return {surely, possibly}

    def possibly_busy(self, moment: datetime) -> bool:
        return any(self._started(t)[0] <= moment < self._ended(t)[1] for t in self.ran)

    def surely_busy(self, moment: datetime) -> bool:
        return any(self._started(t)[1] <= moment < self._ended(t)[0] for t in self.ran)

    def check_no_overlap(self, findings: Findings) -> None:
        for before, after in zip(self.ran, self.ran[1:], strict=False):
            if before.completed is None or after.queued < before.completed:
                findings.fail(
                    f"{after.id} (queued {after.queued}) overlaps {before.id} (ended {before.completed})"
                )

    def check_replay(self, final: str, findings: Findings) -> None:
        state = self.initial
        for task in self.successes:
            if state not in power.method(task.method).allowed:
                findings.fail(f"{task.id} {task.method} succeeded from {state}, which vim25 refuses")
            state = power.after(task.method, state)
        if state != final:
            findings.fail(f"the successes replayed give {state}; the VM reads {final}")

    def check_refusal(
        self, method: str, fault: str, start: datetime, end: datetime, findings: Findings, what: str
    ) -> None:
        """A refusal is right if, at one instant of its call, the VM could be busy (TaskInProgress)
        or idle in a power state the method does not run from (InvalidPowerState)."""
        findings.refusals_checked += 1
        for moment in self._instants(start - SLACK, end + SLACK):
            if fault == "TaskInProgress" and self.possibly_busy(moment):
                return
            idle = fault == "InvalidPowerState" and not self.surely_busy(moment)
            if idle and any(power.state_refusal(method, state) for state in self.states_at(moment)):
                return
        findings.fail(f"{fault} is explained by no instant of {what}")

    def _instants(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The window's ends and every instant within it where what clients see may change."""
        yield start
        yield end
        for task in self.ran:
            for moment in (*self._started(task), *self._ended(task)):
                if start <= moment <= end:
                    yield moment
                    yield moment - timedelta(microseconds=1)


SCENARIO = """\
# Power operations under load: short tasks on the real clock, one operation by polls, and one
# scripted failure that runs then fails (it acts on the VM without changing it).
tasks: []
operations:
  default:
    timeline:
      - {state: queued, at: 0}
      - {state: running, at: 0.02, progress: 0}
      - {state: success, at: 0.15}
  ResetVM_Task:
    progression: polls
    timeline: [{state: running, at: 0}, {state: success, at: 3}]
overrides:
  - {operation: SuspendVM_Task, vm: TestDev, times: null, fault: InvalidState, after: 0.1}
"""
VMS = {"vm-601": "win1", "vm-525": "TestDev", "vm-1001": "web-01"}
