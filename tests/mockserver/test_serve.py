"""``vismock serve`` as a real subprocess: built-in tasks, one process on threads, clean shutdown."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import vismock.codec as codec
from tests.support import DATA
from tests.support.served import serve_command, served

SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()
URL_LINE = re.compile(r"vismock serving on http://127\.0\.0\.1:(\d+)/")

pytestmark = pytest.mark.slow  # a real `vismock serve` in a subprocess


def test_no_arguments_serves_the_seed_tasks_and_stops_on_sigterm(tmp_path: Path) -> None:
    with served("--db", str(tmp_path / "state.sqlite3")) as mock:
        status, body = mock.call("POST", "/adapter", SEED_REQUEST)
        assert status == 200
        info = codec.decode(body)["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
        assert (info["key"], info["state"]) == ("task-525", "success")
        ids = {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
        assert {"task-525", "task-2675"} <= ids
        assert mock.stop(signal.SIGTERM) == 0


def test_one_process_serves_concurrent_requests_on_its_threads(tmp_path: Path) -> None:
    task = {"id": "task-77", "name": "PowerOnVM_Task", "descriptionId": "VirtualMachine.powerOn"}
    request = SEED_REQUEST.replace(b"task-525", b"task-77")
    with served("--threads", "8", "--db", str(tmp_path / "state.sqlite3")) as mock:
        mock.call("POST", "/_vismock/tasks", json.dumps(task).encode(), "application/json")
        with ThreadPoolExecutor(8) as pool:  # concurrent requests on fresh connections
            answers = list(pool.map(lambda _: mock.call("POST", "/adapter", request), range(40)))
            pids = set(pool.map(lambda _: mock.call("GET", "/_vismock/health")["pid"], range(16)))
        assert {(status, codec.decode(body)["metadata"]["status"]) for status, body in answers} == {
            (200, "success")
        }
        assert len(pids) == 1, f"answered by several processes: {pids}"
        assert mock.call("GET", "/_vismock/journal/count?task=task-77&face=adapter")["count"] == 40
        assert mock.stop(signal.SIGINT) == 0


def test_state_survives_a_restart_with_the_same_db(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    with served("--db", database, "--server", "waitress") as mock:
        mock.call("DELETE", "/_vismock/tasks/task-525")
        assert mock.stop(signal.SIGTERM) == 0
    with served("--db", database, "--server", "waitress") as mock:
        ids = {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
        assert "task-525" not in ids
        mock.call("POST", "/_vismock/reset", b"", "application/json")
        assert "task-525" in {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
        assert mock.stop(signal.SIGINT) == 0


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        (["--tasks", "missing.yaml"], {}, "cannot read the task file"),
        (["--tasks", "."], {}, "cannot read the task file"),
        (["--tasks", "{bad}"], {}, "bad.yaml:2: tasks[0].colour: unknown field"),
        (["--account", "no-colon"], {}, "expected USER:PASSWORD"),
        (["--workers", "2"], {}, "--workers 2: vismock serves from one process"),
        (["--server", "tornado"], {}, "argument --server: invalid choice: 'tornado'"),
        (["--db", "no/such/folder/state.sqlite3"], {}, "the folder"),
        (["--db", "{bad}"], {}, "not a vismock state file"),
        ([], {"VISMOCK_ACCOUNTS": "{not json"}, "VISMOCK_ACCOUNTS: expected a JSON object"),
        ([], {"VISMOCK_JOURNAL_CAP": "many"}, "VISMOCK_JOURNAL_CAP: expected an integer, not 'many'"),
        (["--allow-host", "vcenter.test:8080"], {}, "--allow-host 'vcenter.test:8080': not a host name"),
        ([], {"VISMOCK_ALLOWED_HOSTS": "a/b"}, "VISMOCK_ALLOWED_HOSTS: 'a/b' is not a host name"),
    ],
)
def test_start_up_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], environment: dict[str, str], message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n- {id: task-1, name: PowerOnVM_Task, descriptionId: x, colour: blue}\n")
    args = [arg.replace("{bad}", str(bad)) for arg in args]
    result = subprocess.run(
        serve_command("--port", "0", *args),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **environment},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line, never a traceback
    assert result.stderr.startswith("vismock serve: ")


def test_a_port_in_use_is_a_one_line_start_up_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_command("--port", str(port)), capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
    assert result.returncode == 2
    assert result.stderr == f"vismock serve: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_a_server_whose_extra_is_missing_says_which_extra_to_install(tmp_path: Path) -> None:
    # A Python that cannot import gunicorn: a module of that name that fails to import comes first.
    shadow = tmp_path / "shadow"
    (shadow / "gunicorn").mkdir(parents=True)
    (shadow / "gunicorn" / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = subprocess.run(
        serve_command("--port", "0", "--server", "gunicorn"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(shadow)},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "vismock serve: --server gunicorn needs gunicorn, which is not installed:"
        " pip install 'vismock[gunicorn]'\n"
    )


def test_a_task_file_given_with_an_existing_db_wins(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    mine = tmp_path / "mytasks.yaml"
    mine.write_text("tasks:\n- {id: task-77, name: PowerOffVM_Task}\n")
    with served("--db", database) as mock:
        assert "task-525" in {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
        assert mock.stop(signal.SIGTERM) == 0
    with served("--db", database, "--tasks", str(mine)) as mock:
        assert [task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]] == ["task-77"]
        notice = mock.preamble[0]
        assert "held another task set; serving the 1 task(s) given now" in notice
        assert mock.stop(signal.SIGTERM) == 0


def test_accounts_and_admin_token_reach_the_workers(tmp_path: Path) -> None:
    env_free_token = "tok-" + os.urandom(4).hex()
    args = ["--account", "bmc:pa:ss", "--admin-token", env_free_token, "--db", str(tmp_path / "s.sqlite3")]
    with served(*args) as mock:
        login = SEED_REQUEST.replace(b"<user-name></user-name>", b"<user-name>bmc</user-name>")
        ok = login.replace(b"<password></password>", b"<password>pa:ss</password>")
        assert codec.decode(mock.call("POST", "/adapter", ok)[1])["metadata"]["status"] == "success"
        assert mock.call("GET", "/_vismock/tasks")["error"].startswith("admin API: missing or wrong token")
        assert mock.call("GET", "/_vismock/health")["status"] == "ok"  # liveness needs no token
        assert mock.stop(signal.SIGTERM) == 0
