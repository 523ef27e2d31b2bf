"""vim25 on the wire from the model: rendering as vCenter writes it, parsing calls, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from tests.support import DATA
from tests.support.soap import T0, backend_of, call_xml, envelope, logged_in, make_app, post
from vismock.codec import XsDateTime
from vismock.faults import InvalidRequest
from vismock.mockserver.vim25 import xml
from vismock.mockserver.vim25.check import envelope_errors
from vismock.mockserver.vim25.values import Data, MoRef, Typed, canonical_any
from vismock.testing.vim25 import any_values, data_objects

NOW = datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)
VM = MoRef("VirtualMachine", "vm-1")
EXCHANGE = DATA / "vim25" / "pyvmomi-vcsim-exchange"  # pyVmomi and the reference simulator, recorded
WRAPPER = f'<w xmlns="{xml.VIM25}" xmlns:xsi="{xml.XSI}" xmlns:xsd="{xml.XSD}">{{}}</w>'


def fragment(text: str) -> etree._Element:
    """The elements of a rendered fragment, in the namespaces an envelope declares."""
    return etree.fromstring(WRAPPER.format(text))


# -- rendering -----------------------------------------------------------------------------------------------


def test_references_subtypes_and_any_types_as_vcenter_writes_them() -> None:
    info = Data(
        "TaskInfo",
        key="task-1",
        task=MoRef("Task", "task-1"),
        descriptionId="VirtualMachine.createSnapshot",
        entity=VM,
        state="success",
        cancelled=False,
        cancelable=True,
        result=MoRef("VirtualMachineSnapshot", "snapshot-1"),
        reason=Data("TaskReasonUser", userName="root"),
        queueTime=NOW,
        eventChainId=1,
    )
    assert xml.render("returnval", info, "TaskInfo") == (
        '<returnval><key>task-1</key><task type="Task">task-1</task>'
        "<descriptionId>VirtualMachine.createSnapshot</descriptionId>"
        '<entity type="VirtualMachine">vm-1</entity><state>success</state><cancelled>false</cancelled>'
        "<cancelable>true</cancelable>"
        '<result type="VirtualMachineSnapshot" xsi:type="ManagedObjectReference">snapshot-1</result>'
        '<reason xsi:type="TaskReasonUser"><userName>root</userName></reason>'
        "<queueTime>2026-01-01T12:00:00.25Z</queueTime><eventChainId>1</eventChainId></returnval>"
    )
    assert xml.render_typed("val", info, "TaskInfo").startswith('<val xsi:type="TaskInfo"><key>')


def test_typed_values_and_vim25_arrays() -> None:
    refs = (MoRef("Datastore", "datastore-1"), MoRef("Datastore", "datastore-2"))
    item = '<{0} type="Datastore" xsi:type="{0}">{1}</{0}>'
    items = item.format("ManagedObjectReference", "datastore-1") + item.format(
        "ManagedObjectReference", "datastore-2"
    )
    assert xml.render_typed("val", refs, "Datastore", array=True) == (
        f'<val xsi:type="ArrayOfManagedObjectReference">{items}</val>'
    )
    assert xml.render_typed("val", ("a", "b"), "string", array=True) == (
        '<val xsi:type="ArrayOfString"><string>a</string><string>b</string></val>'
    )
    disk = Data("VirtualDisk", key=2000, capacityInKB=8)
    assert xml.render_typed("val", (disk,), "VirtualDevice", array=True) == (
        '<val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualDisk">'
        "<key>2000</key><capacityInKB>8</capacityInKB></VirtualDevice></val>"
    )
    assert (
        xml.render_typed("val", (), "CustomFieldValue", array=True)
        == '<val xsi:type="ArrayOfCustomFieldValue"></val>'
    )
    assert xml.render_typed("val", "poweredOn", "VirtualMachinePowerState") == (
        '<val xsi:type="VirtualMachinePowerState">poweredOn</val>'
    )
    assert xml.render_typed("val", VM, "VirtualMachine") == (
        '<val type="VirtualMachine" xsi:type="ManagedObjectReference">vm-1</val>'
    )
    assert xml.render_typed("val", 5, "long") == '<val xsi:type="xsd:long">5</val>'
    assert xml.render("pathSet", ("name", "runtime"), "string", array=True) == (
        "<pathSet>name</pathSet><pathSet>runtime</pathSet>"
    )
    assert xml.render("x", None, "string") == "" and xml.render("x", (), "string", array=True) == ""


def test_any_type_values_carry_their_type() -> None:
    assert xml.render("value", "text", "anyType") == '<value xsi:type="xsd:string">text</value>'
    assert xml.render("value", Typed("long", 5), "anyType") == '<value xsi:type="xsd:long">5</value>'
    assert xml.render("value", 2**40, "anyType") == f'<value xsi:type="xsd:long">{2**40}</value>'
    assert xml.render("value", True, "anyType") == '<value xsi:type="xsd:boolean">true</value>'
    assert xml.render("value", b"\x00\x01", "anyType") == '<value xsi:type="xsd:base64Binary">AAE=</value>'
    assert (
        xml.render("value", (1, 2), "anyType")
        == '<value xsi:type="ArrayOfInt"><int>1</int><int>2</int></value>'
    )
    with pytest.raises(TypeError, match="Typed"):
        xml.render("value", (), "anyType")


def test_text_is_escaped_as_libxml2_escapes_it() -> None:
    text = 'a < b & c > "d"\r\n\t'
    rendered = xml.render("name", text, "string")
    element = etree.Element("name")
    element.text = text
    assert rendered == etree.tostring(element, encoding="unicode")
    assert fragment(rendered)[0].text == text
    with pytest.raises(ValueError, match="cannot be written in XML"):
        xml.render("name", "bell\x07", "string")


def test_datetimes_are_canonical_as_the_codec_writes_them() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    for moment in (
        NOW,
        NOW.replace(microsecond=0),
        NOW.astimezone(two_hours_east),
        datetime(1, 1, 1, tzinfo=UTC),
    ):
        assert xml.datetime_text(moment) == str(XsDateTime.from_datetime(moment))
    # The same instant in two zones is written in each one's (what is remembered tells them apart).
    assert xml.datetime_text(NOW) == "2026-01-01T12:00:00.25Z"
    assert xml.datetime_text(NOW.astimezone(two_hours_east)) == "2026-01-01T14:00:00.25+02:00"
    assert xml.render("t", XsDateTime("2026-01-01T00:00:00.123456789Z"), "dateTime") == (
        "<t>2026-01-01T00:00:00.123456789Z</t>"
    )


def test_values_are_checked_against_the_declaration() -> None:
    with pytest.raises(TypeError, match=r"<returnval>: .*expected a TaskInfo data object"):
        xml.render("returnval", Data("TaskReasonUser"), "TaskInfo")
    with pytest.raises(TypeError, match="expected a MoRef to a Task"):
        xml.render("task", VM, "Task")


def test_the_face_s_task_infos_render_the_same_from_the_model() -> None:
    """Every TaskInfo today's SOAP face sends, read into a vim25 value and rendered again: the same
    XML (so that the face can switch to the model's renderer without clients seeing a change)."""
    app = make_app()
    backend = backend_of(app)
    client = logged_in(app.test_client())
    compared = 0
    for seconds in (0, 6, 11, 4000):
        backend.freeze(T0 + timedelta(seconds=seconds))
        for task in ("task-ok", "task-fail", "task-queued", "task-running", "task-done"):
            body = post(client, call_xml("Fetch", "Task", task, "<prop>info</prop>")).data
            returned = etree.fromstring(body).find(f".//{{{xml.VIM25}}}returnval")
            assert returned is not None, body
            value = xml.parse_value(returned, "anyType")
            assert _shape(fragment(xml.render_typed("returnval", value, "TaskInfo"))[0]) == _shape(returned)
            compared += 1
    assert compared == 20


def _shape(element: etree._Element) -> tuple[Any, ...]:
    return (
        etree.QName(element).localname,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [_shape(child) for child in element],
    )


# -- faults --------------------------------------------------------------------------------------------------


def test_fault_details_with_given_fields_as_text_or_values() -> None:
    assert xml.fault_detail("InvalidPowerState", {"existingState": "poweredOff"}, "off") == (
        '<InvalidPowerStateFault xmlns="urn:vim25" xsi:type="InvalidPowerState">'
        "<existingState>poweredOff</existingState></InvalidPowerStateFault>"
    )
    assert xml.fault_detail("TaskInProgress", {"task": "task-7"}, "busy") == (
        '<TaskInProgressFault xmlns="urn:vim25" xsi:type="TaskInProgress"><task type="Task">task-7</task>'
        "</TaskInProgressFault>"
    )
    assert '<obj type="VirtualMachine">vm-3</obj>' in xml.fault_detail(
        "ManagedObjectNotFound", {"obj": "vm-3"}, "gone"
    )
    assert '<obj type="HostSystem">host-1</obj>' in xml.fault_detail(
        "ManagedObjectNotFound", {"obj": MoRef("HostSystem", "host-1")}, "gone"
    )
    with pytest.raises(ValueError, match="not a VirtualMachinePowerState value"):
        xml.fault_detail("InvalidPowerState", {"existingState": "off"}, "off")
    with pytest.raises(
        TypeError,
        match=r"InvalidPowerState has no field .state. \(did you mean requestedState, existingState\?\)",
    ):
        xml.fault_detail("InvalidPowerState", {"state": "off"}, "off")
    with pytest.raises(ValueError, match="'NoSuchFault' is not a vim25 fault type"):
        xml.fault_detail("NoSuchFault", {}, "x")


def test_every_fault_type_is_sent_whole_even_without_its_fields() -> None:
    """Required fields nobody gave are filled (the message for text, the context for a reference...),
    so that the answer reads for every client, whatever fault a rule or a task file names."""
    from vismock.mockserver.vim25 import model

    for fault_type in sorted(model().fault_types()):
        body = xml.fault_envelope(fault_type, {}, "what happened", context=VM)
        assert envelope_errors(body) == [], fault_type
    detail = xml.fault_detail("NoDiskSpace", {}, "datastore1 is full")
    assert "<file>datastore1 is full</file><datastore>datastore1 is full</datastore>" in detail
    assert '<obj type="VirtualMachine">vm-1</obj>' in xml.fault_detail(
        "ManagedObjectNotFound", {}, "x", context=VM
    )
    assert "<existingState>poweredOff</existingState>" in xml.fault_detail("InvalidPowerState", {}, "x")


def test_a_localized_fault_is_a_task_s_error() -> None:
    error = xml.localized_fault("InvalidState", {}, "not now")
    assert error == Data("LocalizedMethodFault", fault=Data("InvalidState"), localizedMessage="not now")
    assert xml.render("error", error, "LocalizedMethodFault") == (
        '<error><fault xsi:type="InvalidState"></fault><localizedMessage>not now</localizedMessage></error>'
    )


# -- parsing calls -------------------------------------------------------------------------------------------


def _requests_of_the_exchange() -> list[bytes]:
    bodies = []
    for path in sorted(EXCHANGE.glob("0*.txt")):
        request = path.read_bytes().split(b"\n---- ", 1)[0]
        if b"<?xml" in request:
            bodies.append(request[request.index(b"<?xml") :])
    return bodies


def test_pyvmomi_s_requests_parse_typed() -> None:
    bodies = _requests_of_the_exchange()
    assert len(bodies) == 18
    calls: dict[str, xml.SoapCall] = {}
    for body in bodies:
        call = xml.parse_call(body)
        calls.setdefault(call.method, call)
    assert calls["Login"].args == {"userName": "user", "password": "pass", "locale": None}
    assert calls["PowerOnVM_Task"].this == MoRef("VirtualMachine", "vm-57")
    assert calls["PowerOnVM_Task"].args == {"host": None}
    assert calls["Fetch"].args == {"prop": "content"}  # pyVmomi reads ServiceInstance.content first
    spec = calls["CreateFilter"].args
    assert spec is not None and spec["partialUpdates"] is True
    assert spec["spec"] == Data(
        "PropertyFilterSpec",
        propSet=(Data("PropertySpec", type="Task", all=True),),
        objectSet=(Data("ObjectSpec", obj=MoRef("Task", "task-71")),),
    )


CLONE = call_xml(
    "CloneVM_Task",
    "VirtualMachine",
    "vm-10",
    '<folder type="Folder">group-v3</folder><name>web-clone</name>'
    '<spec><location><datastore type="Datastore">datastore-11</datastore>'
    '<deviceChange><operation>edit</operation><device xsi:type="VirtualDisk"><key>2000</key>'
    "<capacityInKB>1048576</capacityInKB></device></deviceChange></location>"
    "<template>false</template><powerOn>true</powerOn>"
    '<config><extraConfig><key>guestinfo.role</key><value xsi:type="xsd:string">web</value></extraConfig>'
    "<memoryMB>4096</memoryMB></config></spec>",
)


def test_a_clone_call_parses_into_typed_values() -> None:
    call = xml.parse_call(CLONE)
    assert (call.method, call.this) == ("CloneVM_Task", MoRef("VirtualMachine", "vm-10"))
    assert call.args is not None
    assert call.args["folder"] == MoRef("Folder", "group-v3")
    spec = call.args["spec"]
    assert (spec.template, spec.powerOn, spec.config.memoryMB) == (False, True, 4096)
    assert spec.config.extraConfig == (Data("OptionValue", key="guestinfo.role", value="web"),)
    change = spec.location.deviceChange[0]
    assert (change.operation, change.device) == ("edit", Data("VirtualDisk", key=2000, capacityInKB=1048576))


def test_an_unknown_method_or_type_leaves_the_arguments_unread() -> None:
    assert xml.parse_call(call_xml("PowerOnVM_Task", "Task", "task-1")).args is None
    assert xml.parse_call(call_xml("Nope", "VirtualMachine", "vm-1", "<x>1</x>")).args is None
    assert xml.parse_call(call_xml("PowerOnVM_Task", "Bogus", "b-1")) == xml.SoapCall(
        "PowerOnVM_Task", MoRef("Bogus", "b-1"), None
    )


SNAPSHOT = (
    '<CreateSnapshot_Task xmlns="urn:vim25"><_this type="VirtualMachine">vm-1</_this>{}</CreateSnapshot_Task>'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "is not a SOAP envelope: document is empty"),
        (b"<a><b></a>", "is not a SOAP envelope (line 1): malformed XML"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x/>', "DTDs and entity declarations are not allowed"),
        (b'<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"/>', "vim25 uses SOAP 1.1"),
        (b"<Envelope/>", "is 'Envelope', not a SOAP Envelope"),
        (envelope(""), "must hold exactly one vim25 method call, not 0"),
        (envelope("<a xmlns='urn:vim25'/><b xmlns='urn:vim25'/>"), "not 2"),
        (envelope("<Login/>"), "<Login> (line 2) is not in the urn:vim25 namespace"),
        (
            envelope('<Login xmlns="urn:vim25"><_this>SessionManager</_this></Login>'),
            "without a type attribute",
        ),
        (
            envelope(SNAPSHOT.format("<memory>false</memory><quiesce>false</quiesce>")),
            "lacks <name>, which is required",
        ),
        (
            envelope(SNAPSHOT.format("<nam>s</nam>")),
            "<nam> (line 2) is not a parameter of CreateSnapshot_Task (did you mean name?)",
        ),
        (
            envelope(SNAPSHOT.format("<name>s</name><memory>no</memory><quiesce>false</quiesce>")),
            "<memory> (line 2) holds 'no', not a boolean",
        ),
        (
            envelope(SNAPSHOT.format("<name>a</name><name>b</name><memory>1</memory><quiesce>0</quiesce>")),
            "<name> (line 2) is repeated, but it is not an array",
        ),
        (
            envelope(SNAPSHOT.format("<name><x/></name><memory>1</memory><quiesce>0</quiesce>")),
            "<x> (line 2) is inside <name>, which holds a simple value",
        ),
        (
            call_xml(
                "CreateFilter",
                "PropertyCollector",
                "pc",
                "<spec><propSet><type>Task</type></propSet></spec><partialUpdates>false</partialUpdates>",
            ),
            "<spec> (line 2) lacks <objectSet>, which a PropertyFilterSpec requires",
        ),
        (
            call_xml(
                "CreateFilter", "PropertyCollector", "pc", "<spec><propSet><typ>Task</typ></propSet></spec>"
            ),
            "<typ> (line 2) is not a field of PropertySpec (did you mean type?)",
        ),
        (
            call_xml("CreateFilter", "PropertyCollector", "pc", '<spec xsi:type="TaskInfo"/>'),
            "<spec> (line 2) has xsi:type 'TaskInfo', which is not a PropertyFilterSpec",
        ),
        (
            call_xml("CreateFilter", "PropertyCollector", "pc", '<spec xsi:type="Nonsense"/>'),
            "has xsi:type 'Nonsense', which is not a vim25 type",
        ),
        (
            call_xml("CreateFilter", "PropertyCollector", "pc", '<spec xsi:type="zz:Spec"/>'),
            "whose prefix names no vim25 or XML Schema namespace",
        ),
        (
            call_xml(
                "RetrieveProperties",
                "PropertyCollector",
                "pc",
                '<specSet><objectSet><obj type="Taks">t</obj></objectSet></specSet>',
            ),
            "<obj> (line 2) refers to 'Taks', which is not a vim25 managed type (did you mean Task?)",
        ),
        (
            call_xml("PowerOnVM_Task", "VirtualMachine", "vm-1", '<host type="Datastore">ds-1</host>'),
            "<host> (line 2) refers to a Datastore, which is not a HostSystem",
        ),
        (
            call_xml(
                "SetField",
                "CustomFieldsManager",
                "m",
                '<entity type="VirtualMachine">vm-1</entity><key>x</key><value>v</value>',
            ),
            "<key> (line 2) holds 'x', not an integer (int)",
        ),
        (
            call_xml(
                "UpdateOptions",
                "OptionManager",
                "o",
                "<changedValue><key>k</key><value>v</value></changedValue>",
            ),
            "<value> (line 2) is an anyType without an xsi:type",
        ),
        (
            call_xml(
                "QueryEvents",
                "EventManager",
                "e",
                "<filter><time><beginTime>yesterday</beginTime></time></filter>",
            ),
            "<beginTime> (line 2) holds 'yesterday', not an xs:dateTime",
        ),
        (
            call_xml(
                "QueryEvents",
                "EventManager",
                "e",
                '<filter><entity><entity type="Folder">group-d1</entity>'
                "<recursion>deep</recursion></entity></filter>",
            ),
            "<recursion> (line 2) holds 'deep', not a EventFilterSpecRecursionOption value",
        ),
    ],
)
def test_what_vcenter_would_refuse_is_an_invalid_request_naming_where(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        xml.parse_call(body)
    assert message in raised.value.message


def test_an_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidRequest, match="larger than the limit"):
        xml.parse_call(b" " * (16 * 1024 * 1024 + 1))


# -- round trips ---------------------------------------------------------------------------------------------

ROUND_TRIP = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@ROUND_TRIP
@given(value=data_objects(depth=1))
def test_any_data_object_renders_and_parses_back_equal(value: Data) -> None:
    element = fragment(xml.render("v", value, value.type))[0]
    assert xml.parse_value(element, value.type) == value
    typed = fragment(xml.render_typed("v", value, "anyType"))[0]
    assert xml.parse_value(typed, "anyType") == value


@ROUND_TRIP
@given(value=any_values(depth=1))
def test_any_any_type_value_renders_and_parses_back_equal(value: Any) -> None:
    element = fragment(xml.render("v", value, "anyType"))[0]
    assert xml.parse_value(element, "anyType") == canonical_any(value)


@settings(ROUND_TRIP, max_examples=40)
@given(value=data_objects("VirtualMachineConfigSpec", depth=1))
def test_a_call_s_arguments_parse_back_equal(value: Data) -> None:
    body = call_xml(
        "ReconfigVM_Task", "VirtualMachine", "vm-1", xml.render("spec", value, "VirtualMachineConfigSpec")
    )
    assert xml.parse_call(body).args == {"spec": value}
