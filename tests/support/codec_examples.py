"""Fixed examples for the codec's property tests: one or more per codec rule, so that CI's
derandomized Hypothesis profile (tests/conftest.py: ``ci``) runs each rule on every run, not only
when a random draw happens to reach it. Used with ``@example`` in tests/codec/test_properties.py,
tests/testing/test_strategies.py and tests/mockserver/faces/test_properties.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import example

from vismock.codec import XsDateTime
from vismock.testing import InvalidDocument

Test = TypeVar("Test", bound=Callable[..., None])


def with_examples(values: list[Any], argument: str | None = None, **fixed: Any) -> Callable[[Test], Test]:
    """``@example(value)`` for each of *values*, in order; with *argument*, ``@example(argument=value,
    **fixed)`` (a test whose other arguments are drawn too)."""

    def decorate(test: Test) -> Test:
        for value in reversed(values):
            given = example(value) if argument is None else example(**{argument: value}, **fixed)
            test = given(test)
        return test

    return decorate


SEED_REQUEST: dict[str, Any] = {
    "operation-type": "Monitor_Vm",
    "operation-name": "Retrieve_Task_Status",
    "soap-url": None,
    "transport": None,
    "user-name": None,
    "password": None,
    "parameters": {"spec-set": {"object-set": [{"task": "task-525"}]}},
}


def request(**changes: Any) -> dict[str, Any]:
    """The seed request with *changes* (``user_name`` for ``user-name``)."""
    return {**SEED_REQUEST, **{key.replace("_", "-"): value for key, value in changes.items()}}


# The rule XSD 1.0 cannot state: a password is required when user-name is not blank. A user-name of
# white space only is blank (no password needed); any other text needs one (and keeps its spaces).
BLANK_USER_NAMES = [" ", "   ", "\t", "\n  \t\n", " \r\n "]
REQUESTS_OF_THE_PASSWORD_RULE = [
    *(request(user_name=blank, password=None) for blank in BLANK_USER_NAMES),
    request(user_name=" ", password="set anyway"),
    request(user_name="bob", password="s3cret"),
    request(user_name=" bob ", password=" spaced "),  # strings keep their white space
]
# Repeated elements are lists even with one item; empty elements are None; enumerations; anyURI.
OTHER_REQUESTS = [
    SEED_REQUEST,
    request(
        soap_url="https://vc.example/sdk/vim",
        transport="https-rpc",
        parameters={"spec-set": {"object-set": [{"task": "task-1"}, {"task": "task-2"}, {"task": "task-1"}]}},
    ),
    {
        **request(operation_type="Basic_Vm", operation_name="Power_Off_VM"),
        "parameters": {"virtual-machine": "win1"},
    },
]
REQUEST_EXAMPLES = REQUESTS_OF_THE_PASSWORD_RULE + OTHER_REQUESTS


def _task_info(task_id: str, reason: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A TaskInfo dict in schema order (*reason*: the TaskReason choice, TaskReasonUser bmc by default)."""
    info: dict[str, Any] = {
        "key": task_id,
        "Task": task_id,
        "name": "PowerOnVM_Task",
        "descriptionId": "VirtualMachine.powerOn",
        "VirtualMachine": "vm-1",
        "entityName": "web-01",
        "state": "success",
        "cancelled": False,
        "cancelable": False,
    }
    outcome = {key: changes.pop(key) for key in ("error", "result", "progress") if key in changes}
    info.update({key: changes.pop(key) for key in ("state", "cancelled", "cancelable") if key in changes})
    info.update(outcome)
    info.update(reason or {"TaskReasonUser": {"userName": "bmc"}})
    info["queueTime"] = XsDateTime("2009-05-27T08:26:34.234375Z")
    info.update(changes)
    info.setdefault("eventChainId", 1)
    return info


def _response(*infos: dict[str, Any]) -> dict[str, Any]:
    returnvals = [{"Task": info["key"], "propSet": {"name": "info", "TaskInfo": info}} for info in infos]
    return {"metadata": {"status": "success"}, "RetrieveTaskStatusResponse": {"returnval": returnvals}}


RESPONSE_EXAMPLES = [
    _response(_task_info("task-2675", startTime=XsDateTime("2009-05-27T08:26:34.25Z"))),
    _response(  # an error, the reason system (an empty element: None), times to the nanosecond
        _task_info(
            "task-1",
            {"TaskReasonSystem": None},
            state="error",
            cancelled=True,
            cancelable=True,
            error={"fault": "RequestCanceled", "localizedMessage": "The task was canceled by a user."},
            progress=0,
            queueTime=XsDateTime("2024-01-02T03:04:05.123456789+14:00"),
            completeTime=XsDateTime("2024-01-02T03:04:06-14:00"),
            eventChainId=-2147483648,
        ),
        _task_info("task-2", state="running", progress=100, eventChainId=2147483647),
        _task_info("task-3", result="vm-3"),
    ),
    {  # the error envelope: repeated error-detail, each with its path, line and reason
        "metadata": {
            "status": "error",
            "error": "the request is not a valid vmware-infrastructure-request",
            "error-detail": [
                {
                    "path": "/vmware-infrastructure-request/password",
                    "line": 1,
                    "reason": "password is required",
                },
                {"path": "/", "reason": "second"},
            ],
        }
    },
]


# Documents written as clients write them: other lexical forms of the same values (1/0 booleans,
# +5 and 007 integers, white space around collapsing values, comments, no declaration, CRLF).
LEXICAL_REQUESTS = [
    b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
    b"<operation-name>Retrieve_Task_Status</operation-name><soap-url> https://vc/sdk </soap-url>"
    b"<transport>http-rpc</transport><user-name>  </user-name><password></password>"
    b"<parameters><spec-set><object-set><task>task-525</task></object-set></spec-set></parameters>"
    b"</vmware-infrastructure-request>",
    b'<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- a client -->\r\n<vmware-infrastructure-request>\r\n'
    b"<operation-type>Monitor_Vm</operation-type><operation-name>Retrieve_Task_Status</operation-name>"
    b"<user-name>\t</user-name><parameters><spec-set><object-set><task>task-1</task></object-set>"
    b"</spec-set></parameters></vmware-infrastructure-request>",
    b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
    b"<operation-name>Retrieve_Task_Status</operation-name><user-name> bob </user-name>"
    b"<password> pw </password><parameters><spec-set><object-set><task>task-1</task></object-set>"
    b"</spec-set></parameters></vmware-infrastructure-request>",
]
LEXICAL_RESPONSES = [
    b"<vmware-infrastructure-response><metadata><status>success</status></metadata>"
    b"<RetrieveTaskStatusResponse><returnval><Task>task-9</Task><propSet><name>info</name><TaskInfo>"
    b"<key>task-9</key><Task>task-9</Task><name>PowerOnVM_Task</name><descriptionId>VirtualMachine.powerOn"
    b"</descriptionId><VirtualMachine>vm-9</VirtualMachine><state>running</state><cancelled>0</cancelled>"
    b"<cancelable> 1 </cancelable><progress>007</progress><TaskReasonSystem/>"
    b"<queueTime>\n 2009-05-27T08:26:34.234375Z\t</queueTime><eventChainId>+71232</eventChainId>"
    b"</TaskInfo></propSet></returnval></RetrieveTaskStatusResponse></vmware-infrastructure-response>",
]
LEXICAL_EXAMPLES = LEXICAL_REQUESTS + LEXICAL_RESPONSES

# Aware datetimes at the edges XsDateTime must carry: UTC with microseconds, the extreme offsets,
# a daylight-saving fold and gap (PEP 495), the first and last years.
DATETIME_EXAMPLES = [
    datetime(2009, 5, 27, 8, 26, 34, 234375, tzinfo=UTC),
    datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=14))),
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-14))),
    datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2024, 3, 10, 2, 30, tzinfo=ZoneInfo("America/New_York")),
    datetime(1, 1, 1, 12, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def _retrieve_request(inner: str) -> bytes:
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        f"<operation-name>Retrieve_Task_Status</operation-name>{inner}"
        "<parameters><spec-set><object-set><task>task-1</task></object-set></spec-set></parameters>"
        "</vmware-infrastructure-request>"
    ).encode()


PASSWORD_ISSUE = (
    "/vmware-infrastructure-request/password",
    "password is required when user-name is not empty",
)
# One defect each: the document, the path the codec must report, and words of its reason.
INVALID_REQUEST_EXAMPLES = [
    InvalidDocument(_retrieve_request("<user-name>bob</user-name>"), *PASSWORD_ISSUE),
    InvalidDocument(_retrieve_request("<user-name> bob </user-name><password></password>"), *PASSWORD_ISSUE),
    InvalidDocument(
        _retrieve_request("<colour/>"), "/vmware-infrastructure-request/colour", "unknown element 'colour'"
    ),
    InvalidDocument(
        _retrieve_request("<transport>ftp</transport>"),
        "/vmware-infrastructure-request/transport",
        "value must be one of",
    ),
    InvalidDocument(
        b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        b"<parameters><spec-set><object-set><task>task-1</task></object-set></spec-set></parameters>"
        b"</vmware-infrastructure-request>",
        "/vmware-infrastructure-request",
        "missing required element 'operation-name'",
    ),
]
INVALID_RESPONSE_EXAMPLES = [
    InvalidDocument(
        LEXICAL_RESPONSES[0].replace(b"<cancelled>0</cancelled>", b"<cancelled>no</cancelled>"),
        "/vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/TaskInfo/cancelled",
        "is not a valid xs:boolean",
    ),
]
