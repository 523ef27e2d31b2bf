"""Power operations on the inventory's virtual machines: the tasks they create, and the power
state those tasks leave.

A VM's power state is *derived*, never written by a clock or a poll: each VM keeps its ``base``
(its state before its latest task) and its ``latest`` task (the last one that ran on it). Its
power state now is the latest task's target once that task has ended in success, else the base.
So the state changes exactly when the task is seen to succeed, by whatever moves the task: the
mock's clock (time progression), the read that shows the final step (polls) or an advance
(manual); a cancelled or failed task leaves the base. Every worker process computes the same
answer from the one SQLite file, and a read is as cheap as reading the task.

Starting an operation is one ``BEGIN IMMEDIATE`` transaction: the VM's state and its running
task are read, the task is created (from the operation's behaviour, or an override it consumes)
and the VM's base moves on. Two tasks that act on one VM therefore never overlap: while the
latest task runs, a new one fails at once with TaskInProgress (vCenter reports it in the task),
and one the power state refuses fails at once with InvalidPowerState; neither acts on the VM.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from vismock import power
from vismock.errors import VismockError
from vismock.faults import ManagedObjectNotFound, NotSupported, TaskInProgress, TaskNotFound, VimFault
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.state import db, lifecycle
from vismock.mockserver.state.behaviour import (
    DEFAULT_BEHAVIOUR,
    DEFAULT_KEY,
    Behaviour,
    Override,
    behaviour_from_json,
    behaviour_to_json,
    override_from_json,
    override_to_json,
)
from vismock.mockserver.state.clock import Clock
from vismock.mockserver.state.inventory import Inventory
from vismock.mockserver.state.models import Entity, Reason, Step, TaskSpec
from vismock.mockserver.state.tasks import FOREVER, Tasks
from vismock.schemas import task_methods

FIRST_TASK_NUMBER = 3001  # above the built-in tasks' numbers (task-2675 is the highest)
RECENT_ON_VM = 10  # ManagedEntity.recentTask: a VM's newest tasks
RECENT_CREATED = 200  # TaskManager.recentTask: "one of the last 200 completed Task objects"

SCHEMA = (
    # Each VM that a task ran on (or the admin API set): its state before its latest task.
    """CREATE TABLE IF NOT EXISTS power_vms (
        vm_id TEXT PRIMARY KEY, base TEXT NOT NULL, boot_us INTEGER, latest TEXT)""",
    # Every task an operation created: on which VM, and whether it ran (refused ones did not).
    """CREATE TABLE IF NOT EXISTS power_tasks (
        task_id TEXT PRIMARY KEY, number INTEGER NOT NULL, vm_id TEXT NOT NULL, method TEXT NOT NULL,
        ran INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS power_tasks_vm ON power_tasks (vm_id, number)",
    "CREATE INDEX IF NOT EXISTS power_tasks_number ON power_tasks (number)",
    # The next task number (never reset, so a task id is never given twice), and a stamp that
    # changes with the behaviours and overrides (so a start reads them only when they changed).
    """CREATE TABLE IF NOT EXISTS power_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL, config TEXT NOT NULL DEFAULT '')""",
    # Behaviours by power method (or "default") and overrides: live, and as loaded (reset).
    "CREATE TABLE IF NOT EXISTS power_behaviours (key TEXT PRIMARY KEY, behaviour TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS loaded_power_behaviours (key TEXT PRIMARY KEY, behaviour TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS power_overrides (
        id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, remaining INTEGER)""",
    """CREATE TABLE IF NOT EXISTS loaded_power_overrides (
        seq INTEGER PRIMARY KEY, rule TEXT NOT NULL, remaining INTEGER)""",
)


@dataclass(frozen=True, slots=True)
class VmPower:
    """A VM's power as clients see it now, and until when (mock-clock microseconds) that holds
    unless the state is written: FOREVER when only a write can change it."""

    vm_id: str
    state: str  # poweredOn, poweredOff, suspended
    boot_time: datetime | None
    running: str | None  # the task acting on it now (TaskInProgress names it)
    until_us: int


@dataclass(frozen=True, slots=True)
class Started:
    """A created task; *refusal* is the fault it fails with at once when it could not run."""

    task_id: str
    refusal: VimFault | None = None


class Power:
    def __init__(
        self,
        database: db.Database,
        clock: Clock,
        tasks: Tasks,
        inventory: Inventory,
        *,
        task_cap: int = 10_000,
    ) -> None:
        """*task_cap*: at most that many created tasks are kept (the oldest dropped first; a VM's
        latest task is always kept)."""
        if task_cap < 1:
            raise VismockError(f"task_cap must be at least 1, not {task_cap}")
        self._db = database
        self._clock = clock
        self._tasks = tasks
        self._inventory = inventory
        self.task_cap = task_cap
        database.create_tables(SCHEMA)
        self._parsed: BoundedCache[str, Behaviour] = BoundedCache(256)
        # The behaviours and overrides as of a config stamp (see power_counter).
        self._config: tuple[str, dict[str, Behaviour], list[Override]] = ("", {}, [])

    # -- what is loaded, and reset ---------------------------------------------------------------------

    def load(self, behaviours: Mapping[str, Behaviour], overrides: Sequence[Override]) -> bool:
        """Make these the loaded behaviours and overrides; a database loaded with others (or none
        yet) starts them, one loaded with the same keeps its live ones (a restart). True: they
        differed from what the database held, and replaced it."""
        behaviour_rows = sorted((key, _dump(behaviour_to_json(b))) for key, b in behaviours.items())
        override_rows = [(seq, _dump(override_to_json(o)), o.times) for seq, o in enumerate(overrides, 1)]
        with self._db.write() as tx:
            tx.execute("INSERT OR IGNORE INTO power_counter (id, next) VALUES (1, ?)", (FIRST_TASK_NUMBER,))
            fresh = tx.execute("SELECT 1 FROM meta WHERE key = 'power_loaded'").fetchone() is None
            loaded = (
                [
                    tuple(r)
                    for r in tx.execute("SELECT key, behaviour FROM loaded_power_behaviours ORDER BY key")
                ],
                [
                    tuple(r)
                    for r in tx.execute(
                        "SELECT seq, rule, remaining FROM loaded_power_overrides ORDER BY seq"
                    )
                ],
            )
            replaced = fresh or loaded != (behaviour_rows, override_rows)
            if replaced:
                tx.execute("DELETE FROM loaded_power_behaviours")
                tx.executemany(
                    "INSERT INTO loaded_power_behaviours (key, behaviour) VALUES (?, ?)", behaviour_rows
                )
                tx.execute("DELETE FROM loaded_power_overrides")
                tx.executemany(
                    "INSERT INTO loaded_power_overrides (seq, rule, remaining) VALUES (?, ?, ?)",
                    override_rows,
                )
                self._restore_loaded(tx)
            if fresh:
                tx.execute("INSERT INTO meta (key, value) VALUES ('power_loaded', '1')")
        return replaced

    def reset(self, tx: sqlite3.Connection) -> None:
        """VMs back to the inventory's power states, created tasks forgotten (the tasks part has
        deleted them), behaviours and overrides as loaded. Task numbers go on counting."""
        self.forget(tx)
        self._restore_loaded(tx)

    def forget(self, tx: sqlite3.Connection) -> None:
        """Forget every VM's power history (the inventory was replaced: its states are the truth)."""
        tx.execute("DELETE FROM power_vms")
        tx.execute("DELETE FROM power_tasks")

    def _restore_loaded(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM power_behaviours")
        tx.execute(
            "INSERT INTO power_behaviours (key, behaviour) SELECT key, behaviour FROM loaded_power_behaviours"
        )
        tx.execute("DELETE FROM power_overrides")
        tx.execute(
            "INSERT INTO power_overrides (rule, remaining) SELECT rule, remaining FROM loaded_power_overrides"
            " ORDER BY seq"
        )
        _new_config(tx)

    # -- starting an operation -------------------------------------------------------------------------

    def start(self, vm_id: str, method: str, *, user: str | None, refuse: bool = False) -> Started:
        """Create the task of power *method* (``PowerOffVM_Task``) on VM *vm_id*, started by *user*.

        Raises ManagedObjectNotFound (no such VM) and NotSupported (a template): vim25 methods
        raise these. A VM busy with a task, or in a power state the method does not run from, gets
        a task that fails at once (TaskInProgress, InvalidPowerState), as vCenter reports them; or,
        with *refuse*, that fault raised and no task (the adapter's operations check first).
        """
        name = power.method(method).name
        # Tasks and power tables only: what is cached by the settings revision stays valid.
        with self._db.write(settings=False) as tx:
            vm = self._vm(vm_id)
            if vm.props.get("template"):
                raise NotSupported(power.TEMPLATE_MESSAGE)
            # Writers take turns and announce each change before the next one starts (db.Database
            # .write), so what is cached by revision (the clock row) is current here.
            now_us = self._clock.now_us()
            current = self._power(tx, vm, db.from_us(now_us))
            refusal: VimFault | None = (
                TaskInProgress(current.running)
                if current.running
                else power.state_refusal(name, current.state)
            )
            if refusal is not None and refuse:
                raise refusal
            number, config = self._next_number(tx)
            task_id = f"task-{number}"
            behaviour = _failing_at_once(refusal) if refusal else self._behaviour_for(tx, config, name, vm)
            self._tasks.insert_in(tx, [_task_spec(task_id, number, name, vm, user, behaviour)], now_us)
            tx.execute(
                "INSERT INTO power_tasks (task_id, number, vm_id, method, ran) VALUES (?, ?, ?, ?, ?)",
                (task_id, number, vm.id, name, int(refusal is None)),
            )
            if refusal is None:
                self._save_vm(tx, vm.id, current.state, current.boot_time, task_id)
            self._prune(tx, number)
        return Started(task_id, refusal)

    def _behaviour_for(self, tx: sqlite3.Connection, config: str, method: str, vm: Entity) -> Behaviour:
        """The first override matching this task (one of its times consumed), else the method's
        behaviour, else the default one."""
        behaviours, overrides = self._configuration(tx, config)
        for override in overrides:
            if override.matches(method, vm.id, vm.name):
                if override.times is not None and override.times <= 1:
                    tx.execute("DELETE FROM power_overrides WHERE id = ?", (override.id,))
                elif override.times is not None:
                    tx.execute(
                        "UPDATE power_overrides SET remaining = remaining - 1 WHERE id = ?", (override.id,)
                    )
                if override.times is not None:
                    _new_config(tx)
                return override.behaviour
        return behaviours.get(method) or behaviours.get(DEFAULT_KEY) or DEFAULT_BEHAVIOUR

    def _configuration(
        self, tx: sqlite3.Connection, config: str
    ) -> tuple[dict[str, Behaviour], list[Override]]:
        """The behaviours and overrides, read again only when their stamp changed."""
        if self._config[0] != config or not config:
            rows = tx.execute("SELECT id, rule, remaining FROM power_overrides ORDER BY id").fetchall()
            overrides = [
                override_from_json(json.loads(rule), rule_id, remaining) for rule_id, rule, remaining in rows
            ]
            behaviours = {
                key: self._behaviour_of(text)
                for key, text in tx.execute("SELECT key, behaviour FROM power_behaviours")
            }
            self._config = (config, behaviours, overrides)
        return self._config[1], self._config[2]

    def _behaviour_of(self, text: str) -> Behaviour:
        return self._parsed.get_or_make(text, lambda: behaviour_from_json(json.loads(text)))

    def _next_number(self, tx: sqlite3.Connection) -> tuple[int, str]:
        """The next task number whose id no task holds (the task file's or the admin API's), and
        the configuration's stamp."""
        row = tx.execute("SELECT next, config FROM power_counter WHERE id = 1").fetchone()
        number, config = (int(row[0]), str(row[1])) if row else (FIRST_TASK_NUMBER, "")
        while tx.execute("SELECT 1 FROM tasks WHERE id = ?", (f"task-{number}",)).fetchone():
            number += 1
        tx.execute("UPDATE power_counter SET next = ? WHERE id = 1", (number + 1,))
        return number, config

    def _prune(self, tx: sqlite3.Connection, number: int) -> None:
        """Keep at most task_cap created tasks: drop the oldest, never a VM's latest."""
        if number - FIRST_TASK_NUMBER < self.task_cap:
            return
        old = [
            task_id
            for (task_id,) in tx.execute(
                "SELECT task_id FROM power_tasks WHERE number <= ? AND task_id NOT IN"
                " (SELECT latest FROM power_vms WHERE latest IS NOT NULL)",
                (number - self.task_cap,),
            )
        ]
        if old:
            tx.executemany("DELETE FROM power_tasks WHERE task_id = ?", [(task_id,) for task_id in old])
            self._tasks.delete_in(tx, old)

    # -- reading ---------------------------------------------------------------------------------------

    def of(self, vm_id: str) -> VmPower:
        """VM *vm_id*'s power now (ManagedObjectNotFound for no such VM)."""
        return self._power(self._db.connection(), self._vm(vm_id), self._clock.now())

    def _power(self, conn: sqlite3.Connection, vm: Entity, now: datetime) -> VmPower:
        row = conn.execute("SELECT base, boot_us, latest FROM power_vms WHERE vm_id = ?", (vm.id,)).fetchone()
        if row is None:
            return VmPower(vm.id, str(vm.props.get("powerState", power.POWERED_ON)), None, None, FOREVER)
        base, boot_us, latest = row
        boot = None if boot_us is None else db.from_us(boot_us)
        if latest is None:
            return VmPower(vm.id, base, boot, None, FOREVER)
        try:
            spec, runtime = self._tasks.lifecycle_in(conn, latest)
        except TaskNotFound:  # deleted through the admin API: it changes nothing any more
            return VmPower(vm.id, base, boot, None, FOREVER)
        change = lifecycle.next_change(spec, runtime, now)
        until_us = FOREVER if change is None else db.to_us(change)
        ended = lifecycle.outcome(spec, runtime, now)
        if ended is None:
            return VmPower(vm.id, base, boot, latest, until_us)
        if ended == "success":
            finished = lifecycle.completed_at(spec, runtime, now) or now
            base, boot = power.after(spec.name, base), power.boot_time_after(spec.name, base, boot, finished)
        return VmPower(vm.id, base, boot, None, until_us)

    def recent(self, vm_id: str, limit: int = RECENT_ON_VM) -> list[str]:
        """The VM's newest created tasks (ManagedEntity.recentTask), oldest first."""
        rows = self._db.connection().execute(
            "SELECT task_id FROM power_tasks WHERE vm_id = ? ORDER BY number DESC LIMIT ?", (vm_id, limit)
        )
        return [task_id for (task_id,) in reversed(rows.fetchall())]

    def recent_task_ids(self, limit: int = RECENT_CREATED) -> list[str]:
        """TaskManager.recentTask: every task not created by an operation (the task file's, the
        admin API's), then the newest *limit* created ones."""
        conn = self._db.connection()
        canned = conn.execute(
            "SELECT id FROM tasks WHERE id NOT IN (SELECT task_id FROM power_tasks) ORDER BY seq"
        ).fetchall()
        created = conn.execute(
            "SELECT task_id FROM power_tasks ORDER BY number DESC LIMIT ?", (limit,)
        ).fetchall()
        return [task_id for (task_id,) in canned] + [task_id for (task_id,) in reversed(created)]

    def created(self, task_id: str) -> tuple[str, str, bool] | None:
        """(VM id, power method, whether it ran) of a task an operation created, else None."""
        row = (
            self._db.connection()
            .execute("SELECT vm_id, method, ran FROM power_tasks WHERE task_id = ?", (task_id,))
            .fetchone()
        )
        return None if row is None else (str(row[0]), str(row[1]), bool(row[2]))

    def tasks_on(self, vm_id: str) -> list[str]:
        """Every created task (still kept) on VM *vm_id*, oldest first."""
        rows = self._db.connection().execute(
            "SELECT task_id FROM power_tasks WHERE vm_id = ? ORDER BY number", (vm_id,)
        )
        return [task_id for (task_id,) in rows]

    # -- the admin API's writes ------------------------------------------------------------------------

    def set_state(self, vm_id: str, state: str) -> VmPower:
        """Set a VM's power state as if it had always been so (TaskInProgress while a task runs
        on it; a template stays poweredOff)."""
        if state not in power.POWER_STATES:
            raise VismockError(f"power state {state!r} is not one of {', '.join(power.POWER_STATES)}")
        with self._db.write() as tx:
            vm = self._vm(vm_id)
            if vm.props.get("template") and state != power.POWERED_OFF:
                raise VismockError(f"{vm.name} ({vm.id}) is a template: it stays poweredOff")
            now = db.from_us(self._clock.now_us(tx))
            current = self._power(tx, vm, now)
            if current.running:
                raise TaskInProgress(current.running, f"{vm.name} ({vm.id}) is busy with {current.running}")
            boot = None if state == power.POWERED_OFF else current.boot_time
            if state == power.POWERED_ON and current.state == power.POWERED_OFF:
                boot = now
            self._save_vm(tx, vm.id, state, boot, None)
        return self.of(vm_id)

    def behaviours(self) -> dict[str, Behaviour]:
        rows = self._db.connection().execute("SELECT key, behaviour FROM power_behaviours ORDER BY key")
        return {key: behaviour_from_json(json.loads(text)) for key, text in rows}

    def set_behaviours(self, behaviours: Mapping[str, Behaviour], *, replace_all: bool = False) -> None:
        """Set the behaviour of the operations given (all of them, with *replace_all*)."""
        with self._db.write() as tx:
            if replace_all:
                tx.execute("DELETE FROM power_behaviours")
            tx.executemany(
                "INSERT INTO power_behaviours (key, behaviour) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET behaviour = excluded.behaviour",
                [(key, _dump(behaviour_to_json(b))) for key, b in behaviours.items()],
            )
            _new_config(tx)

    def overrides(self) -> list[Override]:
        """Overrides in the order they are tried, ``times`` being what remains."""
        rows = self._db.connection().execute("SELECT id, rule, remaining FROM power_overrides ORDER BY id")
        return [
            override_from_json(json.loads(rule), override_id, remaining)
            for override_id, rule, remaining in rows
        ]

    def add_override(self, override: Override) -> Override:
        with self._db.write() as tx:
            cursor = tx.execute(
                "INSERT INTO power_overrides (rule, remaining) VALUES (?, ?)",
                (_dump(override_to_json(override)), override.times),
            )
            _new_config(tx)
        return replace(override, id=cursor.lastrowid)

    def delete_override(self, override_id: int) -> bool:
        with self._db.write() as tx:
            _new_config(tx)
            return tx.execute("DELETE FROM power_overrides WHERE id = ?", (override_id,)).rowcount > 0

    def clear_overrides(self) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM power_overrides")
            _new_config(tx)

    # -- helpers ---------------------------------------------------------------------------------------

    def _vm(self, vm_id: str) -> Entity:
        vm = self._inventory.find(vm_id)
        if vm is None or vm.type != "VirtualMachine":
            raise ManagedObjectNotFound("VirtualMachine", vm_id)
        return vm

    @staticmethod
    def _save_vm(
        tx: sqlite3.Connection, vm_id: str, base: str, boot: datetime | None, latest: str | None
    ) -> None:
        tx.execute(
            "INSERT INTO power_vms (vm_id, base, boot_us, latest) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (vm_id)"
            " DO UPDATE SET base = ?2, boot_us = ?3, latest = ?4",
            (vm_id, base, None if boot is None else db.to_us(boot), latest),
        )


def _task_spec(
    task_id: str, number: int, method: str, vm: Entity, user: str | None, behaviour: Behaviour
) -> TaskSpec:
    """The TaskInfo vCenter shows for a power task: the method's name and descriptionId, the VM
    and its name, started by the user, its event chain numbered like the task."""
    return TaskSpec(
        id=task_id,
        name=method,
        description_id=task_methods()[method].description_id,
        entity_type="VirtualMachine",
        entity_id=vm.id,
        entity_name=vm.name,
        reason=Reason(kind="user", user_name=user or None),
        cancelable=behaviour.cancelable,
        event_chain_id=number,
        progression=behaviour.progression,
        timeline=behaviour.timeline,
    )


def _failing_at_once(fault: VimFault) -> Behaviour:
    step = Step(
        state="error", at=0, fault=fault.fault_type, message=fault.message, fault_fields=fault.fields()
    )
    return Behaviour(progression="time", timeline=(step,))


def _new_config(tx: sqlite3.Connection) -> None:
    """The behaviours or overrides changed: a new stamp, so every process reads them again."""
    tx.execute("UPDATE power_counter SET config = ? WHERE id = 1", (secrets.token_hex(8),))


def _dump(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)
