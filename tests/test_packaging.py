"""The package imports, with its XSDs, from a built wheel as well as from this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys, vismock, vismock.codec, vismock.mockserver, vismock.adapter, vismock.schemas
assert vismock.__file__.startswith(sys.argv[1]), vismock.__file__
assert vismock.codec.__file__.startswith(sys.argv[1]), vismock.codec.__file__
names = sorted(p.name for p in vismock.schemas.schema_directory().iterdir())
assert "retrieve-task-status.xsd" in names and "catalog.toml" in names, names
print(vismock.codec.decode(sys.stdin.buffer.read())["metadata"]["status"])
"""


def test_wheel_contains_namespaced_packages_and_schemas(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("vismock-*.whl")
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
