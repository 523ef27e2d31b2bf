"""A mock vCenter as its clients see it: HTTP requests to the admin API (JSON), the adapter face
(``POST /adapter``) and the SOAP face (``/sdk``), the answers read as a client reads them.

Nothing here imports ``vismock.mockserver.state`` or reads the server's objects: the rule tests
(``tests/mockserver/test_rules_*.py``) built on it hold whatever the state layer becomes, so a
rewrite of that layer cannot rewrite them with it. The same :class:`Vcenter` drives an app in
process (Flask's test client, through the app's WSGI entry, fast path included) or any server on
a socket (the pytest plugin's, ``vismock serve``).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from flask import Flask
from lxml import etree

T0 = datetime(2030, 1, 1, tzinfo=UTC)
T0_TEXT = "2030-01-01T00:00:00Z"
USER, PASSWORD = "vismock", "vismock"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:vim25/8.0.3.0"'}
XML_HEADERS = {"Content-Type": "text/xml"}
VIM25 = "urn:vim25"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"v": VIM25, "s": SOAPENV}
# The elements of the adapter schema's ManagedEntity group: the adapter's TaskInfo names its
# entity by an element of its type.
ENTITY_TYPES = (
    "VirtualMachine", "HostSystem", "ComputeResource", "ClusterComputeResource", "Datacenter",
    "Datastore", "StoragePod", "Folder", "ResourcePool", "VirtualApp", "Network",
    "DistributedVirtualPortgroup", "VmwareDistributedVirtualSwitch",
)  # fmt: skip
VIS_OPERATIONS = {
    "PowerOnVM_Task": "Power_On_VM",
    "PowerOffVM_Task": "Power_Off_VM",
    "ResetVM_Task": "Reset_VM",
    "SuspendVM_Task": "Suspend_VM",
}


class Reply(NamedTuple):
    status: int
    headers: Mapping[str, str]  # names in lower case, as HTTP/2 and granian send them
    body: bytes


# (method, path with its query, body, headers) -> the reply
Transport = Callable[[str, str, bytes | None, Mapping[str, str]], Reply]


def flask_transport(app: Flask) -> Transport:
    """Requests to *app* in process, as a loopback client (no cookie jar: sessions keep their own)."""
    client = app.test_client(use_cookies=False)

    def send(method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> Reply:
        response = client.open(path, method=method, data=body, headers=dict(headers))
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, headers, bytes(response.data))

    return send


def http_transport(url: str, timeout: float = 30) -> Transport:
    """Requests to the server at *url* (``http://host:port``), a connection each."""
    parts = urlsplit(url)

    def send(method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> Reply:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, headers, response.read())
        finally:
            connection.close()

    return send


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- what a client reads of a task ---------------------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """A TaskInfo as a client reads it, whichever face (or the admin API's peek) it came from."""

    key: str
    name: str
    state: str
    cancelled: bool
    cancelable: bool
    progress: int | None = None
    result: str | None = None
    fault: str | None = None
    message: str | None = None
    fault_fields: Mapping[str, str] = field(default_factory=dict)  # the SOAP face sends them
    entity: str | None = None  # "VirtualMachine:vm-601"
    entity_name: str | None = None
    user: str | None = None  # TaskReasonUser's userName
    queue_time: datetime | None = None
    start_time: datetime | None = None
    complete_time: datetime | None = None
    event_chain_id: int | None = None

    def as_adapter_shows_it(self) -> TaskView:
        """Without the fault's own fields, which only the SOAP face sends."""
        return replace(self, fault_fields={})

    def times(self) -> list[datetime]:
        return [moment for moment in (self.queue_time, self.start_time, self.complete_time) if moment]

    @classmethod
    def from_soap(cls, info: etree._Element) -> TaskView:
        """A vim25 ``TaskInfo`` element (namespace urn:vim25)."""

        def text(name: str) -> str | None:
            return info.findtext(f"v:{name}", namespaces=NS)

        entity = info.find("v:entity", NS)
        fault = info.find("v:error/v:fault", NS)
        reason = info.find("v:reason", NS)
        return cls(
            key=text("key") or "",
            name=text("name") or "",
            state=text("state") or "",
            cancelled=text("cancelled") == "true",
            cancelable=text("cancelable") == "true",
            progress=_maybe_int(text("progress")),
            result=text("result"),
            fault=None if fault is None else fault.get(f"{{{XSI}}}type"),
            message=info.findtext("v:error/v:localizedMessage", namespaces=NS),
            fault_fields={} if fault is None else {etree.QName(c).localname: c.text or "" for c in fault},
            entity=None if entity is None else f"{entity.get('type')}:{entity.text}",
            entity_name=text("entityName"),
            user=None if reason is None else reason.findtext("v:userName", namespaces=NS),
            queue_time=parse_time(text("queueTime")),
            start_time=parse_time(text("startTime")),
            complete_time=parse_time(text("completeTime")),
            event_chain_id=_maybe_int(text("eventChainId")),
        )

    @classmethod
    def from_adapter(cls, info: etree._Element) -> TaskView:
        """The adapter face's ``TaskInfo`` element (no namespace; the entity named by its type)."""
        entity = next((e for e in info if e.tag in ENTITY_TYPES), None)
        return cls(
            key=info.findtext("key") or "",
            name=info.findtext("name") or "",
            state=info.findtext("state") or "",
            cancelled=info.findtext("cancelled") == "true",
            cancelable=info.findtext("cancelable") == "true",
            progress=_maybe_int(info.findtext("progress")),
            result=info.findtext("result"),
            fault=info.findtext("error/fault"),
            message=info.findtext("error/localizedMessage"),
            entity=None if entity is None else f"{entity.tag}:{entity.text}",
            entity_name=info.findtext("entityName"),
            user=info.findtext("TaskReasonUser/userName"),
            queue_time=parse_time(info.findtext("queueTime")),
            start_time=parse_time(info.findtext("startTime")),
            complete_time=parse_time(info.findtext("completeTime")),
            event_chain_id=_maybe_int(info.findtext("eventChainId")),
        )

    @classmethod
    def from_admin(cls, info: Mapping[str, Any]) -> TaskView:
        """The admin API's ``info`` (a peek: it does not count as a poll)."""
        error = info.get("error") or {}
        entity = next((f"{name}:{info[name]}" for name in ENTITY_TYPES if name in info), None)
        return cls(
            key=info["key"],
            name=info["name"],
            state=info["state"],
            cancelled=info["cancelled"],
            cancelable=info["cancelable"],
            progress=info.get("progress"),
            result=info.get("result"),
            fault=error.get("fault"),
            message=error.get("localizedMessage"),
            entity=entity,
            entity_name=info.get("entityName"),
            user=(info.get("TaskReasonUser") or {}).get("userName"),
            queue_time=parse_time(info.get("queueTime")),
            start_time=parse_time(info.get("startTime")),
            complete_time=parse_time(info.get("completeTime")),
            event_chain_id=info.get("eventChainId"),
        )


def _maybe_int(text: str | None) -> int | None:
    return None if text is None else int(text)


# -- the adapter face ----------------------------------------------------------------------------


def adapter_request(
    operation_type: str, operation: str, parameters: str, user: str = "", password: str = ""
) -> bytes:
    return (
        "<vmware-infrastructure-request>"
        f"<operation-type>{operation_type}</operation-type><operation-name>{operation}</operation-name>"
        f"<user-name>{user}</user-name><password>{password}</password>"
        f"<parameters>{parameters}</parameters></vmware-infrastructure-request>"
    ).encode()


def status_request(*task_ids: str, user: str = "", password: str = "") -> bytes:
    objects = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
    return adapter_request(
        "Monitor_Vm", "Retrieve_Task_Status", f"<spec-set>{objects}</spec-set>", user, password
    )


@dataclass(frozen=True)
class AdapterAnswer:
    """The adapter face's answer: HTTP status, ``metadata/status``, and what it carries."""

    http_status: int
    status: str
    fault: str | None
    error: str | None
    tasks: list[TaskView]  # Retrieve_Task_Status: one per returnval, in order
    task_id: str | None  # a Basic_Vm operation: the task it started
    body: bytes

    @classmethod
    def parse(cls, reply: Reply) -> AdapterAnswer:
        root = etree.fromstring(reply.body)
        return cls(
            http_status=reply.status,
            status=root.findtext("metadata/status") or "",
            fault=root.findtext("metadata/fault"),
            error=root.findtext("metadata/error"),
            tasks=[TaskView.from_adapter(info) for info in root.iterfind(".//returnval/propSet/TaskInfo")],
            task_id=root.findtext("*/Task"),
            body=reply.body,
        )


# -- the SOAP face -----------------------------------------------------------------------------------


def envelope(call: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns:xsi="{XSI}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def call_body(method: str, this_type: str, this: str, args: str = "") -> bytes:
    return envelope(f'<{method} xmlns="{VIM25}"><_this type="{this_type}">{this}</_this>{args}</{method}>')


def task_info_spec(*task_ids: str) -> str:
    objects = "".join(f'<objectSet><obj type="Task">{task_id}</obj></objectSet>' for task_id in task_ids)
    return f"<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>{objects}</specSet>"


@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault as pyVmomi reads it: the type (``detail``'s xsi:type), message and fields."""

    type: str
    message: str
    fields: Mapping[str, str]
    http_status: int

    @classmethod
    def parse(cls, reply: Reply) -> SoapFault | None:
        root = etree.fromstring(reply.body)
        fault = root.find("s:Body/s:Fault", NS)
        if fault is None:
            return None
        holder = fault.find("detail")
        detail = None if holder is None or len(holder) == 0 else holder[0]
        fields = (
            {} if detail is None else {etree.QName(child).localname: child.text or "" for child in detail}
        )
        return cls(
            type="" if detail is None else detail.get(f"{{{XSI}}}type") or "",
            message=fault.findtext("faultstring") or "",
            fields=fields,
            http_status=reply.status,
        )


class SoapCallFailed(AssertionError):
    def __init__(self, method: str, fault: SoapFault) -> None:
        super().__init__(f"{method}: {fault.type}: {fault.message}")
        self.fault = fault


@dataclass
class Soap:
    """One SOAP client with its own session cookie (none until it logs in)."""

    send: Transport
    cookie: str | None = None
    path: str = "/sdk"

    def post(self, body: bytes) -> Reply:
        headers = {**SOAP_HEADERS, **({"Cookie": self.cookie} if self.cookie else {})}
        return self.send("POST", self.path, body, headers)

    def call(self, method: str, this_type: str, this: str, args: str = "") -> Reply:
        return self.post(call_body(method, this_type, this, args))

    def ok(self, method: str, this_type: str, this: str, args: str = "") -> etree._Element:
        """The answer's body element; a fault raises :class:`SoapCallFailed`."""
        reply = self.call(method, this_type, this, args)
        fault = SoapFault.parse(reply)
        if fault is not None:
            raise SoapCallFailed(method, fault)
        assert reply.status == 200, reply.body.decode()
        response = etree.fromstring(reply.body).find("s:Body/*", NS)
        assert response is not None
        return response

    def fault(self, method: str, this_type: str, this: str, args: str = "") -> SoapFault:
        """The fault *method* answers (it must answer one)."""
        reply = self.call(method, this_type, this, args)
        fault = SoapFault.parse(reply)
        assert fault is not None, f"{method} answered without a fault: {reply.body.decode()}"
        assert fault.http_status == 500, fault
        return fault

    # -- sessions
    def login(self, user: str = USER, password: str = PASSWORD) -> Soap:
        reply = self.call(
            "Login",
            "SessionManager",
            "SessionManager",
            f"<userName>{user}</userName><password>{password}</password>",
        )
        fault = SoapFault.parse(reply)
        if fault is not None:
            raise SoapCallFailed("Login", fault)
        self.cookie = reply.headers["set-cookie"].split(";")[0]
        return self

    def logout(self) -> None:
        self.ok("Logout", "SessionManager", "SessionManager")

    def current_session(self) -> etree._Element | None:
        """SessionManager.currentSession (None when unset)."""
        response = self.ok(
            "RetrievePropertiesEx",
            "PropertyCollector",
            "propertyCollector",
            "<specSet><propSet><type>SessionManager</type><pathSet>currentSession</pathSet></propSet>"
            '<objectSet><obj type="SessionManager">SessionManager</obj></objectSet></specSet><options/>',
        )
        return response.find(".//v:propSet/v:val", NS)

    def current_time(self) -> datetime:
        moment = parse_time(
            self.ok("CurrentTime", "ServiceInstance", "ServiceInstance").findtext(
                "v:returnval", namespaces=NS
            )
        )
        assert moment is not None
        return moment

    # -- tasks
    def task(self, task_id: str) -> TaskView:
        """``Task.info`` read as pyVmomi reads a property (Fetch): a client's poll."""
        info = self.ok("Fetch", "Task", task_id, "<prop>info</prop>").find("v:returnval", NS)
        assert info is not None
        return TaskView.from_soap(info)

    def tasks(self, *task_ids: str) -> list[TaskView]:
        """``Task.info`` of several tasks in one RetrievePropertiesEx (each a poll)."""
        response = self.ok(
            "RetrievePropertiesEx",
            "PropertyCollector",
            "propertyCollector",
            task_info_spec(*task_ids) + "<options/>",
        )
        by_key = {
            view.key: view for view in map(TaskView.from_soap, response.iterfind(".//v:propSet/v:val", NS))
        }
        return [by_key[task_id] for task_id in task_ids]

    def cancel(self, task_id: str) -> SoapFault | None:
        """CancelTask: None when accepted, else its fault."""
        return SoapFault.parse(self.call("CancelTask", "Task", task_id))

    # -- virtual machines
    def power(self, vm: str, method: str) -> str:
        """*method* (``PowerOffVM_Task``...) on VM *vm* (an id): the id of the task it started."""
        task_id = self.ok(method, "VirtualMachine", vm).findtext("v:returnval", namespaces=NS)
        assert task_id, method
        return task_id

    def properties(self, mo_type: str, mo_id: str, *paths: str) -> dict[str, etree._Element]:
        """RetrieveProperties of *paths* of one object: path -> its ``val`` element."""
        path_set = "".join(f"<pathSet>{path}</pathSet>" for path in paths)
        spec = (
            f"<specSet><propSet><type>{mo_type}</type>{path_set}</propSet>"
            f'<objectSet><obj type="{mo_type}">{mo_id}</obj></objectSet></specSet>'
        )
        response = self.ok("RetrieveProperties", "PropertyCollector", "propertyCollector", spec)
        return {
            prop.findtext("v:name", namespaces=NS) or "": prop.find("v:val", NS)
            for prop in response.iterfind(".//v:propSet", NS)
        }

    def power_state(self, vm: str) -> str:
        return self.properties("VirtualMachine", vm, "runtime.powerState")["runtime.powerState"].text or ""

    def boot_time(self, vm: str) -> datetime | None:
        """``runtime.bootTime`` (None when unset)."""
        found = self.properties("VirtualMachine", vm, "runtime")["runtime"].findtext(
            "v:bootTime", namespaces=NS
        )
        return parse_time(found)

    def recent_tasks(self, mo_type: str, mo_id: str) -> list[str]:
        """``recentTask`` of a VirtualMachine or the TaskManager: task ids, in the order served."""
        value = self.properties(mo_type, mo_id, "recentTask").get("recentTask")
        return [] if value is None else [item.text or "" for item in value]


# -- the whole mock --------------------------------------------------------------------------------


class AdminError(AssertionError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: {status} {body}")
        self.status = status
        self.body = body


@dataclass
class Vcenter:
    """The mock through HTTP only: the admin API, the adapter face, SOAP clients."""

    send: Transport

    # -- the admin API
    def admin(self, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
        """``(status, JSON)`` of ``/_vismock/PATH``."""
        filters = {name: value for name, value in query.items() if value is not None}
        target = f"/_vismock/{path}" + (f"?{urlencode(filters)}" if filters else "")
        data = None if body is None else json.dumps(body).encode()
        reply = self.send(method, target, data, {"Content-Type": "application/json"})
        return reply.status, json.loads(reply.body) if reply.body else None

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """The JSON of a 2xx answer (anything else raises :class:`AdminError`)."""
        status, answer = self.admin(method, path, body, **query)
        if not 200 <= status < 300:
            raise AdminError(method, path, status, answer)
        return answer

    def add(self, collection: str, **item: Any) -> dict[str, Any]:
        """POST one item to ``faults`` or ``overrides``: the item as stored (its id, its times)."""
        (added,) = self.ok("POST", collection, item)[collection]
        return dict(added)

    def listed(self, collection: str) -> list[dict[str, Any]]:
        """``GET faults`` or ``GET overrides``: the items, ``times`` being what remains."""
        found: list[dict[str, Any]] = self.ok("GET", collection)[collection]
        return found

    def refused(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        """``(status, error message)`` of a 4xx answer."""
        status, answer = self.admin(method, path, body)
        assert 400 <= status < 500, (status, answer)
        return status, answer["error"]

    # -- the clock
    def freeze(self, at: datetime | str | None = T0_TEXT) -> datetime:
        """Stop the clock at *at* (None: where it stands)."""
        moment = at.isoformat() if isinstance(at, datetime) else at
        return self._clock(self.ok("POST", "clock/freeze", {"at": moment} if moment else {}))

    def advance(self, seconds: float) -> datetime:
        return self._clock(self.ok("POST", "clock/advance", {"seconds": seconds}))

    def resume(self) -> datetime:
        return self._clock(self.ok("POST", "clock/resume"))

    def now(self) -> datetime:
        return self._clock(self.ok("GET", "clock"))

    @staticmethod
    def _clock(answer: Mapping[str, Any]) -> datetime:
        moment = parse_time(answer["now"])
        assert moment is not None
        return moment

    # -- tasks, reset
    def add_task(self, task_id: str, *steps: Mapping[str, Any], **fields: Any) -> str:
        """Add (or replace) a task in task-file form; PowerOnVM_Task on vm-77 unless told."""
        task = {
            "id": task_id,
            "name": "PowerOnVM_Task",
            "descriptionId": "VirtualMachine.powerOn",
            "entity": {"type": "VirtualMachine", "id": "vm-77", "name": "seventy-seven"},
            **({"timeline": list(steps)} if steps else {}),
            **fields,
        }
        self.ok("POST", "tasks", task)
        return task_id

    def peek(self, task_id: str) -> TaskView:
        """The admin API's view of the task (not a poll)."""
        return TaskView.from_admin(self.ok("GET", f"tasks/{task_id}")["info"])

    def task_ids(self) -> list[str]:
        return [task["id"] for task in self.ok("GET", "tasks")["tasks"]]

    def advance_task(self, task_id: str, steps: int = 1) -> TaskView:
        return TaskView.from_admin(self.ok("POST", f"tasks/{task_id}/advance", {"steps": steps})["info"])

    def reset(self) -> None:
        self.ok("POST", "reset")

    def vm(self, vm: str) -> dict[str, Any]:
        """``GET /inventory/VM``: a VM with its power state, boot time, running and recent tasks."""
        answer: dict[str, Any] = self.ok("GET", f"inventory/{vm}")
        return answer

    # -- the journal
    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.ok("GET", "journal", **filters)["entries"]
        return entries

    def count(self, **filters: Any) -> int:
        found: int = self.ok("GET", "journal/count", **filters)["count"]
        return found

    # -- the adapter face
    def adapter(self, body: bytes, headers: Mapping[str, str] = XML_HEADERS) -> AdapterAnswer:
        return AdapterAnswer.parse(self.send("POST", "/adapter", body, headers))

    def status(self, *task_ids: str, user: str = "", password: str = "") -> AdapterAnswer:
        """Retrieve_Task_Status of *task_ids* (each a client's poll)."""
        return self.adapter(status_request(*task_ids, user=user, password=password))

    def task(self, task_id: str) -> TaskView:
        """One task through the adapter face (a poll); an error envelope fails."""
        answer = self.status(task_id)
        assert answer.status == "success", answer.body.decode()
        (view,) = answer.tasks
        return view

    def power(self, operation: str, vm: str, user: str = "", password: str = "") -> AdapterAnswer:
        """A Basic_Vm operation (``Power_Off_VM`` or its method ``PowerOffVM_Task``) on VM *vm* (a name)."""
        name = VIS_OPERATIONS.get(operation, operation)
        parameters = f"<virtual-machine>{vm}</virtual-machine>"
        return self.adapter(adapter_request("Basic_Vm", name, parameters, user, password))

    # -- SOAP clients
    def soap(self, user: str = USER, password: str = PASSWORD) -> Soap:
        """A SOAP client logged in as *user*."""
        return Soap(self.send).login(user, password)

    def anonymous(self) -> Soap:
        """A SOAP client without a session."""
        return Soap(self.send)
