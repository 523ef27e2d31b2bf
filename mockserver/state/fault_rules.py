"""Fault rules: misbehave on matching requests, for the next N of them or with a probability.

Consuming a rule is atomic across worker processes (one ``BEGIN IMMEDIATE`` transaction), so a
rule with ``times=N`` fires exactly N times however many workers serve.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import get_args

from vismock.errors import VismockError
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.state import db
from vismock.mockserver.state.models import Face, FaultAction, FaultRule
from vismock.schemas import fault_types

FAULT_ACTIONS: tuple[str, ...] = get_args(FaultAction)
RULE_CACHE_SIZE = 1024
_RULE_FIELDS = tuple(name for name in FaultRule.__dataclass_fields__ if name != "id")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, remaining INTEGER)""",
)


class FaultRules:
    def __init__(self, database: db.Database) -> None:
        self._db = database
        database.create_tables(SCHEMA)
        self._rules: BoundedCache[int, FaultRule] = BoundedCache(RULE_CACHE_SIZE)  # rules never change
        self._stored: tuple[int, bool] = (-1, True)  # (revision, whether any rule was stored then)

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM faults")

    def add(self, rule: FaultRule) -> FaultRule:
        """Store *rule*; returns it with its id."""
        check_rule(rule)
        text = json.dumps({name: getattr(rule, name) for name in _RULE_FIELDS})
        with self._db.write() as tx:
            cursor = tx.execute("INSERT INTO faults (rule, remaining) VALUES (?, ?)", (text, rule.times))
            rule_id = cursor.lastrowid
        return replace(rule, id=rule_id)

    def rules(self) -> list[FaultRule]:
        """Active rules in the order they are tried, ``times`` being what remains."""
        rows = self._db.connection().execute("SELECT id, rule, remaining FROM faults ORDER BY id").fetchall()
        return [replace(self._rule(rule_id, text), times=remaining) for rule_id, text, remaining in rows]

    def clear(self) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM faults")

    def delete(self, rule_id: int) -> bool:
        """Remove one rule; False if there was none with that id."""
        with self._db.write() as tx:
            return tx.execute("DELETE FROM faults WHERE id = ?", (rule_id,)).rowcount > 0

    def matching(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> list[FaultRule]:
        """The rules this request matches, in the order they are tried (none consumed)."""
        if not self.any_stored():
            return []
        rows = self._db.connection().execute("SELECT id, rule FROM faults ORDER BY id").fetchall()
        rules = (self._rule(rule_id, text) for rule_id, text in rows)
        return [rule for rule in rules if _matches(rule, face, operation, task_ids)]

    def any_stored(self) -> bool:
        """Whether any rule is stored: asked of SQLite once per settings revision (every request
        asks; a power operation's start leaves the rules alone)."""
        revision = self._db.revision.settings()  # before reading: a later change moves it again
        if self._stored[0] != revision:
            found = self._db.connection().execute("SELECT 1 FROM faults LIMIT 1").fetchone() is not None
            self._stored = (revision, found)
        return self._stored[1]

    def take(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> FaultRule | None:
        """The first rule matching this request that fires, consumed atomically (``times``
        decremented across all workers), or None.

        Rules are tried in id order; a matching rule fires with its probability, and only a
        firing consumes one of its ``times`` (an exhausted rule is removed).
        """
        # Draw each matching rule's probability before taking the write lock: only rules that
        # would fire need the atomic check-and-decrement (no write at all on most requests).
        firing = [
            rule
            for rule in self.matching(face=face, operation=operation, task_ids=task_ids)
            if random.random() < rule.probability
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

    def _rule(self, rule_id: int, text: str) -> FaultRule:
        return self._rules.get_or_make(rule_id, lambda: FaultRule(**json.loads(text), id=rule_id))


def check_rule(rule: FaultRule) -> None:
    problems = []
    if rule.action not in FAULT_ACTIONS:
        problems.append(f"action {rule.action!r} is not one of {', '.join(FAULT_ACTIONS)}")
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


def _matches(rule: FaultRule, face: str, operation: str, task_ids: Sequence[str]) -> bool:
    return (
        (rule.face is None or rule.face == face)
        and (rule.operation is None or rule.operation == operation)
        and (rule.task is None or rule.task in task_ids)
    )
