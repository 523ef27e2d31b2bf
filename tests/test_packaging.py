"""The package imports, with its XSDs, from a built wheel as well as from this checkout."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_REQUEST = ROOT / "tests" / "data" / "seed" / "request.xml"
XML_TYPE = {"Content-Type": "text/xml"}
PROBE = """
import sys, vismock, vismock.codec, vismock.mockserver, vismock.adapter, vismock.schemas
assert vismock.__file__.startswith(sys.argv[1]), vismock.__file__
assert vismock.codec.__file__.startswith(sys.argv[1]), vismock.codec.__file__
names = sorted(p.name for p in vismock.schemas.schema_directory().iterdir())
assert "retrieve-task-status.xsd" in names and "catalog.toml" in names, names
print(vismock.codec.decode(sys.stdin.buffer.read())["metadata"]["status"])
"""


def test_wheel_contains_namespaced_packages_and_schemas(tmp_path: Path, built_wheel: Path) -> None:
    wheel = built_wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "vismock/schemas/retrieve-task-status.xsd" in names
    assert "vismock/codec/core.py" in names
    assert not any(name.startswith(("codec/", "mockserver/", "schemas/")) for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(site)],
        input=(ROOT / "tests/data/seed/response.xml").read_bytes(),
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        check=False,
    )
    assert probe.returncode == 0, probe.stderr.decode()
    assert probe.stdout.decode().strip() == "success"


IMPORT_EVERY_MODULE = """
import importlib, pkgutil, vismock
skipped = {"vismock.__main__", "vismock.testing", "vismock.mockserver.pytest_plugin"}  # runs; extras
for module in pkgutil.walk_packages(vismock.__path__, "vismock."):
    if not any(module.name == name or module.name.startswith(name + ".") for name in skipped):
        importlib.import_module(module.name)
try:
    import vismock.testing
except ImportError as error:
    print(error)
"""


@pytest.mark.slow
def test_a_new_venv_with_only_the_core_install_serves_and_runs_the_operation(tmp_path: Path) -> None:
    """The README's first command on a machine with nothing installed by hand: the core install
    alone (no test extra to hide a missing dependency) serves the seed request, and the
    operation command reads the seed's task from it over SOAP with pyVmomi."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, vismock = venv / "bin" / "python", venv / "bin" / "vismock"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True, check=False
    )
    assert install.returncode == 0, install.stderr
    imports = subprocess.run([str(python), "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True)
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout == (
        "vismock.testing needs hypothesis, which is not installed: pip install 'vismock[testing]'\n"
    )
    server = subprocess.Popen(
        [str(vismock), "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        port = _served_port(server)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/adapter", data=SEED_REQUEST.read_bytes(), headers=XML_TYPE
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert b"<status>success</status>" in answer.read()
        operation = subprocess.run(
            [str(vismock), "retrieve-task-status", str(SEED_REQUEST), "--soap-url",
             f"http://127.0.0.1:{port}/sdk", "--user", "vismock", "--password-env", "VIS_PASSWORD"],
            capture_output=True,
            env={**os.environ, "VIS_PASSWORD": "vismock"},
            timeout=60,
        )  # fmt: skip
        assert operation.returncode == 0, operation.stderr.decode()
        assert b"<key>task-525</key>" in operation.stdout and b"<status>success</status>" in operation.stdout
    finally:
        server.terminate()
        server.wait(timeout=20)
    _hints_work_on_a_checkout_install(python)


def _hints_work_on_a_checkout_install(python: Path) -> None:
    """vismock here came from a checkout, not a package index: the install hints vismock prints
    still work (pip adds what the installed vismock lacks, without looking for vismock itself)."""
    message = subprocess.run([str(python), "-c", "import vismock.testing"], capture_output=True, text=True)
    assert message.returncode == 1 and "pip install 'vismock[testing]'" in message.stderr, message.stderr
    _follow(python, "pip install 'vismock[testing]'")
    imported = subprocess.run([str(python), "-c", "import vismock.testing"], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    # A core dependency missing (an install with --no-deps, or one removed by hand):
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "waitress"], check=True)
    refused = subprocess.run(
        [str(python), "-m", "vismock", "serve", "--server", "waitress"], capture_output=True, text=True
    )
    assert refused.stderr == (
        "vismock serve: --server waitress needs waitress, which is not installed: pip install vismock\n"
    )
    _follow(python, "pip install vismock")
    subprocess.run([str(python), "-c", "import waitress"], check=True)


def _follow(python: Path, hint: str) -> None:
    """Run *hint* (``pip install ...``) with the venv's own pip."""
    arguments = shlex.split(hint)
    assert arguments[:2] == ["pip", "install"], hint
    done = subprocess.run([str(python), "-m", *arguments, "-q"], capture_output=True, text=True)
    assert done.returncode == 0, f"{hint}: {done.stderr}"


def _served_port(server: subprocess.Popen[str]) -> int:
    assert server.stdout is not None
    output = []
    for line in server.stdout:
        output.append(line)
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = int(found[1])
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    return port
                time.sleep(0.1)
    raise AssertionError("vismock serve did not start:\n" + "".join(output))
