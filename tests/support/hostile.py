"""The hostile documents (tests/data/hostile/documents.py builds them; tests/data is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support import DATA

HOSTILE = DATA / "hostile"
PASSWD_MARKER = "root:x:0:0"  # what /etc/passwd would show if an entity were ever resolved


def load_documents() -> ModuleType:
    name = "vismock_hostile_documents"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HOSTILE / "documents.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
