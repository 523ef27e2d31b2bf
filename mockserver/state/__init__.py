"""The mock vCenter's state: one process owns it, in memory (see :mod:`.registry`), written through
to SQLite with ``--db`` (see :mod:`.store`).

:class:`Backend` builds it from a scenario and is what the faces, the admin API, the dashboard and
the pytest plugin use. The vim25 managed objects themselves (one module per type, with their
methods) are in :mod:`vismock.mockserver.objects`. The state imports nothing from the faces:
handlers call it and render what it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vismock.mockserver.state.behaviour import Behaviour, Override
from vismock.mockserver.state.models import Entity, FaultRule, JournalEntry, Reason, Step, TaskSpec

if TYPE_CHECKING:
    from vismock.mockserver.state.backend import Backend


def __getattr__(name: str) -> Any:
    """``Backend``, imported when first asked for: it imports the managed objects' modules, which
    import this package's parts, so importing it here would make the import order matter (a
    program importing ``vismock.mockserver.objects`` first would fail on a circular import)."""
    if name == "Backend":
        from vismock.mockserver.state.backend import Backend

        return Backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Backend",
    "Behaviour",
    "Entity",
    "FaultRule",
    "JournalEntry",
    "Override",
    "Reason",
    "Step",
    "TaskSpec",
]
