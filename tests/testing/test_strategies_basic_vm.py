"""vismock.testing for the Basic_Vm operations: the strategies generate their requests and
responses from the XSDs (nothing here or in vismock.testing lists their fields), pinnable, valid,
and the codec reports each one-defect mutation exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vismock.codec as codec
from vismock.schemas import load_catalog, schema_directory
from vismock.testing import (
    InvalidDocument,
    invalid_requests,
    invalid_responses,
    request_documents,
    requests,
    response_documents,
    responses,
)

BASIC_VM = sorted(op.name for op in load_catalog(schema_directory()) if op.type == "Basic_Vm")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALL_OPERATIONS = st.sampled_from(BASIC_VM)


def test_the_catalog_has_the_basic_vm_operations() -> None:
    assert BASIC_VM == ["Delete_VM", "Power_Off_VM", "Power_On_VM", "Reset_VM", "Suspend_VM"]


@FAST
@given(st.data())
def test_requests_of_each_operation_are_valid_and_round_trip(data: st.DataObject) -> None:
    operation = data.draw(ALL_OPERATIONS)
    request = data.draw(requests(operation=operation))
    assert (request["operation-type"], request["operation-name"]) == ("Basic_Vm", operation)
    assert request["parameters"]["virtual-machine"].strip()
    document = codec.encode(request)
    assert codec.decode(document) == request


@FAST
@given(st.data())
def test_responses_of_each_operation_are_valid_and_pin_the_task(data: st.DataObject) -> None:
    operation = data.draw(ALL_OPERATIONS)
    response = data.draw(responses(operation=operation, status="success", tasks=["task-710"]))
    body = codec.default_codec().operations[operation].response
    assert response[body] == {"Task": "task-710"}
    assert codec.decode(codec.encode(response)) == response


@FAST
@given(st.data())
def test_documents_and_pins_by_element_name(data: st.DataObject) -> None:
    document = data.draw(
        request_documents(operation="Suspend_VM", parameters={"virtual-machine": "win1"}, user_name="bob")
    )
    decoded = codec.decode(document)
    assert (decoded["parameters"], decoded["user-name"]) == ({"virtual-machine": "win1"}, "bob")
    answer = codec.decode(
        data.draw(response_documents(operation="Reset_VM", ResetVM_TaskResponse={"Task": "t-1"}))
    )
    assert answer["ResetVM_TaskResponse"] == {"Task": "t-1"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_codec_reports_exactly_the_mutated_path(data: st.DataObject) -> None:
    operation = data.draw(ALL_OPERATIONS)
    invalid: InvalidDocument = data.draw(
        st.one_of(invalid_requests(operation=operation), invalid_responses(operation=operation))
    )
    issues = list(codec.iter_errors(invalid.document))
    assert [(issue.path, invalid.reason in issue.reason) for issue in issues] == [(invalid.path, True)], (
        issues
    )


def test_an_operation_not_in_the_catalog_is_refused() -> None:
    with pytest.raises(KeyError, match="'Migrate_VM' is not in the catalog"):
        requests(operation="Migrate_VM")


def test_tasks_pin_one_queued_task() -> None:
    with pytest.raises(ValueError, match="holds one task"):
        responses(operation="Power_On_VM", tasks=["task-1", "task-2"]).example()
