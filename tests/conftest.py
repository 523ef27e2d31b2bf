"""Shared fixtures. Each area adds only its own fixtures here."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings

from tests.support import DATA, ROOT
from tests.support.client import Vcenter, flask_transport
from tests.support.hostile import load_documents
from tests.support.soap import PASSWORD, T0, USER, LiveServer, live_server, make_app
from tests.support.tools import Govc, Target, govc_binary, mock_target, sim_target
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend

# CI (CI set, as .ci/run does) replays the same examples every run and writes no example database
# into the checkout; local runs keep exploring and remember what failed (.hypothesis/, ignored).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("VISMOCK_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# -- codec ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_request() -> bytes:
    """The seed's request sample (root tag restored)."""
    return (DATA / "seed" / "request.xml").read_bytes()


@pytest.fixture(scope="session")
def seed_response() -> bytes:
    """The seed's response sample (root tag restored)."""
    return (DATA / "seed" / "response.xml").read_bytes()


# -- the mock, in process --------------------------------------------------------------------


@pytest.fixture
def mock_config() -> dict[str, Any]:
    """Override in a module to configure ``app`` (create_app keys)."""
    return {}


@pytest.fixture
def app(tmp_path: Path, mock_config: dict[str, Any]) -> Flask:
    """A mock vCenter over its own state file (the built-in tasks unless configured)."""
    return create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), **mock_config})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def backend(app: Flask) -> Backend:
    return services_of(app).backend


# -- the mock as its clients see it (tests/support/client.py: the rule tests) ----------------------


@pytest.fixture
def vcenter(app: Flask) -> Vcenter:
    """``app`` (configured by ``mock_config``) through HTTP only, its clock frozen at 2030-01-01."""
    mock = Vcenter(flask_transport(app))
    mock.freeze()
    return mock


@pytest.fixture
def make_vcenter(tmp_path: Path) -> Callable[..., Vcenter]:
    """Another mock, ``create_app(config)`` over a state file of its own, through HTTP only, its
    clock frozen at 2030-01-01: ``make_vcenter(VISMOCK_SESSION_LIFETIME=60)``."""
    made = 0

    def make(**config: Any) -> Vcenter:
        nonlocal made
        made += 1
        app = create_app({"VISMOCK_DB": str(tmp_path / f"vcenter-{made}.sqlite3"), **config})
        mock = Vcenter(flask_transport(app))
        mock.freeze()
        return mock

    return make


# -- hostile input ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canary() -> Iterator[Any]:
    """An HTTP server that records every request: hostile documents must never reach it."""
    server = load_documents().Canary()
    yield server
    server.close()


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(file:// URL, marker): a local file whose content must never show up anywhere."""
    marker = f"VISMOCK-SECRET-{uuid.uuid4().hex}"
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(marker)
    return path.as_uri(), marker


# -- govc against the mock and the reference simulator (tests/support/tools.py) ---------------------


@pytest.fixture(scope="module")
def govc_mock() -> Iterator[Target]:
    """``vismock serve`` (granian, the built-in scenario) for govc, one per module."""
    govc_binary()  # skip (or, in CI, fail) before starting anything
    with mock_target() as target:
        yield target


@pytest.fixture(scope="module")
def govc_sim() -> Iterator[Target]:
    """The reference simulator for govc, one per module (it keeps whatever a test changes)."""
    govc_binary()
    with sim_target() as target:
        yield target


@pytest.fixture(params=["vismock", "vcsim"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each of the two, the mock reset first."""
    found: Target = request.getfixturevalue("govc_mock" if request.param == "vismock" else "govc_sim")
    found.reset()
    return found


@pytest.fixture
def govc(target: Target, tmp_path: Path) -> Govc:
    """govc pointed at *target*, with a session cache of its own."""
    return target.govc(tmp_path / "govmomi")


# -- a live mock (a real HTTP server in a thread) for pyVmomi, one per module ------------------------


@pytest.fixture(scope="module")
def live_mock() -> Iterator[LiveServer]:
    with live_server(make_app()) as running:
        yield running


@pytest.fixture
def live(live_mock: LiveServer) -> LiveServer:
    """The module's live mock, reset, its clock frozen at T0."""
    live_mock.backend.reset()
    live_mock.backend.freeze(T0)
    return live_mock


@pytest.fixture
def si(live: LiveServer) -> Iterator[Any]:
    """A pyVmomi ServiceInstance logged in to *live*."""
    from pyVim.connect import Disconnect, SmartConnect

    service_instance = SmartConnect(protocol="http", host=live.host, port=live.port, user=USER, pwd=PASSWORD)
    yield service_instance
    Disconnect(service_instance)
    service_instance._stub.DropConnections()  # no keep-alive socket left for the closing server


# -- the package as a wheel ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel, once per session (every test that inspects it shares it)."""
    wheel_dir = tmp_path_factory.mktemp("wheel")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    build = subprocess.run(
        [*pip_wheel, "-w", str(wheel_dir), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("vismock-*.whl")
    return wheel
