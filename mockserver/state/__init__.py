"""The mock vCenter's state, shared by every worker process through one SQLite file (WAL mode).

:class:`Backend` is a small facade over the parts, each owning its tables, their schema and its
``reset``:

* :attr:`Backend.clock` (:mod:`.clock`): the mock's time;
* :attr:`Backend.tasks` (:mod:`.tasks`): task definitions and lifecycles, the loaded set;
* :attr:`Backend.sessions` (:mod:`.sessions`): accounts, SOAP sessions and their filters;
* :attr:`Backend.journal` (:mod:`.journal`): every request answered;
* :attr:`Backend.faults` (:mod:`.fault_rules`): fault rules;
* :attr:`Backend.inventory` (:mod:`.inventory`): datacenters, folders, hosts, virtual machines;
* :attr:`Backend.power` (:mod:`.power`): power operations, the tasks they create, VMs' power states.

A new part (the inventory, say) is a module with a class taking the :class:`~.db.Database`,
creating its tables and offering ``reset(tx)``, plus one line in :meth:`Backend.__init__`'s list
of parts. The state imports nothing from the faces: handlers call it and render what it returns.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from vismock.mockserver.state import db
from vismock.mockserver.state.behaviour import Behaviour, Override
from vismock.mockserver.state.clock import Clock
from vismock.mockserver.state.fault_rules import FaultRules
from vismock.mockserver.state.inventory import Inventory
from vismock.mockserver.state.journal import Journal
from vismock.mockserver.state.models import Entity, FaultRule, JournalEntry, Reason, Step, TaskSpec
from vismock.mockserver.state.power import Power
from vismock.mockserver.state.sessions import Sessions
from vismock.mockserver.state.tasks import Tasks

__all__ = [
    "Backend", "Behaviour", "Entity", "FaultRule", "JournalEntry", "Override", "Part", "Reason", "Step",
    "TaskSpec",
]  # fmt: skip


class Part(Protocol):
    def reset(self, tx: sqlite3.Connection) -> None:
        """Back to the loaded state, inside the reset's one transaction."""


class Backend:
    """All mock state: the parts, over one database file."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        tasks: Sequence[TaskSpec] = (),
        inventory: Sequence[Entity] = (),
        operations: Mapping[str, Behaviour] | None = None,
        overrides: Sequence[Override] = (),
        accounts: Mapping[str, str] | None = None,
        journal_cap: int = 10_000,
        session_cap: int = 10_000,
        session_lifetime: float | None = None,
        dynamic: bool = False,
        attach: bool = False,
        task_cap: int = 10_000,
    ) -> None:
        """*path* None: a private temporary database. *accounts* None: vismock/vismock.

        Opening an existing database keeps its state when *tasks* are the set it was loaded with
        (a restart); another set replaces its tasks (:attr:`load_notice` says so). A second process
        attaching to a running server's state passes the same set, or *attach* True: then *tasks*
        and *inventory* are not loaded, and the state file is served as it stands.
        """
        self._tempdir: str | None = None
        if path is None:
            self._tempdir = tempfile.mkdtemp(prefix="vismock-")
            path = Path(self._tempdir) / "state.sqlite3"
        self.path = Path(path)
        self.database = db.Database(self.path)
        # Tied to the database, which every part holds: Backend(...).tasks may outlive its Backend.
        self._finalizer = weakref.finalize(self.database, _remove, self._tempdir)
        self.clock = Clock(self.database)
        self.tasks = Tasks(self.database, self.clock, dynamic=dynamic)
        self.clock.on_rewind = self.tasks.rewind
        self.sessions = Sessions(
            self.database, self.clock, accounts=accounts, cap=session_cap, lifetime=session_lifetime
        )
        self.journal = Journal(self.database, cap=journal_cap)
        self.faults = FaultRules(self.database)
        self.inventory = Inventory(self.database)
        self.power = Power(self.database, self.clock, self.tasks, self.inventory, task_cap=task_cap)
        # Reset order matters: the clock first, so the tasks restart at real time.
        self.parts: tuple[Part, ...] = (
            self.clock, self.tasks, self.inventory, self.power, self.sessions, self.journal, self.faults
        )  # fmt: skip
        if not attach:
            self.load(tasks, inventory, operations or {}, overrides)

    def load(
        self,
        tasks: Sequence[TaskSpec],
        inventory: Sequence[Entity],
        operations: Mapping[str, Behaviour],
        overrides: Sequence[Override],
    ) -> bool:
        """Make a scenario's parts the loaded ones (at start-up, and again on a reload): each part
        kept when the state file holds the same (a restart), replaced otherwise. True: something
        was replaced."""
        self.tasks.load(tasks)
        self.inventory.load(inventory)
        if self.inventory.replaced:  # the new inventory's power states are the truth
            with self.database.write() as tx:
                self.power.forget(tx)
        power_replaced = self.power.load(operations, overrides)
        return self.tasks.load_notice is not None or self.inventory.replaced or power_replaced

    @property
    def load_notice(self) -> str | None:
        """Set when the state file held other tasks or another inventory than given (replaced)."""
        if self.inventory.replaced and self.tasks.load_notice is None:
            return (
                f"{self.path} held another inventory; serving the one given now (its power states start over)"
            )
        return self.tasks.load_notice

    def reset(self) -> None:
        """Every part back to its loaded state: tasks restarted, journal, rules, sessions and
        their filters cleared, clock real. A request still running from before cannot write into
        what follows (its generation is gone: see :class:`~.db.Revision`)."""
        with self.database.write() as tx:
            # Inside the transaction: a journal write after this reset sees the new generation.
            self.database.revision.bump(generation=True)
            for part in self.parts:
                part.reset(tx)

    def replace_inventory(self, entities: Sequence[Entity]) -> None:
        """Serve another inventory (live; reset returns to the loaded one). Its power states are
        the truth from now on: the VMs' power history is forgotten."""
        with self.database.write() as tx:
            self.inventory.replace_in(tx, entities)
            self.power.forget(tx)

    def revision(self) -> int:
        """Raised by every committed change of the state, in any process."""
        return self.database.revision.value()

    def generation(self) -> int:
        """How many resets this state has seen (any process's): a request notes it when it starts."""
        return self.database.revision.generation()

    def close(self) -> None:
        """Close this process's connections (and delete a private temporary database)."""
        self.sessions.close()
        self.database.close()
        self._finalizer()


def _remove(tempdir: str | None) -> None:
    if tempdir is not None:
        shutil.rmtree(tempdir, ignore_errors=True)
