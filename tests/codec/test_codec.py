"""The codec on fixed documents: seed fixtures, the invalid-document table, errors and safety."""

from __future__ import annotations

import io
import json
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import vismock.codec as codec
from tests.support import DATA
from vismock.codec import (
    Codec,
    CodecError,
    DocumentInvalidError,
    DocumentTooLargeError,
    EncodeError,
    MalformedXMLError,
    UnsafeXMLError,
    ValidationIssue,
    XsDateTime,
)
from vismock.codec.core import MAX_CHILDREN_FOR_RICH_REPORT, MAX_ISSUES
from vismock.errors import VismockError
from vismock.schemas import load_catalog, schema_directory

INVALID = DATA / "codec" / "invalid"
CASES: dict[str, dict[str, Any]] = tomllib.loads((INVALID / "cases.toml").read_text())
SECRET = "S3cr3t-Pa55w0rd"


def expected_dict(name: str) -> dict[str, Any]:
    """A decoded fixture stored as JSON; {"$dateTime": text} marks an XsDateTime."""

    def hook(obj: dict[str, Any]) -> Any:
        return XsDateTime(obj["$dateTime"]) if set(obj) == {"$dateTime"} else obj

    loaded: dict[str, Any] = json.loads(
        (DATA / "codec" / "expected" / f"{name}.json").read_text(), object_hook=hook
    )
    return loaded


def canonical(xml: bytes) -> bytes:
    """C14N of *xml* without whitespace-only text: 'equal up to whitespace and empty-tag form'."""
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True, remove_pis=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def all_types(value: Any) -> list[type]:
    if isinstance(value, dict):
        return [t for item in value.values() for t in all_types(item)]
    if isinstance(value, list):
        return [t for item in value for t in all_types(item)]
    return [type(value)]


# -- seed fixtures -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["request", "response"])
def test_seed_fixture_validates(name: str) -> None:
    xml = (DATA / "seed" / f"{name}.xml").read_bytes()
    assert codec.is_valid(xml)
    assert list(codec.iter_errors(xml)) == []
    codec.validate(xml)  # does not raise


@pytest.mark.parametrize("name", ["request", "response"])
def test_seed_fixture_decodes_to_the_stored_dict(name: str) -> None:
    decoded = codec.decode((DATA / "seed" / f"{name}.xml").read_bytes())
    expected = expected_dict(name)
    assert decoded == expected
    assert all_types(decoded) == all_types(expected)  # XsDateTime, bool, int: not just equal text


@pytest.mark.parametrize("name", ["request", "response"])
def test_seed_fixture_reencodes_to_the_same_document(name: str) -> None:
    xml = (DATA / "seed" / f"{name}.xml").read_bytes()
    encoded = codec.encode(codec.decode(xml))
    assert canonical(encoded) == canonical(xml)
    assert codec.decode(encoded) == codec.decode(xml)


def test_decoded_values_are_typed(seed_response: bytes) -> None:
    info = codec.decode(seed_response)["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert info["cancelled"] is False
    assert info["eventChainId"] == 71232 and type(info["eventChainId"]) is int
    assert isinstance(info["queueTime"], XsDateTime)
    assert info["queueTime"] == "2009-05-27T08:26:34.234375Z"
    assert info["queueTime"].datetime == datetime(2009, 5, 27, 8, 26, 34, 234375, tzinfo=UTC)


def test_the_xmlschema_oracle_agrees_on_the_seed(seed_request: bytes, seed_response: bytes) -> None:
    schema = codec.default_codec().schema()
    for xml in (seed_request, seed_response):
        oracle = schema.to_dict(etree.fromstring(xml).getroottree(), use_location_hints=False)
        assert codec.decode(xml) == oracle


# -- input forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "decoded"),
    [
        ("  http://host/sdk\t\n", "http://host/sdk"),  # XML white space is collapsed
        ("http://host/a\u00a0b", "http://host/a\u00a0b"),  # U+00A0 is not XML white space
        ("http://host/a\u2003 b", "http://host/a\u2003 b"),
    ],
)
def test_collapse_touches_xml_white_space_only(seed_request: bytes, written: str, decoded: str) -> None:
    document = seed_request.decode().replace("<soap-url></soap-url>", f"<soap-url>{written}</soap-url>")
    assert codec.decode(document)["soap-url"] == decoded


def test_every_input_form_decodes_alike(seed_request: bytes, tmp_path: Path) -> None:
    path = tmp_path / "request.xml"
    path.write_bytes(seed_request)
    expected = codec.decode(seed_request)
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + seed_request.decode()
    for source in (path, io.BytesIO(seed_request), io.StringIO(seed_request.decode()), text):
        assert codec.decode(source) == expected


# -- the table of invalid documents -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_document_reports_the_expected_issue(name: str) -> None:
    case = CASES[name]
    xml = (INVALID / f"{name}.xml").read_bytes()
    issues = list(codec.iter_errors(xml))
    assert issues, f"{name} was accepted"
    first = issues[0]
    assert first.kind == case["kind"]
    assert first.path == case["path"]
    operations = sorted(operation.name for operation in load_catalog(schema_directory()))
    assert case["reason"].replace("{operations}", repr(operations)) in first.reason
    assert first.line == case.get("line")
    if "value" in case:
        assert first.value == case["value"]
    if "count" in case:
        assert len(issues) == case["count"]
    assert not codec.is_valid(xml)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_document_raises_the_error_of_its_kind(name: str) -> None:
    xml = (INVALID / f"{name}.xml").read_bytes()
    expected = {
        "syntax": MalformedXMLError,
        "unsafe": UnsafeXMLError,
        "schema": DocumentInvalidError,
        "rule": DocumentInvalidError,
    }[CASES[name]["kind"]]
    for call in (codec.validate, codec.decode):
        with pytest.raises(expected) as raised:
            call(xml)
        assert isinstance(raised.value, CodecError) and isinstance(raised.value, VismockError)
        assert isinstance(raised.value, ValueError)
        assert raised.value.issues == tuple(codec.iter_errors(xml))


def test_every_file_in_the_invalid_folder_has_a_case() -> None:
    assert {p.stem for p in INVALID.glob("*.xml")} == set(CASES)


# -- the error model ------------------------------------------------------------------------


def test_all_errors_of_a_document_are_reported_in_document_order() -> None:
    issues = list(codec.iter_errors((INVALID / "many-errors.xml").read_bytes()))
    assert [(i.path.rsplit("/", 1)[-1], i.line) for i in issues] == [
        ("status", 3),
        ("TaskInfo", 10),  # eventChainId is missing from the TaskInfo opened on line 10
        ("state", 17),
        ("cancelled", 18),
    ]
    assert [i.value for i in issues] == ["ok", None, "finished", "no"]


def test_errors_in_several_repeated_elements_are_each_reported(seed_request: bytes) -> None:
    xml = seed_request.replace(
        b"<object-set>\n<task>task-525</task>\n</object-set>",
        b"<object-set><task>a b</task></object-set><object-set><task>ok</task></object-set>"
        b"<object-set><task>c d</task></object-set>",
    )
    issues = list(codec.iter_errors(xml))
    assert [i.path for i in issues] == [
        "/vmware-infrastructure-request/parameters/spec-set/object-set[1]/task",
        "/vmware-infrastructure-request/parameters/spec-set/object-set[3]/task",
    ]
    assert [i.value for i in issues] == ["a b", "c d"]


def test_an_issue_carries_reason_xpath_line_and_value() -> None:
    (issue,) = codec.iter_errors((INVALID / "bad-enum-state.xml").read_bytes())
    assert issue == ValidationIssue(
        reason="value must be one of ['queued', 'running', 'success', 'error']",
        path="/vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/TaskInfo/state",
        line=17,
        value="finished",
        kind="schema",
    )
    assert str(issue).startswith("line 17: /vmware-infrastructure-response/")
    assert issue.to_dict()["value"] == "finished"


def test_a_pattern_is_shown_as_the_xsd_writes_it() -> None:
    """Issue 20: '\\S+' (every backslash doubled by repr) was shown for the XSD's \\S+."""
    (issue,) = codec.iter_errors((INVALID / "bad-task-id-pattern.xml").read_bytes())
    assert issue.reason == r"'task 525' does not match the pattern '\S+'"


def vm_request(name: str) -> bytes:
    document = (DATA / "basic-vm" / "power-on-request.xml").read_bytes()
    return document.replace(
        b"<virtual-machine>win1</virtual-machine>", f"<virtual-machine>{name}</virtual-machine>".encode()
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", r"'' is shorter than the minimum length 1 and does not match the pattern '.*\S.*'"),
        ("   ", r"'   ' does not match the pattern '.*\S.*'"),
        ("v" * 81, f"'{'v' * 81}' is longer than the maximum length 80"),
    ],
)
def test_one_bad_value_is_one_issue_naming_every_facet_it_fails(name: str, reason: str) -> None:
    """Issue 20: an empty VM name gave two issues (minLength, pattern) for one problem."""
    (issue,) = codec.iter_errors(vm_request(name))
    assert issue == ValidationIssue(
        reason=reason, path="/vmware-infrastructure-request/parameters/virtual-machine", line=9, value=name
    )


def test_libxml2s_report_also_gives_one_issue_per_bad_value() -> None:
    """A very wide document gets libxml2's report (xmlschema's would take quadratic time): its
    facet messages about one value are joined into one issue too."""
    extra = b"<extra/>" * (MAX_CHILDREN_FOR_RICH_REPORT + 1)
    xml = vm_request("").replace(b"</parameters>", extra + b"</parameters>")
    issues = list(codec.iter_errors(xml))
    (issue,) = [i for i in issues if i.path.endswith("/virtual-machine")]
    assert issue.line == 9
    assert "[facet 'minLength']" in issue.reason and r"pattern '.*\S.*'" in issue.reason
    assert any("extra" in i.reason for i in issues)  # the other problem is still there


def test_the_error_message_lists_every_issue() -> None:
    with pytest.raises(DocumentInvalidError) as raised:
        codec.decode((INVALID / "many-errors.xml").read_bytes())
    message = str(raised.value)
    assert message.startswith("4 problems in the document")
    assert message.count("\n  line ") == 4


def test_the_xpath_of_an_issue_selects_the_offending_element() -> None:
    xml = (INVALID / "bad-boolean.xml").read_bytes()
    (issue,) = codec.iter_errors(xml)
    (element,) = etree.fromstring(xml).getroottree().xpath(issue.path)
    assert element.text == issue.value


# -- safety --------------------------------------------------------------------------------


def test_billion_laughs_is_refused_as_unsafe() -> None:
    xml = (INVALID / "billion-laughs.xml").read_bytes()
    with pytest.raises(UnsafeXMLError) as raised:
        codec.decode(xml)
    assert [issue.kind for issue in raised.value.issues] == ["unsafe"]


def test_an_external_entity_is_never_resolved() -> None:
    with pytest.raises(UnsafeXMLError) as raised:
        codec.decode((INVALID / "xxe-file.xml").read_bytes())
    assert "root:" not in str(raised.value)  # nothing of /etc/passwd leaks into the report


def test_oversize_input_is_refused_before_parsing(seed_response: bytes, tmp_path: Path) -> None:
    small = Codec(max_bytes=200)
    path = tmp_path / "big.xml"
    path.write_bytes(seed_response)
    for source in (seed_response, path, io.BytesIO(seed_response)):
        with pytest.raises(DocumentTooLargeError) as raised:
            small.decode(source)
        (issue,) = raised.value.issues
        assert issue.kind == "size" and "200 bytes" in issue.reason
    assert [i.kind for i in small.iter_errors(seed_response)] == ["size"]
    assert Codec(max_bytes=len(seed_response)).is_valid(seed_response)


def test_a_schema_location_hint_is_not_followed(seed_request: bytes) -> None:
    xml = seed_request.replace(
        b"<vmware-infrastructure-request>",
        b'<vmware-infrastructure-request xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xsi:noNamespaceSchemaLocation="http://127.0.0.1:9/evil.xsd">',
    )
    assert codec.decode(xml) == codec.decode(seed_request)


def test_comments_and_processing_instructions_are_dropped(seed_request: bytes) -> None:
    xml = seed_request.replace(b"<operation-type>", b"<!-- note --><?pi x?><operation-type>")
    assert codec.decode(xml) == codec.decode(seed_request)


# -- passwords -----------------------------------------------------------------------------

PASSWORD_CARRIERS = {
    "password with a child element": (
        b"<password></password>",
        f"<password>{SECRET}<x>{SECRET}</x></password>",
    ),
    "password twice": (
        b"<password></password>",
        f"<password>{SECRET}</password><password>{SECRET}</password>",
    ),
    "password after the parameters": (b"<password></password>", ""),
    "password inside an unknown element": (
        b"<password></password>",
        f"<cred><password>{SECRET}</password></cred>",
    ),
}


@pytest.mark.parametrize("where", sorted(PASSWORD_CARRIERS))
def test_passwords_never_appear_in_any_issue(where: str, seed_request: bytes) -> None:
    old, new = PASSWORD_CARRIERS[where]
    xml = seed_request.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>").replace(
        old, new.encode()
    )
    if where == "password after the parameters":
        xml = xml.replace(b"</parameters>", f"</parameters><password>{SECRET}</password>".encode())
    issues = list(codec.iter_errors(xml))
    assert issues
    with pytest.raises(CodecError) as raised:
        codec.decode(xml)
    texts = [str(raised.value), repr(raised.value.issues)] + [json.dumps(i.to_dict()) for i in issues]
    assert not any(SECRET in text for text in texts)


def test_passwords_never_appear_in_encode_errors() -> None:
    request = codec.decode((DATA / "seed" / "request.xml").read_bytes())
    bad_type = request | {"user-name": "bmc", "password": 12345, "bogus": SECRET}
    with pytest.raises(EncodeError) as raised:
        codec.encode(bad_type)
    assert "12345" not in str(raised.value) and "12345" not in repr(raised.value.issues)
    invalid = request | {"user-name": "bmc", "password": SECRET, "transport": "smtp"}
    with pytest.raises(EncodeError) as raised:
        codec.encode(invalid)
    assert SECRET not in str(raised.value) and SECRET not in repr(raised.value.issues)


def test_a_password_with_its_user_name_is_valid(seed_request: bytes) -> None:
    xml = seed_request.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>").replace(
        b"<password></password>", f"<password>{SECRET}</password>".encode()
    )
    assert codec.decode(xml)["password"] == SECRET


@pytest.mark.parametrize("user", ["", " ", "   ", "\t", "\n  \t\n"])
@pytest.mark.parametrize("password", [b"<password></password>", b""])
def test_a_blank_user_name_needs_no_password(seed_request: bytes, user: str, password: bytes) -> None:
    xml = seed_request.replace(b"<user-name></user-name>", f"<user-name>{user}</user-name>".encode())
    assert list(codec.iter_errors(xml.replace(b"<password></password>", password))) == []


@pytest.mark.parametrize("user", ["bmc", " bmc ", "\tbmc"])
@pytest.mark.parametrize("password", [b"<password></password>", b""])
def test_a_user_name_that_is_not_blank_needs_a_password(
    seed_request: bytes, user: str, password: bytes
) -> None:
    xml = seed_request.replace(b"<user-name></user-name>", f"<user-name>{user}</user-name>".encode())
    (issue,) = codec.iter_errors(xml.replace(b"<password></password>", password))
    assert (issue.path, issue.reason, issue.kind) == (
        "/vmware-infrastructure-request/password",
        "password is required when user-name is not empty",
        "rule",
    )


# -- encoding ---------------------------------------------------------------------------------


def test_encode_infers_the_root_and_accepts_an_explicit_one(seed_response: bytes) -> None:
    data = codec.decode(seed_response)
    assert codec.encode(data).startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>\n<vmware-infrastructure-response>"
    )
    assert codec.encode(data, root="vmware-infrastructure-response") == codec.encode(data)


def test_encode_reports_every_bad_key_and_type(seed_response: bytes) -> None:
    data = codec.decode(seed_response)
    info = data["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    info.update(cancelled="no", eventChainId="7", colour="blue")
    with pytest.raises(EncodeError) as raised:
        codec.encode(data)
    reasons = {i.path.rsplit("/", 1)[-1]: i.reason for i in raised.value.issues}
    assert reasons == {
        "colour": "unknown element 'colour' under 'TaskInfo'",
        "cancelled": "expected a bool, got str",
        "eventChainId": "expected an int, got str",
    }


def test_encode_validates_its_output(seed_response: bytes) -> None:
    data = codec.decode(seed_response)
    data["metadata"]["status"] = "fine"
    with pytest.raises(EncodeError) as raised:
        codec.encode(data)
    assert raised.value.issues[0].path == "/vmware-infrastructure-response/metadata/status"


def test_encode_refuses_a_dict_it_cannot_place() -> None:
    with pytest.raises(EncodeError) as raised:
        codec.encode({"hello": 1})
    assert "cannot tell request from response" in raised.value.issues[0].reason


def test_encode_writes_an_aware_datetime_canonically(seed_response: bytes) -> None:
    data = codec.decode(seed_response)
    info = data["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    info["startTime"] = datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=-5)))
    info["completeTime"] = datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC)
    again = codec.decode(codec.encode(data))["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"][
        "TaskInfo"
    ]
    assert again["startTime"] == "2024-01-02T03:04:05.12-05:00"
    assert again["completeTime"] == "2024-01-02T03:04:06Z"
    info["completeTime"] = datetime(2024, 1, 2)
    with pytest.raises(EncodeError, match="naive datetime"):
        codec.encode(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2009-05-27T08:26:34.234375Z", datetime(2009, 5, 27, 8, 26, 34, 234375, tzinfo=UTC)),
        (
            "2009-05-27T08:26:34.123456789+02:00",
            datetime(2009, 5, 27, 8, 26, 34, 123456, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2009-05-27T24:00:00Z", datetime(2009, 5, 28, tzinfo=UTC)),
        (
            "2009-05-27T08:26:34-00:30",
            datetime(2009, 5, 27, 8, 26, 34, tzinfo=timezone(timedelta(minutes=-30))),
        ),
    ],
)
def test_xs_datetime_keeps_its_text_and_converts(text: str, expected: datetime) -> None:
    value = XsDateTime(text)
    assert value == text and str(value) == text
    assert value.datetime == expected


def test_a_short_password_does_not_garble_other_reasons(seed_request: bytes) -> None:
    xml = (
        seed_request.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>")
        .replace(b"<password></password>", b"<password>e</password>")
        .replace(b"<transport></transport>", b"<transport>e</transport>")
    )
    (issue,) = codec.iter_errors(xml)
    assert issue.reason == "value must be one of ['', 'https-rpc', 'http-rpc']"
    assert issue.value == "********"  # the value equals the password: hidden all the same


@pytest.mark.parametrize(
    ("data", "root", "reason"),
    [
        ("<xml/>", None, "expected a mapping (decode's form), got str"),
        ([1], None, "expected a mapping (decode's form), got list"),
        ({"metadata": {"status": "success"}}, "vmware-reply", "unknown root 'vmware-reply'"),
    ],
)
def test_encode_refuses_what_is_not_a_document(data: Any, root: Any, reason: str) -> None:
    with pytest.raises(EncodeError) as raised:
        codec.encode(data, root=root)
    assert reason in raised.value.issues[0].reason


def test_an_empty_string_encodes_as_an_empty_element(seed_request: bytes) -> None:
    request = codec.decode(seed_request) | {"soap-url": ""}
    assert codec.decode(codec.encode(request))["soap-url"] is None  # the decode form has None, never ""


def test_a_flood_of_errors_is_capped(seed_request: bytes) -> None:
    attributes = " ".join(f'a{number}="x"' for number in range(120))
    xml = seed_request.replace(b"<operation-type>", f"<operation-type {attributes}>".encode())
    issues = list(codec.iter_errors(xml))
    assert len(issues) == MAX_ISSUES + 1
    assert issues[0].path == "/vmware-infrastructure-request/operation-type" and issues[0].line == 2
    assert issues[-1].reason == f"{120 - MAX_ISSUES} more problems not listed"


def test_a_long_prolog_of_comments_is_scanned_linearly() -> None:
    xml = b"<!-- c -->" * 5000 + b"<?pi?>\n<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"
    (issue,) = codec.iter_errors(xml)
    assert issue.kind == "unsafe"


def test_a_namespaced_password_is_masked(seed_request: bytes) -> None:
    xml = seed_request.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>").replace(
        b"<password></password>", f'<p:password xmlns:p="urn:x">{SECRET}</p:password>'.encode()
    )
    issues = list(codec.iter_errors(xml))
    assert issues and SECRET not in repr(issues)
