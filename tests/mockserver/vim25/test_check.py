"""The response checker: real answers pass, and each kind of defect is named with where it is."""

from __future__ import annotations

import pytest

from tests.support import DATA
from vismock.mockserver.vim25 import xml
from vismock.mockserver.vim25.check import envelope_errors

EXCHANGE = DATA / "vim25" / "pyvmomi-vcsim-exchange"


def _responses() -> list[tuple[str, bytes]]:
    found = []
    for path in sorted(EXCHANGE.glob("0*.txt")):
        response = path.read_bytes().split(b"\n---- ", 1)[1]
        if b"<soapenv:Envelope" in response:
            found.append((path.name, response[response.index(b"<?xml") :]))
    return found


@pytest.mark.parametrize(("name", "body"), _responses(), ids=[name for name, _ in _responses()])
def test_the_reference_simulator_s_answers_to_pyvmomi_pass(name: str, body: bytes) -> None:
    assert envelope_errors(body) == []


def test_the_recorded_exchange_is_all_there() -> None:
    assert len(_responses()) == 18  # and two vimServiceVersions.xml documents, which are not SOAP


TASK_INFO = (
    '<key>task-1</key><task type="Task">task-1</task><descriptionId>VirtualMachine.powerOn</descriptionId>'
    '<entity type="VirtualMachine">vm-1</entity><state>{state}</state><cancelled>false</cancelled>'
    '<cancelable>false</cancelable>{middle}<reason xsi:type="TaskReasonUser"><userName>u</userName></reason>'
    "<queueTime>2026-01-01T00:00:00Z</queueTime><eventChainId>1</eventChainId>"
)


def fetch_answer(state: str = "success", middle: str = "", val_type: str = ' xsi:type="TaskInfo"') -> bytes:
    content = f"<returnval{val_type}>{TASK_INFO.format(state=state, middle=middle)}</returnval>"
    return xml.response_envelope("Fetch", content)


def test_a_good_answer_passes() -> None:
    assert envelope_errors(fetch_answer()) == []
    assert envelope_errors(xml.response_envelope("Logout")) == []
    assert (
        envelope_errors(xml.fault_envelope("InvalidPowerState", {"existingState": "poweredOn"}, "on")) == []
    )


def _only(body: bytes) -> str:
    errors = envelope_errors(body)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<a>", "not XML: malformed XML"),
        (b"<a/>", "the root is <a>, not a SOAP 1.1 Envelope"),
        (
            xml.response_envelope("Fetch")[:-34] + b"<x/></soapenv:Body></soapenv:Envelope>",
            "exactly one element, not 2",
        ),
        (xml.response_envelope("NoSuchMethod"), "NoSuchMethodResponse: answers no vim25 method"),
        (fetch_answer(val_type=""), "FetchResponse/returnval: is an anyType without xsi:type"),
        (fetch_answer(val_type=' xsi:type="Nonsense"'), "has xsi:type 'Nonsense', which names no vim25 type"),
        (fetch_answer(state="finished"), "returnval/state: holds 'finished', not a TaskInfoState value"),
        (
            fetch_answer(middle="<progress>much</progress>"),
            "returnval/progress: holds 'much', not an integer (int)",
        ),
        (fetch_answer(middle="<progress>4294967296</progress>"), "out of the int range"),
        (
            fetch_answer(middle="<cancelled>true</cancelled>"),
            "returnval/cancelled: is out of order: a TaskInfo's",
        ),
        (fetch_answer(middle="<nonsense/>"), "returnval/nonsense: is not a field of TaskInfo"),
        (
            fetch_answer(middle="<progress>1</progress><progress>2</progress>"),
            "is repeated, but it is not an array",
        ),
        (fetch_answer(middle="<result>vm-1</result>"), "returnval/result: is an anyType without xsi:type"),
        (
            fetch_answer(middle='<result xsi:type="ManagedObjectReference">vm-1</result>'),
            "returnval/result: is a reference to a ManagedObjectReference without a type attribute",
        ),
        (
            fetch_answer(middle='<result type="Nonsense" xsi:type="ManagedObjectReference">x</result>'),
            "refers to 'Nonsense', which is not a vim25 managed type",
        ),
        (
            fetch_answer(middle='<error><fault xsi:type="TaskInfo"/></error>'),
            "returnval/error/fault: has xsi:type 'TaskInfo', which is not a MethodFault",
        ),
        (
            fetch_answer(middle='<error><fault xsi:type="InvalidPowerState"/></error>'),
            "returnval/error/fault: lacks <existingState>, which a InvalidPowerState requires",
        ),
        (
            fetch_answer(middle="<error/>"),
            "returnval/error: lacks <fault>, which a LocalizedMethodFault requires",
        ),
        (fetch_answer(middle="<progress><x/></progress>"), "holds elements, but a int is a simple value"),
        (
            fetch_answer(middle="<error>text<fault/></error>"),
            "holds text, but a LocalizedMethodFault holds only",
        ),
        (
            fetch_answer(middle='<result xsi:type="ArrayOfString"><int>1</int></result>'),
            "returnval/result/int: is not an item of ArrayOfString (<string>)",
        ),
        (
            xml.response_envelope("Fetch", '<returnval xsi:type="TaskInfo"><key>k</key></returnval>'),
            "lacks <task>, which a TaskInfo requires",
        ),
        (
            xml.response_envelope("RetrieveServiceContent"),
            "lacks <returnval>: RetrieveServiceContent returns a ServiceContent",
        ),
        (
            xml.response_envelope("Logout", '<returnval xsi:type="xsd:string">x</returnval>'),
            "Logout returns nothing, but the response holds elements",
        ),
        (
            xml.response_envelope("CurrentTime", "<returnval>2026-01-01T00:00:00Z</returnval>" * 2),
            "is repeated, but CurrentTime returns one dateTime",
        ),
        (
            xml.response_envelope("PowerOnVM_Task", '<returnval type="VirtualMachine">vm-1</returnval>'),
            "refers to a VirtualMachine, which is not a Task",
        ),
        (
            xml.response_envelope(
                "PowerOnVM_Task", '<returnval type="Task" xsi:type="TaskInfo">t</returnval>'
            ),
            "has xsi:type 'TaskInfo', which is not a Task",
        ),
    ],
)
def test_each_kind_of_defect_is_named_with_its_place(body: bytes, problem: str) -> None:
    found = envelope_errors(body)
    assert any(problem in error for error in found), found
    assert all(error.startswith("line ") for error in found)


def _fault(
    detail: str, code: str = "<faultcode>ServerFaultCode</faultcode><faultstring>m</faultstring>"
) -> bytes:
    body = f"<soapenv:Fault>{code}<detail>{detail}</detail></soapenv:Fault>"
    return xml.response_envelope("X").replace(b'<XResponse xmlns="urn:vim25"></XResponse>', body.encode())


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            _fault('<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"/>', ""),
            "lacks <faultcode>",
        ),
        (_fault(""), "must hold a <detail> of exactly one element"),
        (_fault('<Boom xmlns="urn:vim25"/>'), "is not a vim25 fault element"),
        (_fault('<NotAuthenticatedFault xmlns="urn:vim25"/>'), "lacks xsi:type"),
        (
            _fault('<TaskInProgressFault xmlns="urn:vim25" xsi:type="TaskInProgress"/>'),
            "TaskInProgressFault: lacks <task>, which a TaskInProgress requires",
        ),
        (
            _fault(
                '<TaskInProgressFault xmlns="urn:vim25" xsi:type="TaskInProgress">'
                "<task>t</task></TaskInProgressFault>"
            ),
            "TaskInProgressFault/task: is a reference to a Task without a type attribute",
        ),
    ],
)
def test_fault_defects(body: bytes, problem: str) -> None:
    found = envelope_errors(body)
    assert any(problem in error for error in found), found


def test_an_answer_the_trimmed_schema_let_through_is_caught() -> None:
    # Today's face left four required fields out of VirtualMachineRuntimeInfo until this checker
    # read its answers: the trimmed schema had them optional.
    runtime = (
        '<returnval xsi:type="VirtualMachineRuntimeInfo"><connectionState>connected</connectionState>'
        "<powerState>poweredOn</powerState><toolsInstallerMounted>false</toolsInstallerMounted>"
        "<numMksConnections>0</numMksConnections></returnval>"
    )
    found = envelope_errors(xml.response_envelope("Fetch", runtime))
    assert [error.split("lacks ")[1].split(",")[0] for error in found] == [
        "<faultToleranceState>",
        "<recordReplayState>",
        "<onlineStandby>",
        "<consolidationNeeded>",
    ]
