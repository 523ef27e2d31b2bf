"""Clients of both faces of a real ``vismock serve`` that start tasks on VMs and poll each to its
end, as a pipeline does, each call's answer checked: the power operations, and any task-starting
call of either face (:meth:`PowerClient.soap_task`, :meth:`PowerClient.adapter_task`).

``tests/support/vm_load.py`` builds the concurrency run on them (snapshots, reverts, clones,
destroys and power on shared VMs); ``tests/mockserver/test_durability.py`` uses them under a kill.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

import vismock.codec as codec
from vismock import power
from vismock.codec import XsDateTime
from vismock.schemas import task_operations

VIM25 = "{urn:vim25}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
REFUSALS = ("TaskInProgress", "InvalidPowerState")
ADAPTER_OPERATIONS = {vis: method for vis, method in power.vis_operations().items()}
OPERATION_TYPES = {  # schemas/catalog.toml: each task-starting VIS operation's operation-type
    **{vis: "Basic_Vm" for vis in ADAPTER_OPERATIONS},
    "Delete_VM": "Basic_Vm",
    "Create_VM_Snapshot": "Advanced_Vm",
    "Revert_VM_Snapshot": "Advanced_Vm",
    "Delete_VM_Snapshot": "Advanced_Vm",
    "Clone_VM": "Configure_Vm",
}
METHODS = tuple(power.METHODS)


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


def login_call(user: str, password: str) -> bytes:
    credentials = f"<userName>{escape(user)}</userName><password>{escape(password)}</password>"
    return soap_call("Login", "SessionManager", "SessionManager", credentials)


LOGIN = login_call("vismock", "vismock")


def adapter_request(
    operation: str, parameters: Mapping[str, str | bool], user: str | None = None, password: str = ""
) -> bytes:
    """A VIS request of a task-starting *operation*; *user*: its account (None: the adapter's own)."""
    account = f"<user-name>{escape(user)}</user-name><password>{escape(password)}</password>" if user else ""
    given = "".join(
        f"<{name}>{str(value).lower() if isinstance(value, bool) else escape(value)}</{name}>"
        for name, value in parameters.items()
    )
    return (
        f"<vmware-infrastructure-request><operation-type>{OPERATION_TYPES[operation]}</operation-type>"
        f"<operation-name>{operation}</operation-name>{account}<parameters>{given}</parameters>"
        "</vmware-infrastructure-request>"
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
    """A client of one face: starts tasks on VMs and polls each task to its end. Over SOAP it logs
    in as *user* (default: vismock); on the adapter face each request names *user* when given."""

    def __init__(
        self, port: int, face: str, poll_pause: float = 0.005, user: str | None = None, password: str = ""
    ) -> None:
        self.face = face
        self.user, self.password = user, password
        self.connection = Connection(port)
        self.poll_pause = poll_pause
        self.tally = Tally()
        if face == "soap":
            login = login_call(user, password) if user else LOGIN
            status, data = self.connection.post("/sdk", login)
            self._expect(status == 200 and b"LoginResponse" in data, "Login", status, data)

    def start(self, method: str, vm_id: str, vm_name: str) -> str | None:
        """Start power *method* on the VM; the task's id, or None when the adapter refused it."""
        if self.face == "soap":
            task_id, outcome = self.soap_task(method, "VirtualMachine", vm_id)
            self._expect(task_id is not None, f"{method} answers a task ({outcome})", 0, b"")
            return task_id
        operation = next(vis for vis, m in ADAPTER_OPERATIONS.items() if m == method)
        task_id, outcome = self.adapter_task(operation, {"virtual-machine": vm_name})
        self._expect(task_id is not None or outcome in REFUSALS, f"{operation} refusal {outcome}", 0, b"")
        return task_id

    def soap_task(
        self, method: str, this_type: str, this: str, arguments: str = ""
    ) -> tuple[str | None, str]:
        """Call a task-starting vim25 method: (the task, "ok"), or (None, the fault it raised)."""
        status, data = self.connection.post("/sdk", soap_call(method, this_type, this, arguments))
        self._expect(status in (200, 500), method, status, data)
        if status == 500:
            detail = etree.fromstring(data).find(".//detail")
            fault = detail[0].get(XSI_TYPE) if detail is not None and len(detail) else None
            self._expect(bool(fault), f"{method} answers a vim25 fault", 0, data)
            self.tally.refused += 1
            return None, str(fault)
        found = etree.fromstring(data).findtext(f".//{VIM25}returnval")
        self._expect(bool(found), f"{method} answers a task", 0, data)
        self.tally.started += 1
        return found, "ok"

    def adapter_task(self, operation: str, parameters: Mapping[str, str | bool]) -> tuple[str | None, str]:
        """Send a task-starting VIS operation: (the task, "ok"), or (None, the fault it names)."""
        body = adapter_request(operation, parameters, self.user, self.password)
        status, data = self.connection.post("/adapter", body)
        self._expect(status == 200, operation, status, data)
        answer = codec.decode(data)
        if answer["metadata"]["status"] == "error":
            fault = answer["metadata"].get("fault")
            self._expect(bool(fault), f"{operation} names its fault", 0, data)
            self.tally.refused += 1
            return None, str(fault)
        self.tally.started += 1
        return str(answer[f"{task_operations()[operation]}Response"]["Task"]), "ok"

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
        """Count *status* (0: a check of an answer already counted); a wrong answer stops the client."""
        if status:
            self.tally.statuses[status] += 1
        if not condition:
            self.tally.problems.append(f"{self.face} {what}: HTTP {status} {data[:200]!r}")
            raise RuntimeError(self.tally.problems[-1])


# -- what the state holds ----------------------------------------------------------------------------


def admin(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", f"/_vismock{path}")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def when(text: str) -> datetime:
    return XsDateTime(text.replace("+00:00", "Z")).datetime


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
