"""vismock.testing: strategies derived from the XSDs generate valid, pinnable documents."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import vismock.codec as codec
from tests.support.codec_examples import (
    INVALID_REQUEST_EXAMPLES,
    INVALID_RESPONSE_EXAMPLES,
    LEXICAL_REQUESTS,
    LEXICAL_RESPONSES,
    REQUESTS_OF_THE_PASSWORD_RULE,
    with_examples,
)
from vismock.codec import Codec, XsDateTime
from vismock.schemas import schema_directory
from vismock.testing import (
    ABSENT,
    PRESENT,
    InvalidDocument,
    SchemaStrategies,
    invalid_requests,
    invalid_responses,
    request_documents,
    requests,
    response_documents,
    responses,
    task_infos,
)

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# 2,000 generated documents in all: requests are cheap, responses carry TaskInfos.
MANY_REQUESTS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY_RESPONSES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def the_info(response: dict[str, Any], index: int = 0) -> dict[str, Any]:
    info: dict[str, Any] = response["RetrieveTaskStatusResponse"]["returnval"][index]["propSet"]["TaskInfo"]
    return info


# -- valid by construction (2,000 documents in all) ---------------------------------------


@MANY_REQUESTS
@given(request_documents())
@with_examples(LEXICAL_REQUESTS)
def test_every_generated_request_document_is_valid(xml: bytes) -> None:
    assert list(codec.iter_errors(xml)) == []


@MANY_RESPONSES
@given(response_documents())
@with_examples(LEXICAL_RESPONSES)
def test_every_generated_response_document_is_valid(xml: bytes) -> None:
    assert list(codec.iter_errors(xml)) == []


@FAST
@given(task_infos())
def test_generated_task_infos_are_in_decode_form(info: dict[str, Any]) -> None:
    assert isinstance(info["queueTime"], XsDateTime)
    assert isinstance(info["cancelled"], bool) and isinstance(info["eventChainId"], int)
    returnval = {"Task": "task-1", "propSet": {"name": "info", "TaskInfo": info}}
    response = {"metadata": {"status": "success"}, "RetrieveTaskStatusResponse": {"returnval": [returnval]}}
    assert the_info(codec.decode(codec.encode(response))) == info


# -- pins ---------------------------------------------------------------------------------


@FAST
@given(task_infos(state="running", reason="TaskReasonAlarm", task_id="task-7"))
def test_task_infos_can_pin_state_reason_and_id(info: dict[str, Any]) -> None:
    assert info["state"] == "running" and info["key"] == info["Task"] == "task-7"
    assert "TaskReasonAlarm" in info
    assert not {"TaskReasonUser", "TaskReasonSchedule", "TaskReasonSystem"} & set(info)


@FAST
@given(task_infos(entity="HostSystem", progress=st.integers(0, 10), result=ABSENT))
def test_task_infos_can_pin_the_entity_type_with_a_strategy_and_absence(info: dict[str, Any]) -> None:
    assert "HostSystem" in info and "VirtualMachine" not in info
    assert 0 <= info["progress"] <= 10 and "result" not in info


@FAST
@given(requests(tasks=["task-1", "task-2"], user_name="bob"))
def test_requests_pin_tasks_and_keep_the_password_rule(request: dict[str, Any]) -> None:
    assert request["parameters"]["spec-set"]["object-set"] == [{"task": "task-1"}, {"task": "task-2"}]
    assert request["user-name"] == "bob" and request["password"]
    codec.validate(codec.encode(request))


@FAST
@given(requests())
@with_examples(REQUESTS_OF_THE_PASSWORD_RULE)
def test_generated_requests_obey_the_password_rule(request: dict[str, Any]) -> None:
    if str(request.get("user-name") or "").strip():
        assert request.get("password")
    assert list(codec.iter_errors(codec.encode(request))) == []


@FAST
@given(responses(status="success", tasks=["task-3", "task-1"]))
def test_responses_pin_status_and_one_returnval_per_task_in_order(response: dict[str, Any]) -> None:
    assert response["metadata"]["status"] == "success"
    returnvals = response["RetrieveTaskStatusResponse"]["returnval"]
    assert [r["Task"] for r in returnvals] == ["task-3", "task-1"]
    assert [the_info(response, i)["key"] for i in range(2)] == ["task-3", "task-1"]


@FAST
@given(responses(tasks=["task-9"], infos=task_infos(task_id="task-9", state="error", error=PRESENT)))
def test_responses_take_a_task_info_strategy(response: dict[str, Any]) -> None:
    info = the_info(response)
    assert info["state"] == "error" and "fault" in info["error"]


def test_an_unknown_pin_is_refused() -> None:
    with pytest.raises(KeyError, match="colour"):
        task_infos(colour="blue").example()


# -- invalid documents -----------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(invalid_requests(), invalid_responses()))
@with_examples(INVALID_REQUEST_EXAMPLES + INVALID_RESPONSE_EXAMPLES)
def test_the_codec_reports_exactly_the_mutated_path(invalid: InvalidDocument) -> None:
    xml, path, reason = invalid
    issues = list(codec.iter_errors(xml))
    assert [(issue.path, reason in issue.reason) for issue in issues] == [(path, True)], issues


# -- strategies follow the schema --------------------------------------------------------

EXTRA_ELEMENTS = """
      <xs:element name="priority">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:enumeration value="low"/>
            <xs:enumeration value="high"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="retries" type="xs:unsignedByte" minOccurs="1" maxOccurs="3"/>
      <xs:element name="note" type="xs:normalizedString" minOccurs="0"/>
"""


@pytest.fixture(scope="module")
def extended_codec(tmp_path_factory: pytest.TempPathFactory) -> Codec:
    """A codec over a copy of the schemas whose TaskInfo gained two elements."""
    folder = tmp_path_factory.mktemp("schemas") / "schemas"
    shutil.copytree(schema_directory(), folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    xsd = folder / "vim25-adapter.xsd"
    anchor = '<xs:element name="eventChainId" type="xs:int"/>'
    text = xsd.read_text()
    assert anchor in text
    xsd.write_text(text.replace(anchor, anchor + EXTRA_ELEMENTS))
    return Codec(schema_dir=folder)


def test_a_new_schema_element_is_generated_without_code_change(extended_codec: Codec) -> None:
    strategies = SchemaStrategies(extended_codec)

    @FAST
    @given(strategies.responses(tasks=["task-1"]))
    def check(response: dict[str, Any]) -> None:
        info = the_info(response)
        assert info["priority"] in ("low", "high")
        assert 1 <= len(info["retries"]) <= 3 and all(0 <= n <= 255 for n in info["retries"])
        xml = extended_codec.encode(response)
        assert extended_codec.decode(xml) == response
        assert not codec.is_valid(xml)  # the shipped schema does not know the new elements
        oracle = extended_codec.schema().to_dict(
            etree.fromstring(xml).getroottree(), use_location_hints=False
        )
        assert oracle == response

    check()


# -- packaging --------------------------------------------------------------------------


def test_hypothesis_is_only_imported_by_vismock_testing() -> None:
    probe = "import sys, vismock.codec, vismock.cli; sys.exit('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
