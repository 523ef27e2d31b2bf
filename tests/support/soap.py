"""Shared helpers of the SOAP face tests (no tests here): apps over tests/data/soap/tasks.yaml
with the clock frozen at T0, a live server on a real socket, and SOAP envelopes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from waitress.server import create_server

from tests.support import DATA
from vismock.mockserver.app import create_app
from vismock.mockserver.faces.soap import wire as vim25
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend

SOAP_DATA = DATA / "soap"
TASKS_FILE = SOAP_DATA / "tasks.yaml"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
USER, PASSWORD = "vismock", "vismock"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:vim25/8.0.3.0"'}


def make_app(**config: Any) -> Flask:
    """A mock over the SOAP test tasks, its clock frozen at T0."""
    app = create_app({"VISMOCK_TASKS": str(TASKS_FILE), **config})
    backend_of(app).clock.freeze(T0)
    return app


def backend_of(app: Flask) -> Backend:
    backend: Backend = services_of(app).backend
    return backend


def envelope(call: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def call_xml(method: str, this_type: str, this: str, args: str = "") -> bytes:
    return envelope(f'<{method} xmlns="urn:vim25"><_this type="{this_type}">{this}</_this>{args}</{method}>')


def login_body(user: str = USER, password: str = PASSWORD) -> bytes:
    return call_xml(
        "Login",
        "SessionManager",
        "SessionManager",
        f"<userName>{user}</userName><password>{password}</password>",
    )


def post(client: FlaskClient, body: bytes, path: str = "/sdk") -> Any:
    return client.post(path, data=body, headers=SOAP_HEADERS)


def logged_in(client: FlaskClient) -> FlaskClient:
    response = post(client, login_body())
    assert response.status_code == 200, response.data
    return client


def assert_valid(body: bytes) -> None:
    """The response validates against the trimmed vim25 XSD (and is a well-formed SOAP envelope)."""
    assert vim25.payload_errors(body) == [], body.decode()


@dataclass
class LiveServer:
    app: Flask
    backend: Backend
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def live_server(app: Flask, threads: int = 16) -> Iterator[LiveServer]:
    """*app* served by waitress on a free port of 127.0.0.1, in a thread."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, backend_of(app), "127.0.0.1", int(server.effective_port))  # type: ignore[union-attr]
    finally:
        server.close()
        # Keep-alive client connections would keep waitress's loop running: close them too.
        for channel in list(server._map.values()):  # type: ignore[union-attr]
            channel.close()
        thread.join(timeout=5)


def clock_moves_later(backend: Backend, *seconds: float, pause: float = 0.15) -> threading.Thread:
    """Advance *backend*'s (frozen) clock by each of *seconds* in turn from another thread, while
    the caller blocks on a waiter (pyVim's WaitForTask)."""

    def run() -> None:
        for step in seconds:
            threading.Event().wait(pause)
            backend.clock.advance(step)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
