"""Rules of fault injection (docs/mock.md "Fault rules"), added through the admin API of a server on a
real socket (the pytest plugin's) and observed as clients see them: envelopes, HTTP statuses,
connections closed."""

from __future__ import annotations

import http.client
import time
from typing import Any

import pytest
from lxml import etree

from tests.support.client import Vcenter, http_transport, status_request
from vismock.mockserver.pytest_plugin import VismockServer

INJECTED = "fault injected by vismock"


@pytest.fixture
def served(vismock_server: VismockServer) -> Vcenter:
    """The plugin's server (reset for this test) through HTTP only."""
    return Vcenter(http_transport(vismock_server.url))


def raw_status(vcenter: Vcenter, task: str) -> tuple[int, bytes]:
    reply = vcenter.send("POST", "/adapter", status_request(task), {"Content-Type": "text/xml"})
    return reply.status, reply.body


def test_an_error_rule_fires_exactly_times_then_is_gone(served: Vcenter) -> None:
    served.add(
        "faults",
        action="error",
        task="task-525",
        fault="HostCommunication",
        message="vCenter unreachable",
        times=2,
    )
    first = served.status("task-525")
    assert (first.http_status, first.status, first.fault, first.error) == (
        200,
        "error",
        "HostCommunication",
        "vCenter unreachable",
    )
    assert served.listed("faults")[0]["times"] == 1
    assert served.status("task-525").fault == "HostCommunication"
    assert served.listed("faults") == []
    assert served.status("task-525").status == "success"
    outcomes = [e["outcome"] for e in served.journal(task="task-525")]
    assert outcomes == ["fault-injected", "fault-injected", "ok"]


def test_an_error_rule_on_the_soap_face_is_a_typed_soap_fault(served: Vcenter) -> None:
    soap = served.soap()
    served.add("faults", action="error", face="soap", operation="Fetch", fault="InvalidState", times=None)
    fault = soap.fault("Fetch", "Task", "task-525", "<prop>info</prop>")
    assert (fault.type, fault.message, fault.http_status) == ("InvalidState", INJECTED, 500)
    assert served.status("task-525").status == "success"  # the adapter face is left alone
    assert soap.current_time()  # another method too


def test_a_status_rule_answers_that_http_status_with_an_error_envelope(served: Vcenter) -> None:
    served.add("faults", action="status", http_status=503, task="task-525")
    answer = served.status("task-525")
    assert (answer.http_status, answer.status, answer.fault) == (503, "error", "SystemError")


def test_a_malformed_rule_cuts_the_answer(served: Vcenter) -> None:
    served.add("faults", action="malformed", task="task-525")
    status, body = raw_status(served, "task-525")
    assert status == 200 and body.startswith(b"<?xml")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)


def test_a_delay_rule_answers_normally_after_its_delay(served: Vcenter) -> None:
    served.add("faults", action="delay", delay_seconds=0.3, task="task-525")
    started = time.monotonic()
    answer = served.status("task-525")
    assert time.monotonic() - started >= 0.3
    assert answer.status == "success"
    started = time.monotonic()
    served.status("task-525")
    assert time.monotonic() - started < 0.3  # once


def test_a_drop_rule_closes_the_connection_without_an_answer(
    served: Vcenter, vismock_server: VismockServer
) -> None:
    served.add("faults", action="drop", task="task-525")
    host, port = vismock_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST", "/adapter", body=status_request("task-525"), headers={"Content-Type": "text/xml"}
        )
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, http.client.IncompleteRead)):
            connection.getresponse().read()
    finally:
        connection.close()
    assert served.status("task-525").status == "success"
    (dropped, _) = served.journal(task="task-525")
    assert (dropped["outcome"], dropped["http_status"]) == ("fault-injected", 0)


def test_selectors_must_all_match_and_rules_never_touch_the_admin_api(served: Vcenter) -> None:
    served.add(
        "faults",
        action="status",
        http_status=503,
        task="task-525",
        face="adapter",
        operation="Retrieve_Task_Status",
        times=None,
    )
    assert served.status("task-2675").status == "success"  # another task
    assert served.soap().task("task-525").state == "success"  # another face
    assert served.status("task-525").http_status == 503
    served.add("faults", action="status", http_status=503, times=None)  # anything
    assert served.ok("GET", "tasks")["tasks"]
    assert served.now()
    assert len(served.listed("faults")) == 2


def test_the_first_rule_that_matches_fires(served: Vcenter) -> None:
    served.add("faults", action="error", fault="InvalidState", task="task-525")
    served.add("faults", action="error", fault="HostCommunication")
    assert served.status("task-525").fault == "InvalidState"
    assert served.status("task-525").fault == "HostCommunication"
    assert served.listed("faults") == []


def test_probability_zero_never_fires_and_one_always_does(served: Vcenter) -> None:
    served.add("faults", action="error", task="task-525", probability=0.0, times=None)
    served.add("faults", action="error", task="task-2675", probability=1.0, times=None)
    assert {served.status("task-525").status for _ in range(30)} == {"success"}
    assert {served.status("task-2675").status for _ in range(30)} == {"error"}


def test_probability_and_times_together_fire_exactly_times(served: Vcenter) -> None:
    served.add("faults", action="error", task="task-525", probability=0.5, times=5)
    fired = sum(served.status("task-525").status == "error" for _ in range(120))
    assert fired == 5  # fewer than 5 in 120 draws at 0.5: about 1e-27


def test_probability_fires_about_that_often(served: Vcenter) -> None:
    served.add("faults", action="error", task="task-525", probability=0.3, times=None)
    tries = 400
    fired = sum(served.status("task-525").status == "error" for _ in range(tries))
    assert abs(fired - 0.3 * tries) < 6 * (tries * 0.3 * 0.7) ** 0.5  # six standard deviations


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "explode"},
        {"action": "drop", "times": 0},
        {"action": "drop", "probability": 1.5},
        {"action": "status", "http_status": 42},
        {"action": "delay", "delay_seconds": -1},
        {"action": "error", "fault": "DiskIsFull"},
    ],
)
def test_an_invalid_rule_is_refused(served: Vcenter, rule: dict[str, Any]) -> None:
    assert served.refused("POST", "faults", rule)[0] == 400
    assert served.listed("faults") == []


def test_rules_are_removed_one_by_one_cleared_and_reset(served: Vcenter) -> None:
    first = served.add("faults", action="error", task="task-525", times=None)
    served.add("faults", action="error", task="task-2675", times=None)
    assert served.ok("DELETE", f"faults/{first['id']}") == {"deleted": first["id"]}
    assert served.refused("DELETE", f"faults/{first['id']}")[0] == 404
    assert served.status("task-525").status == "success"
    assert served.ok("DELETE", "faults") == {"cleared": True}
    assert served.status("task-2675").status == "success"
    served.add("faults", action="error", times=None)
    served.reset()
    assert served.listed("faults") == [] and served.status("task-525").status == "success"
