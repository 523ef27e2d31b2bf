"""govc 0.24, the real client, against ``vismock serve`` and, side by side, the reference simulator:
each row of issue 11's table, and the same observable result on both where the simulator
supports it.

govc sends chunked request bodies, caches its session in GOVMOMI_HOME (each test has its own),
checks a cached session by reading ``currentSession`` and panics on anything it dereferences and
does not find. Outside CI these tests skip when govc or the simulator is not built, saying how;
in CI they fail instead (tests/support/tools.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.served import served
from tests.support.tools import Govc, Target, govc_binary, recent_tasks, with_credentials
from tests.support.vcsim import free_port, running_vcsim
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.mockserver.vim25.check import envelope_errors

# -- row 1: about, session.login, session.logout ------------------------------------------------------


def test_about_login_and_logout(govc: Govc) -> None:
    about = dict(line.split(":", 1) for line in govc.lines("about"))
    assert about["API type"].strip() == "VirtualCenter"
    assert about["Product ID"].strip() == "vpx"
    govc.ok("session.login")
    assert govc.run("session.logout").returncode == 0


# -- row 6: a stale cached session makes govc log in again --------------------------------------------


def test_after_logout_the_next_command_logs_in_again(target: Target, govc: Govc) -> None:
    govc.ok("about")
    govc.ok("session.logout")
    logins_before = _logins(target)
    assert "VirtualCenter" in govc.ok("about")  # the cached cookie is dead: re-login, no error
    assert govc.ok("ls").splitlines()[0] == f"/{target.datacenter}/vm"
    if target.served is not None:
        assert _logins(target) == logins_before + 1


def _logins(target: Target) -> int:
    if target.served is None:
        return 0
    found: int = target.served.call("GET", "/_vismock/journal/count?operation=Login")["count"]
    return found


@pytest.mark.parametrize("server", ["vismock", "vcsim"])
def test_after_a_restart_the_cached_session_is_replaced(server: str, tmp_path: Path) -> None:
    port = free_port()
    start = (
        (lambda: served("--port", str(port))) if server == "vismock" else (lambda: running_vcsim(port=port))
    )
    with start():
        url = (
            f"http://vismock:vismock@127.0.0.1:{port}/sdk"
            if server == "vismock"
            else with_credentials(f"http://127.0.0.1:{port}/sdk")
        )
        govc = Govc(govc_binary(), url, tmp_path / "govmomi")
        govc.ok("about")
        assert list((tmp_path / "govmomi" / "sessions").iterdir())  # the session is cached
    with start():
        assert "VirtualCenter" in govc.ok("about")  # a new server: the cached cookie is unknown there
        assert govc.ok("ls")


# -- row 3: object.collect, ls, find --------------------------------------------------------------------


def test_ls_lists_the_datacenter_folders_and_vms(target: Target, govc: Govc) -> None:
    dc = f"/{target.datacenter}"
    assert govc.lines("ls") == [f"{dc}/vm", f"{dc}/host", f"{dc}/datastore", f"{dc}/network"]
    top_level = [path for path in target.vms if "/" not in path]
    listed = govc.lines("ls", f"{dc}/vm")
    assert [line for line in listed if line.rsplit("/", 1)[1] in top_level] == [
        f"{dc}/vm/{vm}" for vm in top_level
    ]
    long_listing = govc.lines("ls", "-l", f"{dc}/vm")
    assert f"{dc}/vm/{top_level[0]} (VirtualMachine)" in long_listing


def test_find_walks_the_whole_inventory(target: Target, govc: Govc) -> None:
    dc = f"/{target.datacenter}"
    assert govc.lines("find", "/", "-type", "m") == [f"{dc}/vm/{vm}" for vm in target.vms]
    name = target.vms[1].rsplit("/", 1)[-1]
    assert govc.lines("find", ".", "-name", name) == [f"{dc}/vm/{target.vms[1]}"]
    hosts = govc.lines("find", "/", "-type", "h")
    assert hosts and all(path.startswith(f"{dc}/host/") for path in hosts)
    assert govc.lines("find", "/", "-type", "d") == [dc]


def test_object_collect_reads_a_task_s_info(target: Target, govc: Govc) -> None:
    task = "task-2675" if target.served is not None else recent_tasks(govc)[0]
    lines = govc.lines("object.collect", f"Task:{task}", "info")
    fields = {line.split()[0]: line.split()[1:] for line in lines}
    assert fields["info.key"] == ["string", task]
    assert fields["info.task"] == ["types.ManagedObjectReference", f"Task:{task}"]
    assert fields["info.state"] == ["types.TaskInfoState", "success"]
    assert fields["info.queueTime"][0] == "time.Time"


def test_object_collect_of_an_unknown_task_fails(govc: Govc) -> None:
    done = govc.run("object.collect", "Task:task-999999", "info")
    assert done.returncode == 1
    assert "ManagedObjectNotFound" in done.stderr or "has already been deleted" in done.stderr


def test_object_collect_follows_a_property_path(target: Target, govc: Govc) -> None:
    vm = target.vms[0]
    assert govc.ok("object.collect", "-s", f"vm/{vm}", "runtime.powerState").strip() == "poweredOn"
    assert govc.ok("object.collect", "-s", f"vm/{vm}", "name").strip() == vm


# -- row 4: tasks, events ---------------------------------------------------------------------------


def test_tasks_lists_the_recent_tasks(target: Target, govc: Govc) -> None:
    lines = govc.lines("tasks")
    assert lines[0].split() == ["Task", "Target", "Initiator", "Queued", "Started", "Completed", "Result"]
    assert len(lines) > 1
    if target.served is not None:  # the seed's tasks: user bmc powered TestDev on
        assert re.match(r"PowerOnVM\s+TestDev\s+bmc\s+08:20:10\s+08:20:10\s+08:20:17\s+success", lines[1])
    else:
        assert any(re.search(r"\bsuccess\b", line) for line in lines[1:])


def test_events_prints_the_latest_events(target: Target, govc: Govc) -> None:
    lines = govc.lines("events")
    assert lines and all(
        re.match(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] \[info\] \S", line) for line in lines
    )
    latest = govc.lines("events", "-n", "3")
    if target.served is not None:
        assert latest == lines[-3:]  # the newest three
    else:  # the simulator's page size after SetCollectorPageSize is wrong (a known quirk)
        assert len(latest) >= 3
    typed = govc.lines("events", "-l", "-n", "2")
    assert all(re.match(r"\[.*\] \[info\] \[\w+Event\] ", line) for line in typed)
    if target.served is not None:  # the mock logs a TaskEvent per task, newest last
        assert lines[-1].endswith("(target=VirtualMachine TestDev)")
        vm_events = govc.lines("events", "vm/TestDev")
        assert vm_events and all("target=VirtualMachine TestDev" in line for line in vm_events)


# -- row 5: session.ls ------------------------------------------------------------------------------


def test_session_ls_shows_this_session(govc: Govc) -> None:
    govc.ok("about")
    lines = govc.lines("session.ls")
    assert lines[0].split() == ["Key", "Name", "Created", "Idle", "Host", "Agent"]
    mine = [line for line in lines[1:] if line.split()[4] == "."]  # Created is two words; Idle "." is mine
    assert len(mine) == 1 and mine[0].split()[-1] == "govc/0.24.0"


# -- row 7: task.cancel -----------------------------------------------------------------------------


def test_task_cancel_of_a_running_task(target: Target, govc: Govc) -> None:
    if target.served is None:  # the simulator does not implement CancelTask
        done = govc.run("task.cancel", recent_tasks(govc)[0])
        assert done.returncode == 1 and "does not implement: CancelTask" in done.stderr
        return
    govc.ok("task.cancel", "task-1009")  # the built-in cancelable hour-long task
    fields = {
        line.split()[0]: line.split()[1:] for line in govc.lines("object.collect", "Task:task-1009", "info")
    }
    assert fields["info.state"][-1] == "error" and fields["info.cancelled"][-1] == "true"
    refused = govc.run("task.cancel", "task-2675")  # finished: vCenter's InvalidState
    assert refused.returncode == 1 and "cannot be cancelled" in refused.stderr


# -- beyond the table -------------------------------------------------------------------------------


def test_events_of_two_objects(target: Target, govc: Govc) -> None:
    # govc makes one collector per object and a ListView of them: the simulator cannot see its
    # session's collectors in a list view (ManagedObjectNotFound); vCenter and vismock can.
    first, second = (f"vm/{vm}" for vm in target.vms[:2])
    done = govc.run("events", first, second)
    if target.served is None:
        assert done.returncode == 1 and "ManagedObjectNotFound" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "==> VirtualMachine:vm-525 <==" in done.stdout


# -- every server vismock runs on reads govc's chunked request bodies --------------------------------


@pytest.mark.parametrize("server", ["waitress", "gunicorn"])
def test_govc_on_every_server(server: str, tmp_path: Path) -> None:
    govc_binary()
    with served("--server", server) as running:
        govc = Govc(
            govc_binary(), f"http://vismock:vismock@127.0.0.1:{running.port}/sdk", tmp_path / "govmomi"
        )
        assert "VirtualCenter" in govc.ok("about")
        assert govc.lines("ls") == [
            "/Datacenter/vm",
            "/Datacenter/host",
            "/Datacenter/datastore",
            "/Datacenter/network",
        ]


def test_govc_on_the_pytest_plugin_s_server(vismock_server: VismockServer, tmp_path: Path) -> None:
    url = vismock_server.soap_url.replace("http://", "http://vismock:vismock@")
    govc = Govc(govc_binary(), url, tmp_path / "govmomi")
    assert govc.lines("find", "/", "-type", "m")[:2] == ["/Datacenter/vm/TestDev", "/Datacenter/vm/win1"]
    vismock_server.assert_requested(operation="CreateContainerView", times=1)


def test_every_answer_govc_gets_is_valid_by_the_vim25_model(
    vismock_server: VismockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[bytes] = []
    inner = vismock_server.app.wsgi_app

    def keeping_answers(environ: Any, start_response: Any) -> Any:
        body = b"".join(inner(environ, start_response))
        if environ.get("PATH_INFO", "").startswith("/sdk") and environ.get("REQUEST_METHOD") == "POST":
            answers.append(body)
        return [body]

    monkeypatch.setattr(vismock_server.app, "wsgi_app", keeping_answers)
    govc = Govc(
        govc_binary(), vismock_server.soap_url.replace("http://", "http://vismock:vismock@"), tmp_path / "g"
    )
    for command in (
        ["about"],
        ["session.ls"],
        ["ls", "-l", "/Datacenter/host/Cluster-A"],
        ["find", "/", "-type", "m"],
        ["object.collect", "Task:task-2675", "info"],
        ["object.collect", "-s", "vm/win1", "runtime.powerState"],
        ["tasks"],
        ["events", "-l", "vm/TestDev", "vm/win1"],
        ["task.cancel", "task-1009"],
        ["session.logout"],
    ):
        govc.ok(*command)
    govc.run("object.collect", "Task:task-999999", "info")  # a fault: its detail is checked too
    assert len(answers) > 40, len(answers)
    assert {index: envelope_errors(body) for index, body in enumerate(answers) if envelope_errors(body)} == {}
