"""Lint and type checks run as part of the suite so they stay clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folder -> the package it installs as (pyproject's package-dir mapping).
PACKAGE_DIRS = {
    "vismock": ROOT / "src" / "vismock",
    "vismock/schemas": ROOT / "schemas",
    "vismock/codec": ROOT / "codec",
    "vismock/mockserver": ROOT / "mockserver",
    "vismock/adapter": ROOT / "adapter",
    "vismock/testing": ROOT / "testing",
}


def _run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


# The test environment's own ruff and mypy (the test extra pins them), run as modules of this Python:
# never skipped, never whichever one PATH happens to find.


def test_ruff_check_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _installed_layout(target: Path) -> Path:
    """Symlinks laying the folders out as installed, since mypy cannot follow import hooks: the
    root package's modules, and each mapped folder (subpackages included) where it installs."""
    root = target / "vismock"
    root.mkdir(parents=True)
    for package, source in PACKAGE_DIRS.items():
        if package == "vismock":
            for item in source.glob("*.py"):
                (root / item.name).symlink_to(item)
        else:
            (target / package).symlink_to(source, target_is_directory=True)
    return target


@pytest.mark.slow
def test_mypy_strict_on_the_package(tmp_path: Path) -> None:
    layout = _installed_layout(tmp_path / "layout")
    result = _run(
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "-p",
        "vismock",
        cwd=layout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
