"""Tasks: their definitions (TaskSpec) and lifecycle state, and the loaded set reset returns to.

A task's TaskInfo is a pure function of its spec, its stored runtime and the clock
(:mod:`~vismock.mockserver.state.lifecycle`); reading one is a single indexed SELECT, and its
rendering is remembered per (runtime, step shown). A read also says until when its answer holds
(:attr:`TaskRead.until_us`), so callers may remember whole answers without asking again.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vismock.errors import VismockError
from vismock.faults import InvalidState, NotSupported, TaskNotFound
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.state import db, lifecycle, taskfile
from vismock.mockserver.state.clock import Clock
from vismock.mockserver.state.models import TaskSpec

SPEC_CACHE_SIZE = 4096
RENDER_CACHE_SIZE = 4096
FOREVER = 2**62  # an answer no clock reading can change: only a write (a new revision) can
NOT_REMEMBERED = 0  # an answer that must be computed again: its read wrote (a counted poll)

SCHEMA = (
    # Live tasks: spec (task-file JSON) + runtime state. rev changes whenever spec changes (cache key).
    """CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, rev INTEGER NOT NULL, spec TEXT NOT NULL,
        queued_us INTEGER NOT NULL, polls INTEGER NOT NULL DEFAULT 0, step_index INTEGER NOT NULL DEFAULT 0,
        started_us INTEGER, completed_us INTEGER, cancelled_us INTEGER)""",
    # The loaded task set (a task file, or the built-in tasks), which reset returns to.
    "CREATE TABLE IF NOT EXISTS loaded (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, spec TEXT NOT NULL)",
    # Inserting reads MAX(seq): without an index that is a scan of every task (operations create many).
    "CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq)",
)
_RUNTIME_COLUMNS = "rev, queued_us, polls, step_index, started_us, completed_us, cancelled_us"
_SELECT_TASK = f"SELECT {_RUNTIME_COLUMNS} FROM tasks WHERE id = ?"
_UPSERT_TASK = """
    INSERT INTO tasks
        (id, seq, rev, spec, queued_us, polls, step_index, started_us, completed_us, cancelled_us)
    VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, spec = excluded.spec, queued_us = excluded.queued_us,
        polls = excluded.polls, step_index = excluded.step_index, started_us = excluded.started_us,
        completed_us = excluded.completed_us, cancelled_us = excluded.cancelled_us
"""


@dataclass(frozen=True, slots=True)
class TaskRead:
    """A task's TaskInfo as read now, and until when (mock-clock microseconds) it stays the same
    unless something is written: FOREVER, or NOT_REMEMBERED when the read itself wrote."""

    info: dict[str, Any]
    until_us: int
    # The vim25 fields of the fault in info's error (the SOAP face sends them; the adapter's
    # TaskInfo names the fault type only).
    fault_fields: tuple[tuple[str, str], ...] = ()


class Tasks:
    def __init__(self, database: db.Database, clock: Clock, *, dynamic: bool = False) -> None:
        """*dynamic*: a task id not stored reads as a generated, schema-valid TaskInfo, the same
        for the same id every time (vismock.mockserver.state.dynamic), not as TaskNotFound."""
        self._db = database
        self._clock = clock
        self.dynamic = dynamic
        database.create_tables(SCHEMA)
        self._specs: BoundedCache[str, tuple[int, TaskSpec]] = BoundedCache(SPEC_CACHE_SIZE)
        # Rendered TaskInfos by (task, stored runtime columns, step shown): the clock only decides
        # which step is shown, so a read is one SELECT and a dict copy.
        self._rendered: BoundedCache[tuple[str, tuple[Any, ...], int], dict[str, Any]] = BoundedCache(
            RENDER_CACHE_SIZE
        )
        self.load_notice: str | None = None

    # -- the loaded set

    def load(self, tasks: Sequence[TaskSpec]) -> None:
        """Make *tasks* the loaded set. A fresh database starts them; an existing one keeps its live
        state when it was loaded with the same set (a restart), and otherwise starts the new set
        (the tasks given now win), saying so in :attr:`load_notice`."""
        rows = _spec_rows(tasks)
        self.load_notice = None
        with self._db.write() as tx:
            fresh = tx.execute("SELECT 1 FROM meta WHERE key = 'initialized'").fetchone() is None
            loaded = [tuple(row) for row in tx.execute("SELECT id, seq, spec FROM loaded ORDER BY seq")]
            another_set = not fresh and bool(rows) and loaded != rows
            if fresh or another_set:
                tx.execute("DELETE FROM loaded")
                tx.executemany("INSERT INTO loaded (id, seq, spec) VALUES (?, ?, ?)", rows)
                tx.execute("DELETE FROM tasks")
                self._insert(tx, tasks, self._clock.now_us(tx))
            if fresh:
                tx.execute("INSERT INTO meta (key, value) VALUES ('initialized', '1')")
            elif another_set:
                self.load_notice = (
                    f"{self._db.path} held another task set; serving the {len(rows)} task(s) given now"
                    " (their lifecycles start over; journal, fault rules and clock are kept)"
                )

    def reset(self, tx: sqlite3.Connection) -> None:
        """Back to the loaded set, every lifecycle started over (runs after the clock's reset)."""
        tx.execute("DELETE FROM tasks")
        specs = [_spec_from_json(text) for (text,) in tx.execute("SELECT spec FROM loaded ORDER BY seq")]
        self._insert(tx, specs, self._clock.now_us(tx))

    # -- definitions

    def specs(self) -> list[TaskSpec]:
        """Every task's definition, in the order they were added."""
        rows = self._db.connection().execute("SELECT id, rev, spec FROM tasks ORDER BY seq").fetchall()
        return [self._spec(task_id, rev, text) for task_id, rev, text in rows]

    def numbered(self) -> list[tuple[int, TaskSpec]]:
        """Every task's definition with its number in the order they were added (a task replaced
        keeps its number): what vCenter's events about tasks are keyed by."""
        rows = self._db.connection().execute("SELECT id, rev, spec, seq FROM tasks ORDER BY seq").fetchall()
        return [(seq, self._spec(task_id, rev, text)) for task_id, rev, text, seq in rows]

    def get(self, task_id: str) -> TaskSpec:
        """Raises vismock.faults.TaskNotFound."""
        row = self._db.connection().execute("SELECT rev, spec FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(task_id)
        return self._spec(task_id, row[0], row[1])

    def put(self, specs: Iterable[TaskSpec]) -> None:
        """Add or replace; a replaced task's lifecycle restarts (queued at the clock's now)."""
        specs = list(specs)
        for spec in specs:
            _check_spec(spec)
        with self._db.write() as tx:
            self._insert(tx, specs, self._clock.now_us(tx))

    def restart(self, task_id: str) -> None:
        """Start a task's lifecycle over (queued now, or at its fixed queueTime)."""
        self.put([self.get(task_id)])

    def delete(self, task_id: str) -> None:
        """Raises vismock.faults.TaskNotFound if there is no such task."""
        with self._db.write() as tx:
            if tx.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount == 0:
                raise TaskNotFound(task_id)

    # -- reading TaskInfo

    def info(self, task_id: str, *, poll: bool = True) -> dict[str, Any]:
        """The task's vim25 TaskInfo now, as a dict in vismock.codec's decode form.

        ``poll`` counts this read for "polls" progression (a client reading the task);
        pass False for internal peeks (WaitForUpdates re-checks, admin views).
        Raises vismock.faults.TaskNotFound (in dynamic mode: a generated TaskInfo instead).
        """
        return self.read(task_id, poll=poll).info

    def read(self, task_id: str, *, poll: bool = True) -> TaskRead:
        """:meth:`info`, and until when it holds."""
        try:
            spec, columns = self._stored(self._db.connection(), task_id)
        except TaskNotFound:
            if not self.dynamic:
                raise
            from vismock.mockserver.state.dynamic import dynamic_task_info  # only dynamic servers pay

            return TaskRead(dynamic_task_info(task_id), FOREVER)
        runtime = _runtime(columns)
        now = self._clock.now()
        if poll and lifecycle.counts_polls(spec, runtime):
            # Counting a poll is read-modify-write: do it again inside a write transaction.
            with self._db.write() as tx:
                spec, columns = self._stored(tx, task_id)
                now = db.from_us(self._clock.now_us(tx))
                before = _runtime(columns)
                shown, stored = lifecycle.after_poll(spec, before, now)
                if stored != before:
                    self._save_runtime(tx, task_id, stored)
            info = lifecycle.task_info(spec, shown, now)
            return TaskRead(info, NOT_REMEMBERED, lifecycle.fault_fields(spec, shown, now))
        index = lifecycle.current_index(spec, runtime, now)
        info = self._rendered.get_or_make(
            (task_id, columns, index), lambda: lifecycle.task_info(spec, runtime, now)
        )
        change = lifecycle.next_change(spec, runtime, now)
        until_us = FOREVER if change is None else db.to_us(change)
        return TaskRead(dict(info), until_us, lifecycle.fault_fields(spec, runtime, now))

    # -- changing lifecycles

    def advance(self, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Manual progression: take the next *steps* timeline steps; returns the new TaskInfo.

        Raises InvalidState for a task whose progression is not "manual".
        """
        with self._db.write() as tx:
            spec, columns = self._stored(tx, task_id)
            now = db.from_us(self._clock.now_us(tx))
            if spec.progression != "manual":
                raise InvalidState(f"Task {task_id} progresses by {spec.progression}, not manually")
            runtime = lifecycle.advance(spec, _runtime(columns), steps, now)
            self._save_runtime(tx, task_id, runtime)
        return lifecycle.task_info(spec, runtime, now)

    def cancel(self, task_id: str) -> None:
        """vim25 CancelTask: NotSupported if not cancelable, InvalidState if already finished;
        otherwise the task ends in error with RequestCanceled and cancelled=true."""
        with self._db.write() as tx:
            spec, columns = self._stored(tx, task_id)
            runtime = _runtime(columns)
            now = db.from_us(self._clock.now_us(tx))
            if not spec.cancelable:
                raise NotSupported(f"Task {task_id} ({spec.name}) cannot be cancelled")
            if lifecycle.is_finished(spec, runtime, now):
                raise InvalidState(f"Task {task_id} has already finished")
            if spec.progression == "polls":
                # The read that would have shown the current step: make its times stick.
                runtime = lifecycle.note_shown(
                    spec, runtime, lifecycle.current_index(spec, runtime, now), now
                )
            self._save_runtime(tx, task_id, lifecycle.cancel(runtime, now))

    def rewind(self, tx: sqlite3.Connection, moment_us: int) -> None:
        """The clock is set back to *moment_us*: every task with a recorded time after it starts
        over, queued then; tasks wholly before it show the state they had then. So no TaskInfo
        ever shows a time after the mock's now."""
        rows = tx.execute(
            "SELECT id, rev, spec FROM tasks WHERE queued_us > ?1 OR started_us > ?1 OR completed_us > ?1"
            " OR cancelled_us > ?1",
            (moment_us,),
        ).fetchall()
        moment = db.from_us(moment_us)
        for task_id, rev, text in rows:
            self._save_runtime(tx, task_id, lifecycle.restarted_at(self._spec(task_id, rev, text), moment))

    # -- for the parts that create tasks inside their own transactions (the power operations)

    def insert_in(self, tx: sqlite3.Connection, specs: Iterable[TaskSpec], now_us: int) -> None:
        """Add (or replace) *specs*, queued at *now_us*, in the caller's write transaction. The
        specs are trusted: built from validated parts, they are not checked again (and this
        process's reads need not parse them back)."""
        self._insert(tx, specs, now_us, remember=True)

    def lifecycle_in(self, conn: sqlite3.Connection, task_id: str) -> tuple[TaskSpec, lifecycle.Runtime]:
        """A task's spec and stored runtime, read on *conn* (inside the caller's transaction)."""
        spec, columns = self._stored(conn, task_id)
        return spec, _runtime(columns)

    def delete_in(self, tx: sqlite3.Connection, task_ids: Sequence[str]) -> None:
        tx.executemany("DELETE FROM tasks WHERE id = ?", [(task_id,) for task_id in task_ids])

    # -- storage

    def _stored(self, conn: sqlite3.Connection, task_id: str) -> tuple[TaskSpec, tuple[Any, ...]]:
        """The task's spec and its stored runtime columns (rev first): one SELECT, two on a spec
        cache miss."""
        row = conn.execute(_SELECT_TASK, (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(task_id)
        cached = self._specs.get(task_id)
        if cached is not None and cached[0] == row[0]:
            return cached[1], tuple(row)
        spec_row = conn.execute("SELECT rev, spec FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if spec_row is None:
            raise TaskNotFound(task_id)
        return self._spec(task_id, spec_row[0], spec_row[1]), tuple(row)

    def _spec(self, task_id: str, rev: int, text: str) -> TaskSpec:
        cached = self._specs.get(task_id)
        if cached is not None and cached[0] == rev:
            return cached[1]
        spec = _spec_from_json(text)
        self._specs.put(task_id, (rev, spec))
        return spec

    def _insert(
        self, tx: sqlite3.Connection, specs: Iterable[TaskSpec], now_us: int, *, remember: bool = False
    ) -> None:
        now = db.from_us(now_us)
        for spec in specs:
            runtime = lifecycle.initial_runtime(spec, now)
            rev = secrets.randbits(62)
            tx.execute(_UPSERT_TASK, (spec.id, rev, _spec_to_json(spec), *_runtime_columns(runtime)))
            if remember:
                self._specs.put(spec.id, (rev, spec))

    @staticmethod
    def _save_runtime(tx: sqlite3.Connection, task_id: str, runtime: lifecycle.Runtime) -> None:
        tx.execute(
            "UPDATE tasks SET queued_us = ?, polls = ?, step_index = ?, started_us = ?, completed_us = ?,"
            " cancelled_us = ? WHERE id = ?",
            (*_runtime_columns(runtime), task_id),
        )


def _runtime(columns: tuple[Any, ...]) -> lifecycle.Runtime:
    """The Runtime of stored columns (rev first)."""
    return lifecycle.Runtime(
        queued_at=db.from_us(columns[1]),
        polls=columns[2],
        step_index=columns[3],
        started_at=_maybe_time(columns[4]),
        completed_at=_maybe_time(columns[5]),
        cancelled_at=_maybe_time(columns[6]),
    )


def _maybe_time(value: int | None) -> datetime | None:
    return None if value is None else db.from_us(value)


def _maybe_us(value: datetime | None) -> int | None:
    return None if value is None else db.to_us(value)


def _runtime_columns(runtime: lifecycle.Runtime) -> tuple[int | None, ...]:
    return (
        db.to_us(runtime.queued_at),
        runtime.polls,
        runtime.step_index,
        _maybe_us(runtime.started_at),
        _maybe_us(runtime.completed_at),
        _maybe_us(runtime.cancelled_at),
    )


def _spec_to_json(spec: TaskSpec) -> str:
    return json.dumps(taskfile.spec_to_dict(spec), separators=(",", ":"))


def _spec_from_json(text: str) -> TaskSpec:
    return taskfile.spec_from_stored(json.loads(text))


def _check_spec(spec: TaskSpec) -> None:
    taskfile.check_spec(spec, f"task {spec.id!r}")


def _spec_rows(specs: Sequence[TaskSpec]) -> list[tuple[str, int, str]]:
    for spec in specs:
        _check_spec(spec)
    ids = [spec.id for spec in specs]
    duplicates = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if duplicates:
        raise VismockError(f"duplicate task ids: {', '.join(duplicates)}")
    return [(spec.id, seq, _spec_to_json(spec)) for seq, spec in enumerate(specs, 1)]
