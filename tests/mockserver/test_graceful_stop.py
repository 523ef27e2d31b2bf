"""A clean stop of ``vismock serve``'s granian server logs no forced kill (issue 20, item 3).

granian reaps each worker process from two threads: its watcher thread joins the worker for as long
as it lives, and the stop joins it with a timeout. When the watcher reaps it first, the stopping
thread's ``Process.is_alive()`` still says True for a moment, and granian logged "Killing worker-1
after it refused to gracefully stop" about 10 ms after a clean stop. These tests put a worker in
exactly that state (exited, reaped behind its ``Process`` object's back) instead of waiting for the
race: granian's own server logs the forced kill, vismock's does not.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from granian.constants import Interfaces
from granian.server import MPServer

from vismock.mockserver.cli import (
    APP_FACTORY,
    WORKERS_KILL_SECONDS,
    granian_server_class,
    worker_process_alive,
)

ROOT = Path(__file__).resolve().parents[2]
REFUSED = "refused to gracefully stop"


def exit_at_once(*_arguments: Any) -> None:
    """A worker's target that stops as soon as it starts."""


def reaped_behind_its_back(process: multiprocessing.process.BaseProcess) -> None:
    """Start *process*, let it exit and reap it as granian's watcher thread does, without
    *process* recording its exit status (the state the stopping thread meets in the race)."""
    process.start()
    assert process.pid is not None
    os.waitpid(process.pid, 0)


def stop_a_reaped_worker(which: str) -> list[str]:
    """What granian logs while the server class *which* ("granian" or "vismock") stops one worker
    that already exited: run in a fresh interpreter, as granian configures logging globally."""
    result = subprocess.run(
        [sys.executable, "-c", f"from {__name__} import main; main({which!r})"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def main(which: str) -> None:
    server_class = MPServer if which == "granian" else granian_server_class()
    server = server_class(APP_FACTORY, interface=Interfaces.WSGI, workers_kill_timeout=WORKERS_KILL_SECONDS)
    server._sso = None  # the listening socket workers inherit: none here
    worker = server._spawn_worker(0, target=exit_at_once, callback_loader=None)
    reaped_behind_its_back(worker.inner)
    server.wrks = [worker]
    server._stop_workers()  # granian logs to stdout


def test_granian_alone_reports_a_reaped_worker_as_refusing_to_stop() -> None:
    # The premise: without vismock's server class, this state gives the false warning.
    assert any(REFUSED in line for line in stop_a_reaped_worker("granian"))


def test_vismock_serve_stops_a_reaped_worker_without_killing_it() -> None:
    lines = stop_a_reaped_worker("vismock")
    assert not any(REFUSED in line for line in lines), lines
    assert "[INFO] Stopped worker-1" in lines


def test_a_process_reaped_by_another_thread_is_not_alive() -> None:
    process = multiprocessing.get_context("fork").Process(target=exit_at_once)
    reaped_behind_its_back(process)
    assert process.is_alive()  # what multiprocessing says until its exit status is recorded
    assert not worker_process_alive(process)


def test_a_running_process_is_alive() -> None:
    ready = multiprocessing.get_context("fork").Event()
    process = multiprocessing.get_context("fork").Process(target=ready.wait, args=(30,))
    process.start()
    try:
        assert worker_process_alive(process)
    finally:
        ready.set()
        process.join(10)
    assert not worker_process_alive(process)
