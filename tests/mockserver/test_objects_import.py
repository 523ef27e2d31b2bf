"""The managed types' modules import first, in a fresh interpreter: the state package and the
objects import each other, so importing an object's module before the state must not start the
cycle in its middle (it did: ImportError from a partially initialized module)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# The package, what every type's module imports, and a type's module (each run costs a fresh
# interpreter: about two seconds).
MODULES = ["vismock.mockserver.objects", "vismock.mockserver.objects.base", "vismock.mockserver.objects.task"]


@pytest.mark.parametrize("module", MODULES)
def test_an_object_module_imports_first(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-600:]
