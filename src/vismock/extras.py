"""Optional dependencies: import them, or say in one line which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from vismock.errors import VismockError


class MissingDependency(VismockError, ImportError):
    """A package a feature needs is not installed; the message says how to install it.

    An ImportError too, so code that tests for an optional import catches it as usual."""


def require(module: str, *, extra: str | None, feature: str) -> ModuleType:
    """*module*, imported; MissingDependency naming the extra (or the core install) when it is absent.

    *extra* None: a core dependency that an install without dependencies (``--no-deps``) may lack.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        # Both work where vismock is installed from a checkout too: pip takes the installed vismock
        # and adds what it lacks (--force-reinstall would look for vismock on a package index).
        how = f"pip install 'vismock[{extra}]'" if extra else "pip install vismock"
        raise MissingDependency(f"{feature} needs {package}, which is not installed: {how}") from None
