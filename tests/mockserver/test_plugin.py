"""The pytest plugin: used directly here, and from generated test suites through pytester."""

from __future__ import annotations

import http.client
import json
import re
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import vismock.codec as codec
from tests.support import DATA, ROOT
from vismock.codec import XsDateTime
from vismock.codec.taskinfo import task_info_model
from vismock.faults import VimFault
from vismock.mockserver.pytest_plugin import VismockServer, start_server

pytest_plugins = ["pytester"]

SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()


def post(
    server: VismockServer, body: bytes = SEED_REQUEST, path: str = "/adapter", content_type: str = "text/xml"
) -> tuple[int, bytes]:
    """POST over a real socket with http.client (not the Flask test client)."""
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def task_request(task_id: str) -> bytes:
    return SEED_REQUEST.replace(b"task-525", task_id.encode())


# -- the fixture used directly


def test_url_is_a_real_socket(vismock_server: VismockServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", vismock_server.url)
    status, body = post(vismock_server)
    assert status == 200
    assert codec.decode(body)["metadata"]["status"] == "success"


def test_add_task_with_defaults_then_advance_the_clock(vismock_server: VismockServer) -> None:
    vismock_server.freeze()
    vismock_server.add_task(
        id="task-7",
        timeline=[
            {"state": "queued"},
            {"state": "running", "at": 5, "progress": 10},
            {"state": "success", "at": 9},
        ],
    )
    states = []
    for _ in range(3):
        info = codec.decode(post(vismock_server, task_request("task-7"))[1])
        states.append(info["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]["state"])
        vismock_server.advance(5)
    assert states == ["queued", "running", "success"]


def test_state_is_reset_before_each_test_part_1(vismock_server: VismockServer) -> None:
    vismock_server.delete_task("task-525")
    vismock_server.fail_next("error", times=None)
    assert codec.decode(post(vismock_server)[1])["metadata"]["status"] == "error"


def test_state_is_reset_before_each_test_part_2(vismock_server: VismockServer) -> None:
    assert vismock_server.journal() == []
    assert codec.decode(post(vismock_server)[1])["metadata"]["status"] == "success"


def test_a_request_in_flight_during_a_reset_never_reaches_the_next_test(
    vismock_server: VismockServer,
) -> None:
    # What the fixture does between two tests, with the first test's delayed request still running.
    vismock_server.add_task(id="task-p", progression="polls", timeline=[{"state": "running"}])
    vismock_server.fail_next("delay", delay_seconds=2)
    answers: list[tuple[int, bytes]] = []
    late = threading.Thread(target=lambda: answers.append(post(vismock_server, task_request("task-p"))))
    late.start()
    deadline = time.monotonic() + 10
    while vismock_server.backend.faults.rules():  # the rule is used up once the request is in its delay
        assert time.monotonic() < deadline and late.is_alive(), "the request never reached its delay"
        time.sleep(0.01)
    started = time.monotonic()
    vismock_server.reset()
    late.join(timeout=5)
    assert time.monotonic() - started < 1.5, "reset waited out the delay instead of ending it"
    ((status, body),) = answers
    assert (status, codec.decode(body)["metadata"]["fault"]) == (200, "RequestCanceled")
    assert vismock_server.journal(face=None) == []  # nothing of the previous test in the journal
    assert vismock_server.backend.faults.rules() == []
    with pytest.raises(VimFault):
        vismock_server.task_info("task-p")  # the reset state: the previous test's task is gone


def test_journal_and_assert_requested(vismock_server: VismockServer) -> None:
    post(vismock_server)
    post(vismock_server, task_request("task-2675"))
    assert [entry.task_ids for entry in vismock_server.journal()] == [("task-525",), ("task-2675",)]
    vismock_server.assert_requested(task="task-525", times=1)
    vismock_server.assert_requested(operation="Retrieve_Task_Status", times=2)
    vismock_server.assert_requested(task="task-2675")
    with pytest.raises(AssertionError, match=r"task='task-1001' at least once, saw 0") as failure:
        vismock_server.assert_requested(task="task-1001")
    assert "adapter Retrieve_Task_Status tasks=task-525" in str(failure.value)


def test_fail_next_drop_closes_the_connection_without_an_answer(vismock_server: VismockServer) -> None:
    vismock_server.fail_next("drop", task="task-525")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(vismock_server)
    assert post(vismock_server)[0] == 200  # only the next request
    assert [entry.outcome for entry in vismock_server.journal()] == ["fault-injected", "ok"]


def test_fail_next_drop_for_one_task_leaves_others_alone(vismock_server: VismockServer) -> None:
    vismock_server.fail_next("drop", task="task-2675", times=None)
    assert post(vismock_server)[0] == 200


@pytest.mark.parametrize(
    ("action", "options", "status", "valid"),
    [
        ("status", {"http_status": 503}, 503, True),
        ("error", {"fault": "HostCommunication", "message": "vCenter is down"}, 200, True),
        ("malformed", {}, 200, False),
        ("delay", {"delay_seconds": 0.01}, 200, True),
    ],
)
def test_fail_next_actions_over_a_real_socket(
    vismock_server: VismockServer, action: str, options: dict[str, Any], status: int, valid: bool
) -> None:
    vismock_server.fail_next(action, operation="Retrieve_Task_Status", **options)
    got_status, body = post(vismock_server)
    assert (got_status, codec.is_valid(body)) == (status, valid)
    if action == "error":
        assert codec.decode(body)["metadata"]["error"] == "vCenter is down"


def test_admin_api_over_a_real_socket(vismock_server: VismockServer) -> None:
    status, body = post(vismock_server, b'{"seconds": 5}', "/_vismock/clock/advance", "application/json")
    assert status == 200
    assert "now" in json.loads(body)


# -- generated suites through pytester

PLUGIN_SUITE = """
    import urllib.request

    SEED = {seed!r}

    def post(server, task="task-525"):
        body = SEED.replace(b"task-525", task.encode())
        headers = {{"Content-Type": "text/xml"}}
        request = urllib.request.Request(server.url + "/adapter", data=body, headers=headers)
        with urllib.request.urlopen(request) as response:
            return response.read()

    def test_one(vismock_server):
        vismock_server.add_task(id="task-1", progression="manual")
        assert b"<key>task-1</key>" in post(vismock_server, "task-1")
        vismock_server.assert_requested(task="task-1", times=1)

    def test_two_does_not_see_test_one(vismock_server):
        assert b"ManagedObjectNotFound" in post(vismock_server, "task-1")
        vismock_server.assert_requested(times=1)
"""


def test_plugin_is_registered_and_resets_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent(PLUGIN_SUITE.format(seed=SEED_REQUEST)))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_task_file_and_accounts_fixtures_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        mytasks="tasks:\n- {id: task-42, name: PowerOnVM_Task, descriptionId: VirtualMachine.powerOn}\n",
    )
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def vismock_tasks_file(pytestconfig):
                return pytestconfig.rootpath / "mytasks.yaml"

            @pytest.fixture
            def vismock_accounts():
                return {"bmc": "hunter2"}
            """
        )
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            from vismock.faults import TaskNotFound
            import pytest

            def test_served(vismock_server):
                assert [spec.id for spec in vismock_server.backend.tasks.specs()] == ["task-42"]
                assert vismock_server.backend.sessions.check_login("bmc", "hunter2")
                assert not vismock_server.backend.sessions.check_login("vismock", "vismock")
            """
        )
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_server_side_exception_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            import urllib.request

            def test_server_breaks(vismock_server, monkeypatch):
                def explode(task_id, poll=True):
                    raise RuntimeError("store exploded")
                monkeypatch.setattr(vismock_server.backend.tasks, "read", explode)
                url, headers = vismock_server.url + "/adapter", {{"Content-Type": "text/xml"}}
                request = urllib.request.Request(url, data={SEED_REQUEST!r}, headers=headers)
                urllib.request.urlopen(request).read()  # a valid SystemError envelope, HTTP 200
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the vismock server raised during this test*", "*store exploded*"])


# -- where it is, and a logged-in pyVmomi client


def test_host_and_port_are_what_smartconnect_takes(vismock_server: VismockServer) -> None:
    from pyVim.connect import Disconnect, SmartConnect

    assert (vismock_server.host, vismock_server.port) == (
        "127.0.0.1",
        int(vismock_server.url.rsplit(":", 1)[1]),
    )
    si = SmartConnect(
        protocol="http", host=vismock_server.host, port=vismock_server.port, user="vismock", pwd="vismock"
    )
    try:
        assert si.content.about.apiType == "VirtualCenter"
    finally:
        Disconnect(si)
        si._stub.DropConnections()


def test_vismock_si_is_logged_in_to_the_same_mock(vismock_si: Any, vismock_server: VismockServer) -> None:
    from pyVmomi import vim

    assert vim.Task("task-525", vismock_si._stub).info.state == "success"
    vismock_server.assert_requested(operation="Login", times=1)
    vismock_server.assert_polled("task-525", times=1)


def test_vismock_si_logs_in_with_the_first_configured_account(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def vismock_accounts():
                return {"bmc": "hunter2"}

            def test_logged_in(vismock_si, vismock_server):
                assert vismock_si.content.sessionManager.currentSession.userName == "bmc"
            """
        )
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- what task_info() returns, as docs/mock.md says

TYPES = {
    "str": str,
    "bool": bool,
    "int": int,
    "dict": dict,
    "list": list,
    "None": type(None),
    "XsDateTime": XsDateTime,
}


def documented_task_info() -> dict[str, type]:
    """Key -> type, from the table between the task-info markers of docs/mock.md."""
    text = (ROOT / "docs" / "mock.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- task-info:start -->\n(.*?)<!-- task-info:end -->", text, re.S)
    assert table is not None, "docs/mock.md lost its task-info markers"
    documented: dict[str, type] = {}
    for row in table.group(1).splitlines()[2:]:
        keys, kind = row.split(" | ")[:2]
        for key in re.findall(r"`(\w+)`", keys):
            documented[key] = TYPES[kind.strip("` ")]
    return documented


def test_the_task_info_table_has_every_element_of_the_schema() -> None:
    elements = {element for slot in task_info_model().slots for element in slot.elements}
    assert set(documented_task_info()) == elements


def test_task_info_has_the_documented_types(vismock_server: VismockServer, tmp_path: Path) -> None:
    documented = documented_task_info()
    vismock_server.freeze()
    infos = [vismock_server.task_info(spec.id) for spec in vismock_server.backend.tasks.specs()]
    vismock_server.advance(7200)  # every built-in task in its later states
    infos += [vismock_server.task_info(spec.id) for spec in vismock_server.backend.tasks.specs()]
    generated = start_server(tmp_path / "dynamic.sqlite3", dynamic=True)
    try:
        infos += [generated.task_info(f"task-{70000 + n}") for n in range(200)]
    finally:
        generated.stop()
    seen: set[str] = set()
    for info in infos:
        for key, value in info.items():
            assert type(value) is documented[key], (key, value)
            seen.add(key)
    assert len(seen) >= 30, sorted(set(documented) - seen)  # the answers did cover the table


# -- a server that cannot start: one clear error


def test_a_bad_task_file_is_one_error_naming_file_and_lines_once(pytester: pytest.Pytester) -> None:
    """It was a ~60-line traceback through the plugin for every test, the useful line last."""
    bad = "tasks:\n- {id: task-1, name: PowerOnVM_Task, colour: red}\n- {id: task-2, name: PowerOfVM_Task}\n"
    pytester.makefile(".yaml", tasks=bad)
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def vismock_tasks_file(pytestconfig):
                return pytestconfig.rootpath / "tasks.yaml"
            """
        )
    )
    pytester.makepyfile("\n".join(f"def test_{n}(vismock_server):\n    pass\n" for n in range(3)))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rN")  # no summary: CI shows it untruncated
    result.assert_outcomes(errors=3)
    output = result.stdout.str()
    tasks = pytester.path / "tasks.yaml"
    colour = f"{tasks}:2: tasks[0].colour: unknown field 'colour'"
    method = f"{tasks}:3: tasks[1].name: 'PowerOfVM_Task' is not a vim25 task method"
    assert output.count(colour) == 3  # every problem at the first test, the first one at the others
    assert output.count(method) == 1
    first_test = "test_a_bad_task_file_is_one_error_naming_file_and_lines_once.py::test_0"
    assert output.count(f"in full at {first_test}") == 2
    assert "Traceback" not in output and "pytest_plugin.py" not in output, output
    assert len(output.splitlines()) < 40, output


@pytest.mark.parametrize(
    ("fixture", "value", "message"),
    [
        ("vismock_accounts", '["bmc"]', "vismock_accounts must return a mapping of user name to password"),
        ("vismock_accounts", '{"bmc": 7}', "vismock_accounts must return a mapping of user name to password"),
        ("vismock_tasks_file", "42", "vismock_tasks_file must return a path (str or Path) or None, not 42"),
        ("vismock_dynamic", '"yes"', "vismock_dynamic must return True or False, not 'yes'"),
        ("vismock_tasks_file", '"no-such.yaml"', "no-such.yaml: cannot read the task file"),
    ],
)
def test_a_fixture_returning_what_the_server_cannot_take_is_named(
    pytester: pytest.Pytester, fixture: str, value: str, message: str
) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            import pytest

            @pytest.fixture
            def {fixture}():
                return {value}

            def test_served(vismock_server):
                pass
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
def test_works_under_xdist_with_a_server_per_worker(pytester: pytest.Pytester) -> None:
    tests = "\n".join(
        f"""
def test_{n}(vismock_server):
    vismock_server.add_task(id="task-{n}")
    assert [s.id for s in vismock_server.backend.tasks.specs()].count("task-{n}") == 1
    assert not any(s.id.startswith("task-x") for s in vismock_server.backend.tasks.specs())
    vismock_server.add_task(id="task-x{n}")
    (vismock_server.backend.tasks.specs() and open("ports-{n}.txt", "w").write(vismock_server.url))
"""
        for n in range(6)
    )
    pytester.makepyfile(tests)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    urls = {(pytester.path / f"ports-{n}.txt").read_text() for n in range(6)}
    assert len(urls) == 2  # one server per worker
