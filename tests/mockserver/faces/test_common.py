"""The one path of a face request: a store failure gives the face's own error and a journal entry,
on the fast path and through Flask's views alike (tests/mockserver/test_fastpath.py checks that the
two give the same bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import vismock.codec as codec
from tests.support import DATA, wire
from tests.support.soap import call_xml, logged_in, post
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.vim25.check import envelope_errors

SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()
POWER_OFF = call_xml("PowerOffVM_Task", "VirtualMachine", "vm-601")


@pytest.fixture(params=[True, False], ids=["fast path", "Flask views"])
def app_on_either_path(request: pytest.FixtureRequest, tmp_path: Path) -> Flask:
    return create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_FAST_PATH": request.param})


def broken_store(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(services_of(app).backend.tasks, "read", explode)


def test_a_store_failure_on_the_adapter_face_is_a_system_error_envelope_and_journaled(
    app_on_either_path: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_on_either_path
    broken_store(app, monkeypatch)
    response = app.test_client().post("/adapter", data=SEED_REQUEST, content_type="text/xml")
    assert response.status_code == 200  # never a 500 on the adapter face
    metadata = codec.decode(response.data)["metadata"]
    assert (metadata["status"], metadata["fault"]) == ("error", "SystemError")
    (entry,) = services_of(app).backend.journal.entries(face="adapter")
    assert (entry.operation, entry.task_ids, entry.outcome) == (
        "Retrieve_Task_Status",
        ("task-525",),
        "SystemError",
    )
    assert "the disk is on fire" in caplog.text  # the cause is logged, never answered
    assert b"fire" not in response.data


def test_a_store_failure_on_the_soap_face_is_a_system_error_fault_and_journaled(
    app_on_either_path: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_on_either_path
    client = app.test_client()
    logged_in(client)
    backend = services_of(app).backend
    store = backend.registry.store
    assert store is not None

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("the disk is on fire")

    monkeypatch.setattr(store, "write", explode)  # the --db write of the task the call starts
    response = post(client, POWER_OFF)
    assert response.status_code == 500 and wire.fault_type_of(response.data) == "SystemError"
    assert envelope_errors(response.data) == []
    assert "the disk is on fire" in caplog.text and b"fire" not in response.data
    entries = backend.journal.entries(face="soap")
    assert (entries[-1].operation, entries[-1].outcome) == ("PowerOffVM_Task", "SystemError")
    assert backend.inventory.power("vm-601").recent == ()  # nothing acknowledged, nothing kept
