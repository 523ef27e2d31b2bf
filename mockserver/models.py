"""The mock vCenter's state: tasks, their lifecycles, clock, journal, fault rules, sessions.

One :class:`Backend` holds everything in an embedded SQLite database (WAL mode)
so that every worker process of the server sees the same state; the same class
serves in-process use (tests) and server mode. ``reset()`` returns to the
loaded task file. Handlers in ``responses.py`` / ``soap.py`` call it and render
what it returns; it never renders XML itself.

INTERFACE CONTRACT (shared by the web, SOAP and adapter modules): the names and
signatures below are fixed; bodies marked TODO are being implemented.
"""

from __future__ import annotations

import hmac
import json
import random
import secrets
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from vismock.errors import VismockError
from vismock.faults import InvalidState, NotSupported, TaskNotFound
from vismock.mockserver import lifecycle, store
from vismock.schemas import fault_types

Progression = Literal["time", "polls", "manual"]
State = Literal["queued", "running", "success", "error"]
ReasonKind = Literal["user", "alarm", "schedule", "system"]
Face = Literal["adapter", "soap", "admin"]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the task runs: vim25 TaskReasonUser / Alarm / Schedule / System."""

    kind: ReasonKind = "user"
    user_name: str | None = None  # user
    alarm: str | None = None  # alarm: Alarm moref id
    alarm_name: str | None = None
    entity: str | None = None  # alarm: entity moref id
    entity_name: str | None = None
    name: str | None = None  # schedule: scheduled task name
    scheduled_task: str | None = None  # schedule: ScheduledTask moref id


@dataclass(frozen=True, slots=True)
class Step:
    """One point of a task's timeline.

    ``at`` is seconds after queueing (progression "time") or the number of
    polls (progression "polls"); in "manual" mode steps are taken in order by
    the admin API and ``at`` is ignored. The last step is terminal when its
    state is success or error.
    """

    state: State
    at: float = 0
    progress: int | None = None
    result: str | None = None  # success: the result (e.g. a moref id)
    fault: str | None = None  # error: vim25 fault type name
    message: str | None = None  # error: localized message


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A canned task as the task file (or the admin API) defines it; maps 1:1 to TaskInfo."""

    id: str  # "task-525"; also TaskInfo key and Task
    name: str  # vim25 method name, "PowerOnVM_Task"
    description_id: str  # "VirtualMachine.powerOn"
    entity_type: str | None = None  # "VirtualMachine" (an element of the ManagedEntity group)
    entity_id: str | None = None  # "vm-42"
    entity_name: str | None = None
    reason: Reason = field(default_factory=Reason)
    cancelable: bool = False
    event_chain_id: int = 0
    progression: Progression = "time"
    timeline: tuple[Step, ...] = (Step(state="success"),)
    queued_at: datetime | None = None  # fixed queueTime; None: when the task is (re)loaded
    description: str | None = None  # optional LocalizableMessage message
    change_tag: str | None = None
    parent_task_key: str | None = None
    root_task_key: str | None = None
    activation_id: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the mock saw it. Passwords never reach here."""

    time: datetime
    face: Face
    operation: str  # "Retrieve_Task_Status", a SOAP method name, or an admin route
    task_ids: tuple[str, ...] = ()
    user: str | None = None
    outcome: str = "ok"  # "ok", or a fault type / "invalid" / "fault-injected"
    http_status: int = 200
    latency_ms: float = 0.0
    id: int | None = None  # assigned by the journal
    # The reset generation the request started in; an entry of an earlier one is not written.
    generation: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Misbehave on matching requests: for the next ``times`` ones or with ``probability``.

    Matches when every given selector matches (None matches anything).
    ``action``: "delay" (``delay_seconds`` then answer normally), "status" (answer
    ``http_status`` with an error body), "error" (a well-formed error envelope /
    SOAP fault of ``fault`` with ``message``), "malformed" (a truncated body),
    "drop" (close the connection without answering).
    """

    action: Literal["delay", "status", "error", "malformed", "drop"]
    task: str | None = None
    operation: str | None = None
    face: Face | None = None
    times: int | None = 1  # None: unlimited (then probability applies)
    probability: float = 1.0
    delay_seconds: float = 0.0
    http_status: int = 500
    fault: str = "SystemError"
    message: str = "fault injected by vismock"
    id: int | None = None


class Backend:
    """All mock state, shared across worker processes through one SQLite file."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        tasks: Sequence[TaskSpec] = (),
        accounts: Mapping[str, str] | None = None,
        journal_cap: int = 10_000,
        session_cap: int = 10_000,
        session_lifetime: float | None = None,
        dynamic: bool = False,
    ) -> None:
        """*path* None: a private temporary database. *accounts* None: vismock/vismock.

        *session_cap*: at most that many SOAP sessions are kept (the oldest are ended, as
        clients that never log out would otherwise grow the store); *session_lifetime*:
        seconds of mock-clock time after which a session is no longer accepted (None: never).
        *dynamic*: a task id not in the store reads as a generated, schema-valid TaskInfo, the same
        for the same id every time (vismock.mockserver.dynamic), instead of raising TaskNotFound.

        Opening an existing database keeps its tasks, rules and clock (restart-safe);
        *tasks* become the "loaded file" that ``reset()`` returns to. A fresh database
        also starts with *tasks* live. Opening an existing one with no *tasks* keeps its
        loaded set (e.g. a second process attaching to a running server's state).
        """
        if journal_cap < 1 or session_cap < 1:
            raise VismockError(
                f"journal_cap and session_cap must be at least 1, not {journal_cap}, {session_cap}"
            )
        if session_lifetime is not None and not session_lifetime > 0:
            raise VismockError(f"session_lifetime must be positive seconds or None, not {session_lifetime}")
        self._tempdir: str | None = None
        if path is None:
            self._tempdir = tempfile.mkdtemp(prefix="vismock-")
            path = Path(self._tempdir) / "state.sqlite3"
        self.path = Path(path)
        self._db = store.Database(self.path)
        self._finalizer = weakref.finalize(self, _cleanup, self._db, self._tempdir)
        self._accounts = dict(accounts) if accounts is not None else dict(DEFAULT_ACCOUNTS)
        self._journal_cap = journal_cap
        self._session_cap = session_cap
        self._session_lifetime_us = None if session_lifetime is None else round(session_lifetime * 1_000_000)
        # In-process caches of immutable data, keyed so that writes by any process invalidate them.
        self._specs: dict[str, tuple[int, TaskSpec]] = {}
        self._rules: dict[int, FaultRule] = {}
        self._rendered: dict[
            tuple[str, tuple[Any, ...]], tuple[lifecycle.Runtime, dict[int, dict[str, Any]]]
        ] = {}
        self.dynamic = dynamic
        self._load(tasks)

    @property
    def database(self) -> store.Database:
        """The SQLite database behind this Backend (other faces keep their own tables in it)."""
        return self._db

    @property
    def sessions_expire(self) -> bool:
        """True when sessions end after a lifetime on the mock's clock (so a session's user can change)."""
        return self._session_lifetime_us is not None

    def generation(self) -> int:
        """How many resets this state has seen (any process's): a request notes it when it starts."""
        return self._db.revision.generation()

    def close(self) -> None:
        """Close this process's connections (and delete a private temporary database)."""
        self._finalizer()

    def _load(self, tasks: Sequence[TaskSpec]) -> None:
        """Make *tasks* the loaded set. A fresh database starts them; an existing one keeps its live
        state when it was loaded with the same set (a restart), and otherwise starts the new set
        (the tasks given now win), saying so in :attr:`load_notice`."""
        rows = _spec_rows(tasks)
        self.load_notice: str | None = None
        with self._db.write() as tx:
            fresh = tx.execute("SELECT 1 FROM meta WHERE key = 'initialized'").fetchone() is None
            loaded = [tuple(row) for row in tx.execute("SELECT id, seq, spec FROM loaded ORDER BY seq")]
            another_set = not fresh and bool(rows) and loaded != rows
            if fresh or another_set:
                tx.execute("DELETE FROM loaded")
                tx.executemany("INSERT INTO loaded (id, seq, spec) VALUES (?, ?, ?)", rows)
                tx.execute("DELETE FROM tasks")
                self._insert_tasks(tx, tasks, self._now_us(tx))
            if fresh:
                tx.execute("INSERT INTO meta (key, value) VALUES ('initialized', '1')")
            elif another_set:
                self.load_notice = (
                    f"{self.path} held another task set; serving the {len(rows)} task(s) given now"
                    " (their lifecycles start over; journal, fault rules and clock are kept)"
                )

    def reset(self) -> None:
        """Tasks back to the loaded set (lifecycles restart), journal, rules, sessions cleared, clock real."""
        with self._db.write() as tx:
            # Inside the transaction: a journal write after this reset sees the new generation.
            self._db.revision.bump(generation=True)
            tx.execute("UPDATE clock SET frozen_us = NULL, offset_us = 0")
            for table in ("tasks", "journal", "faults", "sessions", "soap_filters"):
                tx.execute(f"DELETE FROM {table}")
            loaded = tx.execute("SELECT spec FROM loaded ORDER BY seq").fetchall()
            specs = [_spec_from_json(text) for (text,) in loaded]
            self._insert_tasks(tx, specs, self._now_us(tx))

    # -- tasks -----------------------------------------------------------------------
    def list_tasks(self) -> list[TaskSpec]:
        rows = self._db.connection().execute("SELECT id, rev, spec FROM tasks ORDER BY seq").fetchall()
        return [self._cached_spec(task_id, rev, text) for task_id, rev, text in rows]

    def get_task(self, task_id: str) -> TaskSpec:
        """Raises vismock.faults.TaskNotFound."""
        row = self._db.connection().execute("SELECT rev, spec FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(task_id)
        return self._cached_spec(task_id, row[0], row[1])

    def put_tasks(self, specs: Iterable[TaskSpec]) -> None:
        """Add or replace; a replaced task's lifecycle restarts (queued at ``now()``)."""
        specs = list(specs)
        for spec in specs:
            _check_spec(spec)
        with self._db.write() as tx:
            self._insert_tasks(tx, specs, self._now_us(tx))

    def restart_task(self, task_id: str) -> None:
        """Start a task's lifecycle over (queued at ``now()``, or its fixed queueTime)."""
        self.put_tasks([self.get_task(task_id)])

    def delete_task(self, task_id: str) -> None:
        """Raises vismock.faults.TaskNotFound if there is no such task."""
        with self._db.write() as tx:
            if tx.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount == 0:
                raise TaskNotFound(task_id)

    def task_info(self, task_id: str, *, poll: bool = True) -> dict[str, Any]:
        """The task's vim25 TaskInfo now, as a dict in vismock.codec's decode form.

        ``poll`` counts this read for "polls" progression (a client reading the task);
        pass False for internal peeks (WaitForUpdates re-checks, admin views).
        Raises vismock.faults.TaskNotFound (in dynamic mode: a generated TaskInfo instead).
        """
        try:
            spec, runtime, now, rendered = self._read_task(self._db.connection(), task_id)
        except TaskNotFound:
            if not self.dynamic:
                raise
            from vismock.mockserver.dynamic import dynamic_task_info  # only dynamic servers pay for it

            return dynamic_task_info(task_id)
        if poll and lifecycle.counts_polls(spec, runtime):
            # Counting a poll is read-modify-write: do it again inside a write transaction.
            with self._db.write() as tx:
                spec, runtime, now, _ = self._read_task(tx, task_id)
                shown, stored = lifecycle.after_poll(spec, runtime, now)
                if stored != runtime:
                    self._save_runtime(tx, task_id, stored)
            return lifecycle.task_info(spec, shown, now)
        return self._render(spec, runtime, now, rendered)

    def task_infos(self, task_ids: Sequence[str], *, poll: bool = True) -> list[dict[str, Any]]:
        """``task_info`` of each id, in order (raises TaskNotFound for the first unknown one)."""
        return [self.task_info(task_id, poll=poll) for task_id in task_ids]

    def advance_task(self, task_id: str, steps: int = 1) -> dict[str, Any]:
        """Manual progression: take the next *steps* timeline steps; returns the new TaskInfo.

        Raises InvalidState for a task whose progression is not "manual".
        """
        with self._db.write() as tx:
            spec, runtime, now, _ = self._read_task(tx, task_id)
            if spec.progression != "manual":
                raise InvalidState(f"Task {task_id} progresses by {spec.progression}, not manually")
            runtime = lifecycle.advance(spec, runtime, steps, now)
            self._save_runtime(tx, task_id, runtime)
        return lifecycle.task_info(spec, runtime, now)

    def cancel_task(self, task_id: str) -> None:
        """vim25 CancelTask: NotSupported if not cancelable, InvalidState if already finished;
        otherwise the task ends in error with RequestCanceled and cancelled=true."""
        with self._db.write() as tx:
            spec, runtime, now, _ = self._read_task(tx, task_id)
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

    def _read_task(
        self, conn: sqlite3.Connection, task_id: str
    ) -> tuple[TaskSpec, lifecycle.Runtime, datetime, dict[int, dict[str, Any]]]:
        """The task's spec, runtime, the mock's now and the runtime's render cache, in one SELECT
        (two on a spec cache miss)."""
        row = conn.execute(_SELECT_TASK, (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(task_id)
        cached = self._specs.get(task_id)
        if cached is not None and cached[0] == row[0]:
            spec = cached[1]
        else:
            row = conn.execute(_SELECT_TASK_AND_SPEC, (task_id,)).fetchone()
            if row is None:
                raise TaskNotFound(task_id)
            spec = self._cached_spec(task_id, row[0], row[9])
        runtime, rendered = self._runtime(task_id, row[:7])
        return spec, runtime, store.from_us(store.clock_now_us(row[7], row[8])), rendered

    def _runtime(
        self, task_id: str, columns: tuple[Any, ...]
    ) -> tuple[lifecycle.Runtime, dict[int, dict[str, Any]]]:
        """The Runtime of these stored columns (rev first), and its rendered TaskInfos by step index.

        A TaskInfo depends on the clock only through the step it shows, so rendering is cached
        per (task, spec rev, runtime columns, step): the hot path is one SELECT and a dict copy.
        """
        key = (task_id, columns)
        cached = self._rendered.get(key)
        if cached is None:
            if len(self._rendered) >= _RENDER_CACHE_LIMIT:
                self._rendered.clear()  # bounded: polls tasks make a new key per counted read
            runtime = lifecycle.Runtime(
                queued_at=store.from_us(columns[1]),
                polls=columns[2],
                step_index=columns[3],
                started_at=_maybe_time(columns[4]),
                completed_at=_maybe_time(columns[5]),
                cancelled_at=_maybe_time(columns[6]),
            )
            cached = self._rendered[key] = (runtime, {})
        return cached

    def _render(
        self, spec: TaskSpec, runtime: lifecycle.Runtime, now: datetime, rendered: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        index = lifecycle.current_index(spec, runtime, now)
        info = rendered.get(index)
        if info is None:
            info = rendered[index] = lifecycle.task_info(spec, runtime, now)
        return dict(info)

    def _cached_spec(self, task_id: str, rev: int, text: str) -> TaskSpec:
        cached = self._specs.get(task_id)
        if cached is not None and cached[0] == rev:
            return cached[1]
        spec = _spec_from_json(text)
        if len(self._specs) >= _SPEC_CACHE_LIMIT:
            self._specs.clear()  # bounded even if tasks come and go for a long time
        self._specs[task_id] = (rev, spec)
        return spec

    def _insert_tasks(self, tx: sqlite3.Connection, specs: Iterable[TaskSpec], now_us: int) -> None:
        now = store.from_us(now_us)
        for spec in specs:
            runtime = lifecycle.initial_runtime(spec, now)
            tx.execute(
                _UPSERT_TASK,
                (spec.id, secrets.randbits(62), _spec_to_json(spec), *_runtime_columns(runtime)),
            )

    @staticmethod
    def _save_runtime(tx: sqlite3.Connection, task_id: str, runtime: lifecycle.Runtime) -> None:
        tx.execute(
            "UPDATE tasks SET queued_us = ?, polls = ?, step_index = ?, started_us = ?, completed_us = ?,"
            " cancelled_us = ? WHERE id = ?",
            (*_runtime_columns(runtime), task_id),
        )

    # -- clock ------------------------------------------------------------------------
    def now(self) -> datetime:
        """The mock's clock (aware UTC): real time unless frozen, plus any advance."""
        return store.from_us(self._now_us(self._db.connection()))

    @staticmethod
    def _now_us(conn: sqlite3.Connection) -> int:
        frozen_us, offset_us = conn.execute("SELECT frozen_us, offset_us FROM clock").fetchone()
        return store.clock_now_us(frozen_us, offset_us)

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at *at* (aware) or at the current mock time.

        *at* may lie before the clock (tests pin a fixed instant). Time then runs back for tasks
        wholly before *at*, which show the state they had at *at*; a task whose lifecycle recorded
        anything after *at* (queued, started, finished or cancelled) would show times in the
        future, so it starts over instead, queued at *at*. No TaskInfo ever shows a time after now.
        """
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise VismockError("freeze(at=...) needs an aware datetime (with a time zone)")
        if at is not None and not CLOCK_RANGE[0] <= at <= CLOCK_RANGE[1]:
            raise VismockError(f"freeze(at={at.isoformat()}): the clock stays within years 1970..8999")
        with self._db.write() as tx:
            frozen_us = store.to_us(at) if at is not None else self._now_us(tx)
            if frozen_us < self._now_us(tx):
                self._restart_tasks_after(tx, frozen_us)
            tx.execute("UPDATE clock SET frozen_us = ?", (frozen_us,))
        return store.from_us(frozen_us)

    def _restart_tasks_after(self, tx: sqlite3.Connection, moment_us: int) -> None:
        """Start over, queued at *moment_us*, every task with a recorded time after it."""
        rows = tx.execute(
            "SELECT id, rev, spec FROM tasks WHERE queued_us > ?1 OR started_us > ?1 OR completed_us > ?1"
            " OR cancelled_us > ?1",
            (moment_us,),
        ).fetchall()
        moment = store.from_us(moment_us)
        for task_id, rev, text in rows:
            runtime = lifecycle.restarted_at(self._cached_spec(task_id, rev, text), moment)
            self._save_runtime(tx, task_id, runtime)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (frozen or running) by *seconds* (>= 0)."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise VismockError(
                f"advance({seconds!r}): the clock moves forward by 0..{MAX_ADVANCE_SECONDS} seconds at a time"
            )
        delta_us = round(seconds * 1_000_000)
        with self._db.write() as tx:
            tx.execute(
                "UPDATE clock SET frozen_us = frozen_us + ?, offset_us = CASE WHEN frozen_us IS NULL"
                " THEN offset_us + ? ELSE offset_us END",
                (delta_us, delta_us),
            )
            now = store.from_us(self._now_us(tx))
            if now > CLOCK_RANGE[1]:
                raise VismockError(f"advance({seconds!r}) would take the clock past year 8999")
            return now

    def resume(self) -> datetime:
        """Let the clock run again from where it stands (it never jumps backwards)."""
        with self._db.write() as tx:
            now_us = self._now_us(tx)
            tx.execute("UPDATE clock SET frozen_us = NULL, offset_us = ?", (now_us - store.real_time_us(),))
        return store.from_us(now_us)

    def clock_state(self) -> dict[str, Any]:
        """``{"now": datetime, "frozen": bool, "offset_seconds": float}`` for the admin API."""
        frozen_us, offset_us = (
            self._db.connection().execute("SELECT frozen_us, offset_us FROM clock").fetchone()
        )
        now_us = store.clock_now_us(frozen_us, offset_us)
        return {
            "now": store.from_us(now_us),
            "frozen": frozen_us is not None,
            "offset_seconds": (now_us - store.real_time_us()) / 1_000_000,
        }

    # -- accounts and SOAP sessions ---------------------------------------------------------
    def check_login(self, user: str, password: str) -> bool:
        expected = self._accounts.get(user)
        # Compare in constant time, and spend the same effort for unknown users.
        reference = (expected if expected is not None else password + "\0").encode()
        return hmac.compare_digest(reference, password.encode()) and expected is not None

    def create_session(self, user: str) -> str:
        """A new session key (the vmware_soap_session cookie value)."""
        key = secrets.token_hex(20)
        with self._db.write() as tx:
            cursor = tx.execute(
                "INSERT INTO sessions (key, user, created_us) VALUES (?, ?, ?)", (key, user, self._now_us(tx))
            )
            newest = cursor.lastrowid or 0
            tx.execute("DELETE FROM sessions WHERE rowid <= ?", (newest - self._session_cap,))
        return key

    def session_user(self, key: str) -> str | None:
        """The user of a live session, or None for unknown / ended / expired keys."""
        row = self._db.connection().execute(_SELECT_SESSION, (key,)).fetchone()
        if row is None:
            return None
        user, created_us, frozen_us, offset_us = row
        lifetime = self._session_lifetime_us
        if lifetime is not None and store.clock_now_us(frozen_us, offset_us) - created_us > lifetime:
            return None
        return str(user)

    def end_session(self, key: str) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM sessions WHERE key = ?", (key,))

    # -- journal ----------------------------------------------------------------------------
    def record(self, entry: JournalEntry) -> None:
        """Append; the oldest entries beyond ``journal_cap`` are dropped."""
        self.record_many([entry])

    def journal(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Matching entries, oldest first; *limit*: only the newest *limit* of them."""
        where, params = _journal_filter(task, outcome, face, operation)
        sql = (
            "SELECT id, time_us, face, operation, task_ids, user, outcome, http_status, latency_ms"
            f" FROM journal{where} ORDER BY id DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        rows = self._db.connection().execute(sql, params).fetchall()
        return [_journal_entry(row) for row in reversed(rows)]

    def count_requests(
        self,
        *,
        task: str | None = None,
        outcome: str | None = None,
        face: Face | None = None,
        operation: str | None = None,
    ) -> int:
        where, params = _journal_filter(task, outcome, face, operation)
        row = self._db.connection().execute(f"SELECT COUNT(*) FROM journal{where}", params).fetchone()
        return int(row[0])

    def clear_journal(self) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM journal")

    # -- fault rules --------------------------------------------------------------------------
    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Store *rule*; returns it with its id."""
        _check_rule(rule)
        text = json.dumps({name: getattr(rule, name) for name in _RULE_FIELDS})
        with self._db.write() as tx:
            cursor = tx.execute("INSERT INTO faults (rule, remaining) VALUES (?, ?)", (text, rule.times))
            rule_id = cursor.lastrowid
        return replace(rule, id=rule_id)

    def list_faults(self) -> list[FaultRule]:
        """Active rules in the order they are tried, ``times`` being what remains."""
        rows = self._db.connection().execute("SELECT id, rule, remaining FROM faults ORDER BY id").fetchall()
        return [
            replace(self._cached_rule(rule_id, text), times=remaining) for rule_id, text, remaining in rows
        ]

    def clear_faults(self) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM faults")

    def delete_fault(self, rule_id: int) -> bool:
        """Remove one rule; False if there was none with that id."""
        with self._db.write() as tx:
            return tx.execute("DELETE FROM faults WHERE id = ?", (rule_id,)).rowcount > 0

    def take_fault(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> FaultRule | None:
        """The first rule matching this request, consumed atomically (``times`` decremented
        across all workers), or None. Probability is drawn here.

        Rules are tried in id order; a matching rule fires with its probability, and only
        a firing consumes one of its ``times`` (an exhausted rule is removed).
        """
        conn = self._db.connection()
        # Fast path (every request): no write transaction unless a rule matches and is drawn to fire.
        rows = conn.execute("SELECT id, rule FROM faults ORDER BY id").fetchall()
        # Draw each matching rule's probability before taking the write lock: only rules that
        # would fire need the atomic check-and-decrement.
        firing = [
            rule
            for rule in (self._cached_rule(rule_id, text) for rule_id, text in rows)
            if _rule_matches(rule, face, operation, task_ids) and random.random() < rule.probability
        ]
        if not firing:
            return None
        with self._db.write() as tx:
            for rule in firing:
                row = tx.execute("SELECT remaining FROM faults WHERE id = ?", (rule.id,)).fetchone()
                if row is None:
                    continue  # used up meanwhile by another worker
                remaining = row[0]
                if remaining is None:
                    return rule
                if remaining <= 1:
                    tx.execute("DELETE FROM faults WHERE id = ?", (rule.id,))
                else:
                    tx.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (rule.id,))
                return replace(rule, times=remaining - 1)
        return None

    def _cached_rule(self, rule_id: int, text: str) -> FaultRule:
        rule = self._rules.get(rule_id)
        if rule is None:
            fields = json.loads(text)
            rule = FaultRule(**fields, id=rule_id)
            if len(self._rules) >= _RULE_CACHE_LIMIT:
                self._rules.clear()
            self._rules[rule_id] = rule
        return rule

    def record_many(self, entries: Sequence[JournalEntry]) -> None:
        """Append several entries in one transaction (one trim to ``journal_cap`` at the end)."""
        if not entries:
            return
        with self._db.write(changes_state=False) as tx:
            # Read in the transaction: a reset (which raises it in its own) is wholly before or after.
            generation = self._db.revision.generation()
            self._insert_journal(tx, [entry for entry in entries if entry.generation in (None, generation)])

    def _insert_journal(self, tx: sqlite3.Connection, entries: Sequence[JournalEntry]) -> None:
        rows = [
            (
                store.to_us(entry.time),
                entry.face,
                entry.operation,
                json.dumps(list(entry.task_ids)),
                entry.user,
                entry.outcome,
                entry.http_status,
                entry.latency_ms,
            )
            for entry in entries
        ]
        if rows:
            tx.executemany(
                "INSERT INTO journal (time_us, face, operation, task_ids, user, outcome, http_status,"
                " latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            newest = tx.execute("SELECT MAX(id) FROM journal").fetchone()[0] or 0
            tx.execute("DELETE FROM journal WHERE id <= ?", (newest - self._journal_cap,))


DEFAULT_ACCOUNTS: Mapping[str, str] = {"vismock": "vismock"}
# Far from datetime's limits even with a timeline's offsets added.
CLOCK_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, tzinfo=UTC))
MAX_ADVANCE_SECONDS = 100 * 365 * 86_400  # a century: far past any timeline, far from datetime's limits
_RENDER_CACHE_LIMIT = 4096
_SPEC_CACHE_LIMIT = 4096
_RULE_CACHE_LIMIT = 1024
_SELECT_SESSION = (
    "SELECT s.user, s.created_us, c.frozen_us, c.offset_us FROM sessions s, clock c WHERE s.key = ?"
)
_RULE_FIELDS = tuple(name for name in FaultRule.__dataclass_fields__ if name != "id")
_FAULT_ACTIONS = ("delay", "status", "error", "malformed", "drop")
_TASK_COLUMNS = "t.rev, t.queued_us, t.polls, t.step_index, t.started_us, t.completed_us, t.cancelled_us"
_SELECT_TASK = f"SELECT {_TASK_COLUMNS}, c.frozen_us, c.offset_us FROM tasks t, clock c WHERE t.id = ?"
_SELECT_TASK_AND_SPEC = (
    f"SELECT {_TASK_COLUMNS}, c.frozen_us, c.offset_us, t.spec FROM tasks t, clock c WHERE t.id = ?"
)
_UPSERT_TASK = """
    INSERT INTO tasks
        (id, seq, rev, spec, queued_us, polls, step_index, started_us, completed_us, cancelled_us)
    VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, spec = excluded.spec, queued_us = excluded.queued_us,
        polls = excluded.polls, step_index = excluded.step_index, started_us = excluded.started_us,
        completed_us = excluded.completed_us, cancelled_us = excluded.cancelled_us
"""


def _cleanup(db: store.Database, tempdir: str | None) -> None:
    db.close()
    if tempdir is not None:
        shutil.rmtree(tempdir, ignore_errors=True)


def _maybe_time(value: int | None) -> datetime | None:
    return None if value is None else store.from_us(value)


def _maybe_us(value: datetime | None) -> int | None:
    return None if value is None else store.to_us(value)


def _runtime_columns(runtime: lifecycle.Runtime) -> tuple[int | None, ...]:
    return (
        store.to_us(runtime.queued_at),
        runtime.polls,
        runtime.step_index,
        _maybe_us(runtime.started_at),
        _maybe_us(runtime.completed_at),
        _maybe_us(runtime.cancelled_at),
    )


def _spec_to_json(spec: TaskSpec) -> str:
    from vismock.mockserver.taskfile import spec_to_dict  # here: taskfile imports this module

    return json.dumps(spec_to_dict(spec), separators=(",", ":"))


def _spec_from_json(text: str) -> TaskSpec:
    from vismock.mockserver.taskfile import spec_from_dict

    return spec_from_dict(json.loads(text), "stored task")


def _check_spec(spec: TaskSpec) -> None:
    from vismock.mockserver.taskfile import check_spec

    check_spec(spec, f"task {spec.id!r}")


def _spec_rows(specs: Sequence[TaskSpec]) -> list[tuple[str, int, str]]:
    for spec in specs:
        _check_spec(spec)
    ids = [spec.id for spec in specs]
    duplicates = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if duplicates:
        raise VismockError(f"duplicate task ids: {', '.join(duplicates)}")
    return [(spec.id, seq, _spec_to_json(spec)) for seq, spec in enumerate(specs, 1)]


def _check_rule(rule: FaultRule) -> None:
    problems = []
    if rule.action not in _FAULT_ACTIONS:
        problems.append(f"action {rule.action!r} is not one of {', '.join(_FAULT_ACTIONS)}")
    if rule.times is not None and rule.times < 1:
        problems.append(f"times must be at least 1 (or None for unlimited), got {rule.times}")
    if not 0.0 <= rule.probability <= 1.0:
        problems.append(f"probability must be within 0..1, got {rule.probability}")
    if not 0.0 <= rule.delay_seconds < float("inf"):
        problems.append(f"delay_seconds must be >= 0, got {rule.delay_seconds}")
    if not 100 <= rule.http_status <= 599:
        problems.append(f"http_status must be within 100..599, got {rule.http_status}")
    if rule.fault not in fault_types():  # both faces must name the same fault
        problems.append(f"fault {rule.fault!r} is not a vim25 fault type vismock serves")
    if problems:
        raise VismockError("invalid fault rule: " + "; ".join(problems))


def _rule_matches(rule: FaultRule, face: str, operation: str, task_ids: Sequence[str]) -> bool:
    return (
        (rule.face is None or rule.face == face)
        and (rule.operation is None or rule.operation == operation)
        and (rule.task is None or rule.task in task_ids)
    )


def _journal_filter(
    task: str | None, outcome: str | None, face: str | None, operation: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if task is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(journal.task_ids) WHERE value = ?)")
        params.append(task)
    for column, value in (("outcome", outcome), ("face", face), ("operation", operation)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _journal_entry(row: tuple[Any, ...]) -> JournalEntry:
    entry_id, time_us, face, operation, task_ids, user, outcome, http_status, latency_ms = row
    return JournalEntry(
        time=store.from_us(time_us),
        face=face,
        operation=operation,
        task_ids=tuple(json.loads(task_ids)),
        user=user,
        outcome=outcome,
        http_status=http_status,
        latency_ms=latency_ms,
        id=entry_id,
    )
