"""govmomi's standard task waiter, ``object.NewTask(c, ref).WaitForResult``, against the mock (the
pytest plugin's server) and the reference simulator: a Go program of the tests' own
(tests/go/src/vismockwait), built in GOPATH mode against Debian's golang-github-vmware-govmomi-dev.

The waiter creates a property collector of its own, a filter on the task's ``info`` and waits
with WaitForUpdatesEx until the task succeeds or fails. Outside CI these tests skip when Go or
the library is missing, saying how to install them; in CI they fail instead.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from tests.support.tools import build_go_program, with_credentials
from tests.support.vcsim import running_vcsim
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.mockserver.vim25.check import envelope_errors

UNKNOWN_TASK = "task-999999"


@pytest.fixture(scope="module")
def waiter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_program("vismockwait", tmp_path_factory.mktemp("go"))


def mock_url(server: VismockServer) -> str:
    return server.soap_url.replace("http://", "http://vismock:vismock@")


def wait_for(waiter: Path, url: str, task: str, *flags: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(waiter), "-u", url, "-task", task, *flags], capture_output=True, text=True, timeout=90
    )
    return done.returncode, json.loads(done.stdout)


def test_a_finished_task(
    waiter: Path, vismock_server: VismockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[bytes] = []
    inner = vismock_server.app.wsgi_app

    def keeping_answers(environ: Any, start_response: Any) -> Any:
        answers.append(b"".join(inner(environ, start_response)))
        return [answers[-1]]

    monkeypatch.setattr(vismock_server.app, "wsgi_app", keeping_answers)
    code, seen = wait_for(waiter, mock_url(vismock_server), "task-2675")
    assert (code, seen["state"]) == (0, "success")
    # The waiter's own collector: created, filtered, waited on, destroyed.
    for method in ("CreatePropertyCollector", "CreateFilter", "WaitForUpdatesEx", "DestroyPropertyCollector"):
        vismock_server.assert_requested(operation=method, times=1)
    assert len(answers) == 7  # and RetrieveServiceContent, Login, Logout: each valid by the vim25 model
    assert [envelope_errors(body) for body in answers] == [[]] * 7


def test_a_failed_task_gives_its_typed_fault(waiter: Path, vismock_server: VismockServer) -> None:
    code, seen = wait_for(waiter, mock_url(vismock_server), "task-1010")
    assert (code, seen["state"], seen["fault"]) == (1, "error", "InvalidPowerState")
    assert seen["message"] == "The attempted operation cannot be performed in the current state (Powered on)."


def test_an_unknown_task_is_managed_object_not_found(waiter: Path, vismock_server: VismockServer) -> None:
    code, seen = wait_for(waiter, mock_url(vismock_server), UNKNOWN_TASK)
    assert (code, seen["fault"]) == (3, "ManagedObjectNotFound")
    assert "state" not in seen


def test_a_running_task_is_followed_to_its_end(waiter: Path, vismock_server: VismockServer) -> None:
    vismock_server.freeze()
    vismock_server.add_task(
        id="task-long",
        timeline=[
            {"state": "queued"},
            {"state": "running", "at": 5, "progress": 40},
            {"state": "running", "at": 10, "progress": 80},
            {"state": "success", "at": 15, "progress": 100},
        ],
    )
    command = [str(waiter), "-u", mock_url(vismock_server), "-task", "task-long", "-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        for answered in (1, 2, 3):  # each step once the waiter has seen the one before
            _until(lambda n=answered: vismock_server.count(operation="WaitForUpdatesEx") >= n)  # type: ignore[misc]
            vismock_server.advance(5)
        stdout, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    seen = json.loads(stdout)
    assert (process.returncode, seen["state"]) == (0, "success")
    assert seen["progress"] == [0, 40, 80, 100]  # queued, each running step, the end
    assert vismock_server.count(operation="WaitForUpdatesEx") == 4


def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the waiter did not get there in time"
        time.sleep(0.02)


# -- the same answers from the reference simulator --------------------------------------------------


@pytest.fixture(scope="module")
def simulator_tasks() -> Iterator[tuple[str, dict[str, str]]]:
    """The simulator, and a task of each kind made there: a power-off that succeeded, one that
    failed (the VM already off) and an id it does not know."""
    with running_vcsim() as plain_url:
        url = with_credentials(plain_url)
        address = urlsplit(url)
        si = SmartConnect(protocol="http", host=address.hostname, port=address.port, user="user", pwd="pass")
        try:
            view = si.content.viewManager.CreateContainerView(
                si.content.rootFolder, [vim.VirtualMachine], True
            )
            vm = next(vm for vm in view.view if vm.runtime.powerState == "poweredOn")
            view.Destroy()
            succeeded = vm.PowerOffVM_Task()
            WaitForTask(succeeded)
            failed = vm.PowerOffVM_Task()
            with pytest.raises(vim.fault.InvalidPowerState):
                WaitForTask(failed)
            yield url, {"success": succeeded._moId, "error": failed._moId, "unknown": UNKNOWN_TASK}
        finally:
            Disconnect(si)


@pytest.mark.parametrize("kind", ["success", "error", "unknown"])
def test_the_simulator_answers_the_waiter_the_same(
    waiter: Path, vismock_server: VismockServer, simulator_tasks: tuple[str, dict[str, str]], kind: str
) -> None:
    url, tasks = simulator_tasks
    on_mock = {"success": "task-2675", "error": "task-1010", "unknown": UNKNOWN_TASK}[kind]
    mock_code, mock_seen = wait_for(waiter, mock_url(vismock_server), on_mock)
    sim_code, sim_seen = wait_for(waiter, url, tasks[kind])
    assert (mock_code, mock_seen.get("state"), mock_seen.get("fault")) == (
        sim_code,
        sim_seen.get("state"),
        sim_seen.get("fault"),
    )
