"""``vismock record`` against the mock in process: what it writes, what it refuses, how it stops.

The long round trips (a followed recording replayed by a second ``vismock serve``, the reference
simulator) are in test_record_roundtrip.py and test_record_vcsim.py.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.serving import make_server

from tests.support import DATA
from tests.support.components import self_signed_certificate
from tests.support.recording import PASSWORD, PASSWORD_ENV, USER, adapter_infos, loaded, record, soap_infos
from tests.support.served import served
from tests.support.soap import LiveServer, live_server
from vismock.adapter import vcenter
from vismock.mockserver.app import create_app
from vismock.mockserver.state.taskfile import specs_from_dicts

SCENARIO = DATA / "record" / "scenario.yaml"


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return PASSWORD


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[LiveServer]:
    """The round-trip scenario served in process, its clock frozen (so a recording of it can be
    compared with what it answers)."""
    app = create_app({"VISMOCK_TASKS": str(SCENARIO), "VISMOCK_DB": str(tmp_path / "mock.sqlite3")})
    with live_server(app) as server:
        server.backend.reset()  # every lifecycle starts now (and the clock runs again)
        server.backend.freeze()
        server.backend.advance(3.5)  # task-301 running 40 %, task-302 running, task-303 done
        yield server


def sdk(server: LiveServer) -> str:
    return f"{server.url}/sdk"


# -- what a recording holds


def test_a_recording_of_tasks_as_they_are_replays_the_same_taskinfo(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "now.yaml"
    status, err = record(capsys, sdk(mock), output)
    assert status == 0, err
    task_ids = [spec.id for spec in loaded(output).tasks]
    assert task_ids == ["task-301", "task-302", "task-303", "task-304"]  # TaskManager.recentTask
    expected = soap_infos(sdk(mock), task_ids)
    assert [info["state"] for info in expected.values()] == ["running", "running", "success", "success"]
    replay_app = create_app({"VISMOCK_TASKS": str(output), "VISMOCK_DB": str(tmp_path / "replay.sqlite3")})
    with live_server(replay_app) as replay:
        replay.backend.freeze(mock.backend.now())  # the same moment (the mock's is ahead)
        assert soap_infos(sdk(replay), task_ids) == expected
        assert adapter_infos(replay.url, task_ids) == expected


def test_named_tasks_only_and_each_once(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "two.yaml"
    status, err = record(capsys, sdk(mock), output, "task-302", "task-301", "task-302")
    assert status == 0, err
    assert [spec.id for spec in loaded(output).tasks] == ["task-302", "task-301"]


def test_a_running_task_observed_once_keeps_its_times_and_progress(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "one.yaml"
    assert record(capsys, sdk(mock), output, "task-301")[0] == 0
    task = yaml.safe_load(output.read_text())["tasks"][0]
    assert task["queueTime"] == soap_infos(sdk(mock), ["task-301"])["task-301"]["queueTime"]
    assert task["timeline"] == [{"state": "running", "at": 1.5, "progress": 40}]


def test_user_names_are_kept_or_replaced(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    kept, replaced, everyone = tmp_path / "kept.yaml", tmp_path / "replaced.yaml", tmp_path / "all.yaml"
    assert record(capsys, sdk(mock), kept)[0] == 0
    assert record(capsys, sdk(mock), replaced, "--replace-user", "alice=svc-ci")[0] == 0
    assert (
        record(capsys, sdk(mock), everyone, "--replace-user", "*=someone", "--replace-user", "bob=b")[0] == 0
    )

    def users(path: Path) -> dict[str, str | None]:
        return {spec.id: spec.reason.user_name for spec in loaded(path).tasks if spec.reason.kind == "user"}

    assert users(kept) == {"task-301": "alice", "task-302": "bob"}
    assert users(replaced) == {"task-301": "svc-ci", "task-302": "bob"}
    assert users(everyone) == {"task-301": "someone", "task-302": "b"}
    assert "alice" not in everyone.read_text() and "alice" not in replaced.read_text()


def test_the_inventory_is_recorded_from_what_the_soap_face_serves(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    mock.backend.inventory.set_power_state("vm-301", "poweredOff")  # as a power-off would
    output = tmp_path / "inventory.yaml"
    status, err = record(capsys, sdk(mock), output, "--inventory", "task-303")
    assert status == 0, err
    assert "inventory of 2 datacenter(s), 4 host(s), 5 VM(s)" in err
    document = yaml.safe_load(output.read_text())["inventory"]
    east = document["datacenters"][0]
    vms = {vm["name"]: vm for cluster in east["clusters"] for host in cluster["hosts"] for vm in host["vms"]}
    assert vms["web-01"] == {
        "name": "web-01",
        "id": "vm-301",
        "power": "poweredOff",
        "folder": "prod/web",
        # what the scenario left to vismock's defaults, read back from config and written out
        "cpu": 1,
        "memory_mb": 1024,
        "disks": [16],
        "nics": ["VM Network"],
        "guest_os": "other3xLinux64Guest",
        "datastore": "ds-fast",
    }
    assert vms["batch-01"]["power"] == "suspended"
    templates = [vm["name"] for vm in vms.values() if vm.get("template")]
    assert templates == ["gold"]  # from config.template, which the SOAP face serves
    assert "does not serve config.template" not in output.read_text()
    assert loaded(output).inventory is not None


@pytest.mark.slow  # follows the scenario's tasks to their end (6 s)
def test_the_password_and_the_session_key_are_written_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "Canary-Pw-8c1e0b7d4f"
    app = create_app(
        {
            "VISMOCK_TASKS": str(SCENARIO),
            "VISMOCK_DB": str(tmp_path / "mock.sqlite3"),
            "VISMOCK_ACCOUNTS": {"operator": canary},
        }
    )
    cookies: list[str] = []
    original_connect = vcenter.connect

    def spying_connect(settings: vcenter.Settings) -> Any:
        manager = original_connect(settings)

        class Spy:
            def __enter__(self) -> vcenter.PyVmomiVCenter:
                opened = manager.__enter__()
                cookies.append(str(opened.stub.cookie))
                return opened

            def __exit__(self, *exc: Any) -> Any:
                return manager.__exit__(*exc)

        return Spy()

    monkeypatch.setattr("vismock.adapter.recording.cli.connect", spying_connect)
    monkeypatch.setenv(PASSWORD_ENV, canary)
    output = tmp_path / "secret.yaml"
    with live_server(app) as server:
        status, err = record(capsys, sdk(server), output, "--inventory", "--follow", user="operator")
    assert status == 0, err
    (cookie,) = cookies
    session_key = cookie.split("=", 1)[1].split(";", 1)[0].strip('"')
    assert len(session_key) >= 16
    text = output.read_text()
    for secret in (canary, session_key):
        assert secret not in text and secret not in err


# -- bad input


def test_an_unknown_task_id_is_named_and_the_others_are_still_written(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "partial.yaml"
    status, err = record(capsys, sdk(mock), output, "task-301", "task-999", "task-303")
    assert status == 1
    assert f"vismock record: task-999: no such task on {sdk(mock)} (ManagedObjectNotFound)" in err
    assert [spec.id for spec in loaded(output).tasks] == ["task-301", "task-303"]
    assert "# Unknown task ids (not recorded): task-999" in output.read_text()


def test_only_unknown_task_ids_write_nothing(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "nothing.yaml"
    status, err = record(capsys, sdk(mock), output, "task-999")
    assert status == 1
    assert "task-999: no such task" in err and "nothing recorded" in err
    assert not output.exists()


def test_a_wrong_password_is_a_clear_error_and_leaves_an_existing_file_alone(
    mock: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-3f9a")
    output = tmp_path / "kept.yaml"
    output.write_text("tasks: []\n")
    status, err = record(capsys, sdk(mock), output)
    assert status == 1
    assert err == (
        "vismock record: Cannot complete login due to an incorrect user name or password; "
        f"nothing recorded, {output} not written\n"
    )
    assert output.read_text() == "tasks: []\n"


def test_an_unreachable_host_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "none.yaml"
    status, err = record(capsys, "http://127.0.0.1:9/sdk", output)
    assert status == 1
    assert err.startswith("vismock record: Cannot reach vCenter at http://127.0.0.1:9/sdk: ")
    assert "nothing recorded" in err and "Traceback" not in err
    assert not output.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--by-polls"], "--by-polls needs --follow"),
        (["-o", "{tmp}/out.toml"], "a recording is YAML; name it .yaml or .yml"),
        (["-o", "{tmp}/missing/out.yaml"], "does not exist"),
        (["--replace-user", "alice"], "--replace-user 'alice': expected OLD=NEW"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str, arguments: list[str], message: str
) -> None:
    from vismock.cli import main

    base = ["record", "--soap-url", "http://127.0.0.1:9/sdk", "--user", USER, "--password-env", PASSWORD_ENV]
    base += ["-o", str(tmp_path / "r.yaml")]
    status = main(base + [argument.format(tmp=tmp_path) for argument in arguments])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("vismock record: ") and message in err and err.count("\n") == 1


def test_soap_url_and_user_are_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vismock.cli import main

    assert main(["record", "-o", str(tmp_path / "r.yaml"), "--user", USER]) == 2
    assert "--soap-url is required" in capsys.readouterr().err
    assert main(["record", "-o", str(tmp_path / "r.yaml"), "--soap-url", "http://h/sdk"]) == 2
    assert "--user is required" in capsys.readouterr().err


def test_no_password_given_says_so_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a password (the default variable unset, no option), it used to log in with an empty
    one and report an incorrect user name or password."""
    from vismock.cli import main

    monkeypatch.delenv("VISMOCK_VCENTER_PASSWORD", raising=False)
    output = tmp_path / "r.yaml"
    assert main(["record", "--soap-url", "http://127.0.0.1:9/sdk", "--user", USER, "-o", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"vismock record: no password given for {USER!r}: set VISMOCK_VCENTER_PASSWORD, or name another "
        "variable with --password-env NAME, or a file with --password-file FILE\n"
    )
    assert not output.exists()


@pytest.mark.slow  # a real `vismock serve`: what its server answers a TLS handshake is the point
def test_a_soap_url_without_a_scheme_on_a_plain_http_server_hints_at_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    # No scheme means https (as the adapter's soap-url); `vismock serve` without --tls speaks HTTP.
    with served() as mock:
        bare = f"127.0.0.1:{mock.port}"
        status, err = record(capsys, bare, tmp_path / "r.yaml", "--timeout", "10")
    assert status == 1
    assert err.startswith(
        f"vismock record: Cannot reach vCenter at https://{bare}/sdk: it does not answer over TLS"
    )
    assert "give an http:// soap-url or --transport http-rpc" in err
    assert err.count("\n") == 1


# -- following


@pytest.mark.parametrize("timeout", ["30", "1"])  # 1: waits of 0 s (a wait must end within the timeout)
def test_following_by_polls_replays_one_change_per_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str, timeout: str
) -> None:
    app = create_app({"VISMOCK_TASKS": str(SCENARIO), "VISMOCK_DB": str(tmp_path / "mock.sqlite3")})
    output = tmp_path / "polls.yaml"
    with live_server(app) as server:
        server.backend.tasks.put(specs_from_dicts(_stepping_task(progression="polls")))
        status, err = record(
            capsys, sdk(server), output, "--follow", "--by-polls", "--timeout", timeout, "task-401"
        )
    assert status == 0, err
    (spec,) = loaded(output).tasks
    assert spec.progression == "polls"
    assert [(step.state, step.at, step.progress) for step in spec.timeline] == [
        ("queued", 0, None),
        ("running", 1, 10),
        ("running", 2, 60),
        ("success", 3, 100),
    ]
    replay_app = create_app({"VISMOCK_TASKS": str(output), "VISMOCK_DB": str(tmp_path / "replay.sqlite3")})
    with live_server(replay_app) as replay:
        reads = [adapter_infos(replay.url, ["task-401"])["task-401"] for _ in range(5)]
    assert [(info["state"], info.get("progress")) for info in reads] == [
        ("queued", None),
        ("running", 10),
        ("running", 60),
        ("success", 100),
        ("success", 100),
    ]


def _stepping_task(progression: str = "time", step_seconds: float = 1.0) -> dict[str, Any]:
    at = 1 if progression == "polls" else step_seconds
    return {
        "id": "task-401",
        "name": "RelocateVM_Task",
        "entity": {"type": "VirtualMachine", "id": "vm-301", "name": "web-01"},
        "progression": progression,
        "cancelable": True,
        "timeline": [
            {"state": "queued", "at": 0},
            {"state": "running", "at": at, "progress": 10},
            {"state": "running", "at": 2 * at, "progress": 60},
            {"state": "success", "at": 3 * at, "progress": 100},
        ],
    }


def test_a_connection_lost_while_following_still_writes_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    app = create_app({"VISMOCK_TASKS": str(SCENARIO), "VISMOCK_DB": str(tmp_path / "mock.sqlite3")})
    output = tmp_path / "lost.yaml"
    result: dict[str, Any] = {}
    with live_server(app) as server:
        server.backend.tasks.put(specs_from_dicts(_stepping_task(step_seconds=60)))

        def recorder() -> None:
            result["status"], result["err"] = record(
                capsys, sdk(server), output, "--follow", "--timeout", "5", "task-401"
            )

        thread = threading.Thread(target=recorder)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.backend.journal.count(operation="CreateFilter"):  # following: queued for a minute
            assert time.monotonic() < deadline and thread.is_alive(), "the recorder never started following"
            time.sleep(0.02)
    thread.join(timeout=30)  # the server is gone
    assert not thread.is_alive()
    assert result["status"] == 1
    assert "stopped early: Cannot reach vCenter" in result["err"] or "did not answer" in result["err"]
    (spec,) = loaded(output).tasks
    assert [step.state for step in spec.timeline] == ["queued"]
    assert "# still queued when the recording stopped (written as last seen)" in output.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_follow_writes_what_was_recorded(tmp_path: Path, signum: int) -> None:
    """Ctrl-C (SIGINT), or SIGTERM, during --follow: exit 1, the file written and valid, the
    task as it was last seen. Also on a terminal: the progress line."""
    app = create_app({"VISMOCK_TASKS": str(SCENARIO), "VISMOCK_DB": str(tmp_path / "mock.sqlite3")})
    output = tmp_path / "interrupted.yaml"
    with live_server(app) as server:
        # task-401 moves on with the recorder's own reads (however long the command takes to start),
        # task-402 stays queued for ten minutes.
        server.backend.tasks.put(specs_from_dicts(_stepping_task(progression="polls")))
        server.backend.tasks.put(specs_from_dicts({**_stepping_task(step_seconds=600), "id": "task-402"}))
        process, terminal = _record_on_a_terminal(sdk(server), output, "--follow", "task-401", "task-402")
        screen = _read_until(terminal, "1 done", deadline_seconds=20)
        process.send_signal(signum)
        screen += _read_until(terminal, None, deadline_seconds=20)
        status = process.wait(timeout=20)
    assert status == 1, screen
    assert "following 2 task(s): 0 done" in screen and "elapsed" in screen
    assert "\rfollowing 2 task(s): 1 done" in screen
    assert "vismock record: interrupted after" in screen and f"wrote {output}" in screen
    specs = {spec.id: spec for spec in loaded(output).tasks}
    assert [step.state for step in specs["task-401"].timeline] == ["queued", "running", "running", "success"]
    assert [step.state for step in specs["task-402"].timeline] == ["queued"]
    assert "# still queued when the recording stopped" in output.read_text()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temp file


def _record_on_a_terminal(soap_url: str, output: Path, *options: str) -> tuple[subprocess.Popen[bytes], int]:
    """``vismock record`` in a subprocess whose stderr is a pseudo-terminal: (process, its master)."""
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "vismock", "record", "--soap-url", soap_url, "--user", USER]
    process = subprocess.Popen(
        [*command, "--password-env", PASSWORD_ENV, "-o", str(output), *options],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, PASSWORD_ENV: PASSWORD},
    )
    os.close(slave)
    return process, master


def _read_until(master: int, marker: str | None, deadline_seconds: float) -> str:
    """What the terminal showed until *marker* (None: until the process closed it)."""
    seen = ""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and (marker is None or marker not in seen):
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the process ended: the terminal is closed
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


# -- https


@pytest.fixture
def tls_url(mock: LiveServer, tmp_path: Path) -> Iterator[str]:
    """The same mock over https with a self-signed certificate."""
    cert, key = self_signed_certificate(tmp_path, name="x")
    https = make_server("127.0.0.1", 0, mock.app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=https.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{https.server_port}/sdk"
    https.shutdown()
    thread.join()


def test_https_with_a_self_signed_certificate_needs_insecure(
    tls_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    output = tmp_path / "tls.yaml"
    status, err = record(capsys, tls_url, output, "task-303")
    assert status == 1 and "accept a self-signed certificate with --insecure" in err
    status, err = record(capsys, tls_url, output, "task-303", "--insecure")
    assert status == 0, err
    assert f"from {tls_url} (" in output.read_text()
