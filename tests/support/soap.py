"""Shared helpers of the SOAP face tests (no tests here): apps over tests/data/soap/tasks.yaml
with the clock frozen at T0, a live server on a real socket, and SOAP envelopes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from waitress.server import create_server

from tests.support import DATA
from tests.support import wire as vim25
from vismock.mockserver.app import create_app
from vismock.mockserver.cli import run_waitress_until
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend
from vismock.mockserver.vim25.check import envelope_errors

SOAP_DATA = DATA / "soap"
TASKS_FILE = SOAP_DATA / "tasks.yaml"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
USER, PASSWORD = "vismock", "vismock"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:vim25/8.0.3.0"'}


def make_app(**config: Any) -> Flask:
    """A mock over the SOAP test tasks, its clock frozen at T0."""
    app = create_app({"VISMOCK_TASKS": str(TASKS_FILE), **config})
    backend_of(app).freeze(T0)
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
    """The response is a SOAP envelope whose payload the vim25 model finds nothing wrong with."""
    assert envelope_errors(body) == [], body.decode()


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
    """*app* served by waitress on a free port of 127.0.0.1, in a thread (stopped from that thread:
    closing waitress's sockets from another one races its loop)."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    stop = threading.Event()
    thread = threading.Thread(target=run_waitress_until, args=(server, stop, 0.05), daemon=True)
    thread.start()
    try:
        yield LiveServer(app, backend_of(app), "127.0.0.1", int(server.effective_port))  # type: ignore[union-attr]
    finally:
        stop.set()
        thread.join(timeout=5)


NS = {"v": "urn:vim25", "s": vim25.SOAPENV, "xsi": vim25.XSI}


def xpath(body: bytes, path: str) -> list[Any]:
    found = etree.fromstring(body).xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return found


def call_ok(client: FlaskClient, method: str, this_type: str, this: str, args: str = "") -> bytes:
    """*method* answered without a fault, the answer valid by the vim25 model."""
    response = post(client, call_xml(method, this_type, this, args))
    assert response.status_code == 200, response.data.decode()
    assert_valid(response.data)
    return bytes(response.data)


def call_fault(client: FlaskClient, method: str, this_type: str, this: str, args: str = "") -> str:
    """The fault type *method* answers (the answer valid by the vim25 model)."""
    response = post(client, call_xml(method, this_type, this, args))
    assert response.status_code == 500, response.data.decode()
    assert_valid(response.data)
    fault = vim25.fault_type_of(response.data)
    assert fault is not None
    return fault


def retrieve(client: FlaskClient, spec: str, collector: str = "propertyCollector") -> bytes:
    """RetrieveProperties of one PropertyFilterSpec (its content: propSet and objectSet elements)."""
    return call_ok(client, "RetrieveProperties", "PropertyCollector", collector, f"<specSet>{spec}</specSet>")


def object_spec(mo_type: str, value: str, select: str = "", skip: bool = False) -> str:
    return (
        f'<objectSet><obj type="{mo_type}">{value}</obj><skip>{str(skip).lower()}</skip>{select}</objectSet>'
    )


def prop_spec(mo_type: str, *paths: str, all_: bool = False) -> str:
    inner = "<all>true</all>" if all_ else "".join(f"<pathSet>{path}</pathSet>" for path in paths)
    return f"<propSet><type>{mo_type}</type>{inner}</propSet>"


def traversal(mo_type: str, path: str, *select: str, name: str = "", skip: bool = False) -> str:
    """A TraversalSpec, written as govmomi writes it (its own prefix for the XML Schema instance)."""
    named = f"<name>{name}</name>" if name else ""
    return (
        '<selectSet xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" '
        f'XMLSchema-instance:type="TraversalSpec">{named}<type>{mo_type}</type><path>{path}</path>'
        f"<skip>{str(skip).lower()}</skip>{''.join(select)}</selectSet>"
    )


def selection(name: str) -> str:
    return (
        '<selectSet xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" '
        f'XMLSchema-instance:type="SelectionSpec"><name>{name}</name></selectSet>'
    )


def value_of(val: Any) -> Any:
    """A ``val``: "Type:id" for a reference, a list for an array, text, or the element of a data object."""
    xsi_type = val.get(f"{{{vim25.XSI}}}type") or ""
    if xsi_type == "ManagedObjectReference":
        return f"{val.get('type')}:{val.text}"
    if xsi_type == "ArrayOfManagedObjectReference":
        return [f"{ref.get('type')}:{ref.text}" for ref in val]
    if xsi_type.startswith("ArrayOf"):
        return [item.text if len(item) == 0 else item for item in val]
    return val.text if len(val) == 0 else val


def contents(body: bytes) -> dict[str, dict[str, Any]]:
    """RetrieveProperties' answer as {"Type:id": {path: value text, or a list of "Type:id"}}."""
    found: dict[str, dict[str, Any]] = {}
    for content in xpath(body, "//v:returnval[v:obj] | //v:objects"):
        obj = content.find("v:obj", NS)
        props: dict[str, Any] = {}
        for prop in content.findall("v:propSet", NS):
            props[prop.findtext("v:name", namespaces=NS)] = value_of(prop.find("v:val", NS))
        for missing in content.findall("v:missingSet", NS):
            fault = missing.find("v:fault/v:fault", NS)
            props[missing.findtext("v:path", namespaces=NS)] = ("missing", fault.get(f"{{{vim25.XSI}}}type"))
        found[f"{obj.get('type')}:{obj.text}"] = props
    return found


def pending_waits(backend: Backend) -> set[str]:
    """The WaitForUpdates(Ex) calls blocked waiting for a change now, in any session (their ids)."""
    return backend.pending_waits()


def clock_moves_later(backend: Backend, *seconds: float, timeout: float = 10.0) -> threading.Thread:
    """Advance *backend*'s (frozen) clock by each of *seconds* in turn, from another thread, each
    once a waiter (pyVim's WaitForTask, a WaitForUpdatesEx) has blocked again: so the waiter sees
    every step. A waiter that never blocks (it saw the change at its first look) gets the step after
    *timeout* seconds anyway."""

    def run() -> None:
        seen: set[str] = set()
        for step in seconds:
            deadline = time.monotonic() + timeout
            while not pending_waits(backend) - seen and time.monotonic() < deadline:
                time.sleep(0.01)
            seen |= pending_waits(backend)
            backend.advance(step)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
