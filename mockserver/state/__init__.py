"""The mock vCenter's state: one process owns it, in memory (see :mod:`.registry`), written through
to SQLite with ``--db`` (see :mod:`.store`).

:class:`Backend` builds it from a scenario and is what the faces, the admin API, the dashboard and
the pytest plugin use. The vim25 managed objects themselves (one module per type, with their
methods) are in :mod:`vismock.mockserver.objects`. The state imports nothing from the faces:
handlers call it and render what it returns.
"""

from __future__ import annotations

from vismock.mockserver.state.behaviour import Behaviour, Override
from vismock.mockserver.state.models import Entity, FaultRule, JournalEntry, Reason, Step, TaskSpec

from vismock.mockserver.state.backend import Backend  # isort: skip  (imports the objects, which import the parts above)

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
