"""Properties of the mock on generated data, both faces (Flask test client, no sockets).

- the adapter face answers every generated valid request with HTTP 200 and a valid envelope, and
  every generated invalid request with HTTP 400 and an error envelope naming the broken path;
- the SOAP face answers generated property reads (and garbage) with HTTP 200 and a valid response,
  or with a well-formed vim25 SOAP fault: HTTP 500 is how SOAP 1.1 carries a fault, so there a 5xx
  is only ever a schema-valid fault naming a real fault type, never SystemError (the mock's
  "internal error") and never a logged exception;
- both faces say the same about the same generated task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

import vismock.codec as codec
from tests.support import wire as vim25
from tests.support.codec_examples import (
    INVALID_REQUEST_EXAMPLES,
    REQUESTS_OF_THE_PASSWORD_RULE,
    SEED_REQUEST,
    with_examples,
)
from tests.support.soap import T0, assert_valid, call_xml, envelope, logged_in, make_app, post
from vismock.codec import XsDateTime
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend, Reason, Step, TaskSpec
from vismock.mockserver.vim25.typemodel import model
from vismock.schemas import fault_types, task_methods
from vismock.testing import InvalidDocument, invalid_requests, requests

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NS = {"v": "urn:vim25", "s": vim25.SOAPENV, "xsi": vim25.XSI}
XSI_TYPE = f"{{{vim25.XSI}}}type"
ACCOUNTS = {"vismock": "vismock"}
# Texts the faces carry unchanged: no control characters, no noncharacters (U+FFFE: XML cannot carry
# them), not empty (empty decodes to None).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=10)
IDS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=10,
)


class _Exceptions(logging.Handler):
    """Exceptions the mock logs: each one is a request it could not answer properly."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@pytest.fixture(scope="module")
def logged_exceptions() -> Iterator[_Exceptions]:
    handler = _Exceptions()
    logger = logging.getLogger("vismock")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def apps() -> dict[str, Flask]:
    """The SOAP test tasks with the clock frozen at T0, plain and in dynamic mode."""
    return {"plain": make_app(), "dynamic": make_app(VISMOCK_DYNAMIC=True)}


@pytest.fixture(scope="module")
def clients(apps: dict[str, Flask]) -> dict[tuple[str, bool], FlaskClient]:
    """(app, logged in?) -> a test client."""
    return {
        (name, session): (logged_in(app.test_client()) if session else app.test_client())
        for name, app in apps.items()
        for session in (False, True)
    }


def no_exceptions(logged: _Exceptions) -> None:
    records, logged.records = logged.records, []
    assert records == [], "\n\n".join(records)


# -- the adapter face ----------


@SETTINGS
@given(request=requests(), dynamic=st.booleans())
@with_examples([*REQUESTS_OF_THE_PASSWORD_RULE, SEED_REQUEST], "request", dynamic=False)
def test_adapter_face_answers_valid_requests_with_valid_200_envelopes(
    clients: dict[tuple[str, bool], FlaskClient],
    logged_exceptions: _Exceptions,
    request: dict[str, Any],
    dynamic: bool,
) -> None:
    client = clients["dynamic" if dynamic else "plain", False]
    response = client.post("/adapter", data=codec.encode(request), content_type="text/xml")
    assert response.status_code == 200
    assert list(codec.iter_errors(response.data)) == []
    metadata = codec.decode(response.data)["metadata"]
    user = str(request.get("user-name") or "").strip()
    tasks = [entry["task"] for entry in request["parameters"]["spec-set"]["object-set"]]
    if user and ACCOUNTS.get(user) != request.get("password"):
        assert metadata.get("fault") == "InvalidLogin"
    elif dynamic:
        returnvals = codec.decode(response.data)["RetrieveTaskStatusResponse"]["returnval"]
        assert [returnval["Task"] for returnval in returnvals] == tasks
    else:
        assert metadata["status"] == "success" or metadata.get("fault") == "ManagedObjectNotFound"
    no_exceptions(logged_exceptions)


@SETTINGS
@given(invalid=invalid_requests())
@with_examples(INVALID_REQUEST_EXAMPLES, "invalid")
def test_adapter_face_answers_invalid_requests_with_400_naming_the_path(
    clients: dict[tuple[str, bool], FlaskClient], logged_exceptions: _Exceptions, invalid: InvalidDocument
) -> None:
    response = clients["plain", False].post("/adapter", data=invalid.document, content_type="text/xml")
    assert response.status_code == 400
    assert list(codec.iter_errors(response.data)) == []
    metadata = codec.decode(response.data)["metadata"]
    assert metadata["status"] == "error"
    details = metadata["error-detail"]
    assert [detail["path"] for detail in details] == [invalid.path]
    assert invalid.reason in details[0]["reason"]
    no_exceptions(logged_exceptions)


# -- the SOAP face ----------

STORED_IDS = ("task-ok", "task-fail")
# Every Task property path vim25 defines to two levels (``info``, ``info.state``), and some it does not.
TASK_PATHS = [
    *(prop.name for prop in model().properties("Task")),
    *(f"info.{field.name}" for field in model().fields("TaskInfo")),
]
PATHS = st.sampled_from([*TASK_PATHS, "info.colour", "name", "runtime", ""])
TASK_IDS = st.one_of(st.sampled_from(STORED_IDS), IDS)


def _retrieve(method: str, ids: list[str], paths: list[str]) -> bytes:
    path_set = "".join(f"<pathSet>{escape(path)}</pathSet>" for path in paths)
    objects = "".join(f'<objectSet><obj type="Task">{escape(task_id)}</obj></objectSet>' for task_id in ids)
    spec = f"<specSet><propSet><type>Task</type>{path_set}</propSet>{objects}</specSet>"
    options = "<options/>" if method == "RetrievePropertiesEx" else ""
    return call_xml(method, "PropertyCollector", "propertyCollector", spec + options)


def _fetch(task_id: str, path: str) -> bytes:
    return call_xml("Fetch", "Task", escape(task_id), f"<prop>{escape(path)}</prop>")


PROPERTY_READS = st.one_of(
    st.builds(
        _retrieve,
        st.sampled_from(["RetrievePropertiesEx", "RetrieveProperties"]),
        st.lists(TASK_IDS, min_size=1, max_size=3),
        st.lists(PATHS, min_size=1, max_size=3),
    ),
    st.builds(_fetch, TASK_IDS, PATHS),
)


@st.composite
def _garbage(draw: st.DrawFn) -> bytes:
    """Broken bodies: random bytes, a truncated read, a read in the wrong namespace, a bare payload."""
    valid = draw(PROPERTY_READS)
    kind = draw(st.sampled_from(["bytes", "truncated", "namespace", "payload", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        return valid[: draw(st.integers(min_value=0, max_value=len(valid) - 1))]
    if kind == "namespace":
        return valid.replace(b'xmlns="urn:vim25"', b'xmlns="urn:vim26"')
    if kind == "payload":
        return envelope(draw(TEXT).replace("<", "&lt;").replace("&", "&amp;"))
    return draw(TEXT).encode()


@SETTINGS
@given(body=st.one_of(PROPERTY_READS, _garbage()), dynamic=st.booleans(), session=st.booleans())
def test_soap_face_answers_reads_and_garbage_with_a_response_or_a_proper_fault(
    clients: dict[tuple[str, bool], FlaskClient],
    logged_exceptions: _Exceptions,
    body: bytes,
    dynamic: bool,
    session: bool,
) -> None:
    response = post(clients["dynamic" if dynamic else "plain", session], body)
    assert response.status_code in (200, 500), response.data
    assert_valid(response.data)
    fault = vim25.fault_type_of(response.data)
    assert (fault is None) == (response.status_code == 200)
    assert fault != "SystemError", response.data
    no_exceptions(logged_exceptions)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task_ids=st.lists(IDS, min_size=1, max_size=3), paths=st.lists(PATHS, min_size=1, max_size=3))
def test_soap_face_reads_generated_tasks_of_any_id_in_dynamic_mode(
    clients: dict[tuple[str, bool], FlaskClient], task_ids: list[str], paths: list[str]
) -> None:
    response = post(clients["dynamic", True], _retrieve("RetrievePropertiesEx", task_ids, paths))
    known = all(path in TASK_PATHS for path in paths)
    assert response.status_code == (200 if known else 500), response.data
    assert_valid(response.data)


# -- both faces agree ----------

REASONS = st.one_of(
    st.builds(Reason, kind=st.just("user"), user_name=TEXT),
    st.builds(Reason, kind=st.just("alarm"), alarm=TEXT, alarm_name=TEXT, entity=TEXT, entity_name=TEXT),
    st.builds(Reason, kind=st.just("schedule"), name=TEXT, scheduled_task=TEXT),
    st.just(Reason(kind="system")),
)
# Only fault types both faces can name: any other is refused when the task is loaded.
FAULTS = st.sampled_from(sorted(fault_types()))
METHODS = st.sampled_from(sorted(task_methods().values(), key=lambda method: method.name))


@st.composite
def timelines(draw: st.DrawFn) -> tuple[Step, ...]:
    """queued?, running steps with rising progress, then maybe success or error; ``at`` rising."""
    states = ["queued"] * draw(st.integers(0, 1)) + ["running"] * draw(st.integers(0, 3))
    final = draw(st.sampled_from([None, "success", "error"]))
    states += [final] if final else []
    states = states or ["running"]
    gaps = draw(st.lists(st.integers(1, 100), min_size=len(states), max_size=len(states)))
    progress = sorted(draw(st.lists(st.integers(0, 100), min_size=len(states), max_size=len(states))))
    steps = []
    for index, state in enumerate(states):
        step = Step(
            state=state, at=sum(gaps[:index]), progress=draw(st.sampled_from([None, progress[index]]))
        )
        if state == "success":
            step = Step(state=state, at=step.at, progress=step.progress, result=draw(st.none() | TEXT))
        if state == "error":
            step = Step(state=state, at=step.at, fault=draw(FAULTS), message=draw(st.none() | TEXT))
        steps.append(step)
    return tuple(steps)


@st.composite
def task_specs(draw: st.DrawFn) -> TaskSpec:
    entity_type = draw(st.none() | st.sampled_from(vim25.entity_types()))
    method = draw(METHODS)
    return TaskSpec(
        id="task-" + draw(IDS),
        name=method.name,
        description_id=draw(st.just(method.description_id) | TEXT),
        entity_type=entity_type,
        entity_id=draw(TEXT) if entity_type else None,
        entity_name=draw(st.none() | TEXT) if entity_type else None,
        reason=draw(REASONS),
        cancelable=draw(st.booleans()),
        event_chain_id=draw(st.integers(-(2**31), 2**31 - 1)),
        timeline=draw(timelines()),
        queued_at=T0,
    )


def adapter_view(info: dict[str, Any]) -> dict[str, Any]:
    """What the adapter face says of a task, in comparable terms."""
    reason_type = next(name for name in vim25.reason_types() if name in info)
    error = info.get("error")
    entity = vim25.task_entity(info)
    return {
        "key": info["key"],
        "state": info["state"],
        "cancelled": info["cancelled"],
        "progress": info.get("progress"),
        "entity": None if entity is None else (entity.type, entity.value),
        "entityName": info.get("entityName"),
        "reason": (reason_type, {k: v for k, v in (info[reason_type] or {}).items()}),
        "times": [_moment(info.get(name)) for name in ("queueTime", "startTime", "completeTime")],
        "error": None if error is None else _soap_error(error),
    }


def _soap_error(error: dict[str, Any]) -> tuple[str, str | None]:
    """The SOAP face serves the fault types the vim25 model defines; another becomes SystemError,
    its name kept at the front of the message."""
    wanted, message = error["fault"], error.get("localizedMessage")
    served = wanted if wanted in model().fault_types() else "SystemError"
    if served != wanted:
        message = f"{wanted}: {message}" if message else wanted
    return served, message


def soap_view(body: bytes) -> dict[str, Any]:
    """What the SOAP face says of a task (RetrievePropertiesEx of ``info``), in the same terms."""
    val = etree.fromstring(body).find(".//v:propSet/v:val", NS)
    assert val is not None
    entity = val.find("v:entity", NS)
    reason = val.find("v:reason", NS)
    error = val.find("v:error", NS)
    assert reason is not None
    return {
        "key": val.findtext("v:key", namespaces=NS),
        "state": val.findtext("v:state", namespaces=NS),
        "cancelled": val.findtext("v:cancelled", namespaces=NS) == "true",
        "progress": None
        if val.find("v:progress", NS) is None
        else int(val.findtext("v:progress", namespaces=NS) or ""),
        "entity": None if entity is None else (entity.get("type"), entity.text),
        "entityName": val.findtext("v:entityName", namespaces=NS),
        "reason": (reason.get(XSI_TYPE), {etree.QName(child).localname: child.text for child in reason}),
        "times": [
            _moment(val.findtext(f"v:{name}", namespaces=NS))
            for name in ("queueTime", "startTime", "completeTime")
        ],
        "error": None if error is None else _fault_of(error),
    }


def _fault_of(error: Any) -> tuple[str, str | None]:
    """A LocalizedMethodFault's fault type (its xsi:type; none where it is the declared MethodFault,
    as vCenter writes it) and message."""
    fault = error.find("v:fault", NS)
    assert fault is not None
    return fault.get(XSI_TYPE) or "MethodFault", error.findtext("v:localizedMessage", namespaces=NS)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else XsDateTime(text).datetime


# A task failing with MethodFault itself: vCenter writes no xsi:type where the fault is the
# declared type (found by the generator once; pinned for the fixed-examples profile).
METHOD_FAULT_TASK = TaskSpec(
    id="task-0",
    name="PowerOnVM_Task",
    description_id="VirtualMachine.powerOn",
    reason=Reason(kind="user", user_name="0"),
    timeline=(Step(state="running", at=0), Step(state="error", at=1, fault="MethodFault")),
    queued_at=T0,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=task_specs(), elapsed=st.integers(0, 400))
@example(spec=METHOD_FAULT_TASK, elapsed=1)
def test_both_faces_say_the_same_about_a_generated_task(
    apps: dict[str, Flask], clients: dict[tuple[str, bool], FlaskClient], spec: TaskSpec, elapsed: int
) -> None:
    backend: Backend = services_of(apps["plain"]).backend
    backend.tasks.put([spec])
    backend.freeze(T0 + timedelta(seconds=elapsed))
    try:
        adapter = clients["plain", False].post(
            "/adapter", data=_adapter_request(spec.id), content_type="text/xml"
        )
        assert adapter.status_code == 200
        info = codec.decode(adapter.data)["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
        soap_response = post(clients["plain", True], _retrieve("RetrievePropertiesEx", [spec.id], ["info"]))
        assert soap_response.status_code == 200, soap_response.data
        assert_valid(soap_response.data)
        assert adapter_view(info) == soap_view(soap_response.data)
    finally:
        backend.tasks.delete(spec.id)
        backend.freeze(T0)


def _adapter_request(task_id: str) -> bytes:
    return codec.encode(
        {
            "operation-type": "Monitor_Vm",
            "operation-name": "Retrieve_Task_Status",
            "parameters": {"spec-set": {"object-set": [{"task": task_id}]}},
        }
    )
