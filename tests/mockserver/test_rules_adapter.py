"""Rules of the adapter face (docs/mock.md "The adapter face", "Credentials", "Error rules"): what
``POST /adapter`` answers, as the VIS adapter would read it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import DATA
from tests.support.client import AdapterAnswer, Vcenter, status_request

LOGIN_FAILED = "Cannot complete login due to an incorrect user name or password."


def test_the_seed_request_is_answered_with_task_525(vcenter: Vcenter) -> None:
    answer = vcenter.adapter((DATA / "seed" / "request.xml").read_bytes())
    assert (answer.http_status, answer.status, [view.key for view in answer.tasks]) == (
        200,
        "success",
        ["task-525"],
    )


@pytest.mark.parametrize("user", ["", "   ", "\t\n"])
def test_an_empty_or_blank_user_name_is_the_adapter_s_own_account_without_a_check(
    vcenter: Vcenter, user: str
) -> None:
    for password in ("", "anything"):
        answer = vcenter.status("task-525", user=user, password=password)
        assert (answer.http_status, answer.status) == (200, "success"), answer.body.decode()


def test_the_right_password_is_accepted_and_journaled_by_user(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter(VISMOCK_ACCOUNTS={"bmc": "hunter2"})
    assert vcenter.status("task-525", user="bmc", password="hunter2").status == "success"
    assert vcenter.status("task-525", user=" bmc ", password="hunter2").status == "success"
    assert [entry["user"] for entry in vcenter.journal(face="adapter")] == ["bmc", "bmc"]


@pytest.mark.parametrize(("user", "password"), [("vismock", "wrong"), ("nobody", "vismock")])
def test_a_wrong_password_or_unknown_user_is_invalid_login_with_http_200(
    vcenter: Vcenter, user: str, password: str
) -> None:
    answer = vcenter.status("task-525", user=user, password=password)
    assert (answer.http_status, answer.status, answer.fault, answer.error) == (
        200,
        "error",
        "InvalidLogin",
        LOGIN_FAILED,
    )
    assert password.encode() not in answer.body


def test_a_user_name_without_a_password_is_a_400_naming_the_rule(vcenter: Vcenter) -> None:
    reply = vcenter.send(
        "POST", "/adapter", status_request("task-525", user="vismock"), {"Content-Type": "text/xml"}
    )
    answer = AdapterAnswer.parse(reply)
    assert (answer.http_status, answer.status) == (400, "error")
    assert b"<path>/vmware-infrastructure-request/password</path>" in reply.body
    assert b"password is required when user-name is not empty" in reply.body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not xml at all", b"<error-detail>"),
        (b"<vmware-infrastructure-request><operation-type>", b"<line>1</line>"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><vmware-infrastructure-request/>', b"DTD"),
        (b"<other-root/>", b"<error-detail>"),
        (
            b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
            b"<operation-name>Retrieve_Task_Status</operation-name><colour/></vmware-infrastructure-request>",
            b"<path>/vmware-infrastructure-request/colour</path>",
        ),
    ],
)
def test_a_request_the_mock_cannot_read_is_a_400_with_located_details(
    vcenter: Vcenter, body: bytes, reason: bytes
) -> None:
    reply = vcenter.send("POST", "/adapter", body, {"Content-Type": "text/xml"})
    assert (reply.status, AdapterAnswer.parse(reply).status) == (400, "error")
    assert reason in reply.body


def test_every_schema_problem_gets_its_own_detail(vcenter: Vcenter) -> None:
    body = (
        b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        b"<operation-name>Retrieve_Task_Status</operation-name><parameters><spec-set>"
        b"<object-set><task></task><colour/></object-set><object-set><shade/></object-set>"
        b"</spec-set></parameters></vmware-infrastructure-request>"
    )
    reply = vcenter.send("POST", "/adapter", body, {"Content-Type": "text/xml"})
    assert reply.status == 400 and reply.body.count(b"<error-detail>") >= 2


def test_an_oversized_body_a_non_xml_content_type_and_get_are_refused_in_an_envelope(
    vcenter: Vcenter,
) -> None:
    oversized = vcenter.send("POST", "/adapter", b"x" * (1024 * 1024 + 1), {"Content-Type": "text/xml"})
    wrong_type = vcenter.send(
        "POST", "/adapter", status_request("task-525"), {"Content-Type": "application/json"}
    )
    get = vcenter.send("GET", "/adapter", None, {})
    for reply, status in ((oversized, 413), (wrong_type, 415), (get, 405)):
        assert (reply.status, AdapterAnswer.parse(reply).status) == (status, "error")


@pytest.mark.parametrize(
    "content_type", ["text/xml", "application/xml", "application/soap+xml", "text/xml; charset=utf-8"]
)
def test_xml_content_types_are_accepted(vcenter: Vcenter, content_type: str) -> None:
    reply = vcenter.send("POST", "/adapter", status_request("task-525"), {"Content-Type": content_type})
    assert (reply.status, AdapterAnswer.parse(reply).status) == (200, "success")
