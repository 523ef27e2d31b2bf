"""Load: 32 clients for 20 seconds against a real `vismock serve` (one process, threads), mixing both faces,
admin writes and journal reads. Zero unexpected answers, every answer valid against its schema, every
client reads back exactly its own tasks at their latest version, and the journal stays at its cap.

The driver is tests/support/load.py; bench/soak.py runs it for 10 minutes, with memory reports.
Nothing here asserts speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import load

CLIENTS = 32
SECONDS = 20.0
JOURNAL_CAP = 2_000

pytestmark = pytest.mark.slow  # a real `vismock serve` in a subprocess


@pytest.mark.timeout(180)
def test_32_clients_for_20_seconds_mixing_both_faces_admin_and_journal(tmp_path: Path) -> None:
    server = load.Server(tmp_path, journal_cap=JOURNAL_CAP)
    try:
        result = load.run_load(server, clients=CLIENTS, seconds=SECONDS, interval=SECONDS)
    finally:
        server.stop()
    assert result.errors == 0, "\n".join(result.first_errors)
    # Every kind of request really happened, from every client (each did its setup and more).
    assert set(result.by_operation) == {
        "adapter",
        "soap_fetch",
        "soap_retrieve",
        "admin_write",
        "journal",
        "soap_login",
    }
    assert result.by_operation["soap_login"] == CLIENTS
    assert result.requests > CLIENTS * 20
    assert result.journal_entries == JOURNAL_CAP  # far more requests than that: the cap held
    assert "Traceback" not in server.log.read_text()


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_serving_many_distinct_task_infos_keeps_memory_flat(tmp_path: Path) -> None:
    """What thousands of admin writes, each followed by a read, leave behind: the remembered
    answers and the model's caches are bounded (the journal is capped small here)."""
    from tests.support.client import Vcenter, flask_transport
    from vismock.mockserver.app import create_app

    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_JOURNAL_CAP": 100})
    vcenter = Vcenter(flask_transport(app))
    soap = vcenter.soap()

    def serve(count: int, offset: int) -> None:
        for index in range(offset, offset + count):
            vcenter.add_task(
                "task-77", entity={"type": "VirtualMachine", "id": "vm-77", "name": f"v-{index}"}
            )
            assert soap.task("task-77").entity_name == f"v-{index}"

    serve(300, 0)  # warm up
    before = resident_mb()
    serve(1500, 300)
    assert resident_mb() - before < 2  # measured: under 0.1 MiB; a leak of 1.4 KiB a write fails
