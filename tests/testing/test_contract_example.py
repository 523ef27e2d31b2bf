"""An example to copy: fuzz your own code against the VIS adapter contract with ``vismock.testing``.

``task_states`` stands for code of yours that reads Retrieve_Task_Status responses. The
strategies generate documents from the shipped XSDs, so your code meets every shape the
contract allows (optional elements left out, repeated elements, every reason and entity
type, odd but valid texts and time zones), not just the few you thought of. Needs
``pip install 'vismock[testing]'`` (Hypothesis); docs/contract-testing.md explains more.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from hypothesis import given, settings
from lxml import etree

import vismock.codec
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.testing import InvalidDocument, invalid_responses, response_documents, responses

EXAMPLES = settings(max_examples=150, deadline=None)
STATES = {"queued", "running", "success", "error"}


# -- the code under test: yours -------------------------------------------------------------------------


def task_states(document: bytes) -> list[tuple[str, str]]:
    """(task id, state) of every task in a Retrieve_Task_Status response; ValueError if it is not one."""
    if not vismock.codec.is_valid(document):
        raise ValueError("not a valid vmware-infrastructure-response")
    root = etree.fromstring(document)
    return [
        (returnval.findtext("Task") or "", returnval.findtext("propSet/TaskInfo/state") or "")
        for returnval in root.iterfind("RetrieveTaskStatusResponse/returnval")
    ]


# -- the properties -------------------------------------------------------------------------------------


@EXAMPLES
@given(responses())
def test_task_states_agree_with_the_codec(response: dict[str, Any]) -> None:
    """Any valid response: the same answer as vismock's own decoder (the oracle)."""
    body = response.get("RetrieveTaskStatusResponse") or {}  # the schema lets even "success" omit it
    expected = [(rv["Task"], rv["propSet"]["TaskInfo"]["state"]) for rv in body.get("returnval", [])]
    assert task_states(vismock.codec.encode(response)) == expected


@EXAMPLES
@given(response_documents(status="success", tasks=["task-1", "task-2"]))
def test_task_states_keep_the_request_order(document: bytes) -> None:
    """Pinned parts: two tasks, in this order; everything else generated."""
    states = task_states(document)
    assert [task for task, _ in states] == ["task-1", "task-2"]
    assert {state for _, state in states} <= STATES


@EXAMPLES
@given(invalid_responses())
def test_broken_responses_are_refused_cleanly(invalid: InvalidDocument) -> None:
    """One defect each (missing element, bad value, extra element, wrong root, cut short...):
    a clear ValueError, never an IndexError or a wrong answer."""
    with pytest.raises(ValueError, match="not a valid"):
        task_states(invalid.document)


# -- against the running mock, in dynamic mode ------------------------------------------------------------


@pytest.fixture
def vismock_dynamic() -> bool:
    """Every task id the mock does not know gets a generated TaskInfo (the same one every time)."""
    return True


def test_any_task_id_can_be_polled(vismock_server: VismockServer) -> None:
    request = (
        b"<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        b"<operation-name>Retrieve_Task_Status</operation-name><parameters><spec-set>"
        b"<object-set><task>task-4711</task></object-set></spec-set></parameters>"
        b"</vmware-infrastructure-request>"
    )
    post = urllib.request.Request(
        vismock_server.adapter_url, data=request, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(post, timeout=10) as answer:
        first = task_states(answer.read())
    with urllib.request.urlopen(post, timeout=10) as answer:
        again = task_states(answer.read())
    assert first == again and first[0][0] == "task-4711" and first[0][1] in STATES
