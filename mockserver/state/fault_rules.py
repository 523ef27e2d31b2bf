"""Fault rules: misbehave on matching requests, for the next N of them or with a probability.

The rules are one object of the registry: adding, consuming and clearing them are changes like any
other (atomic under the registry's lock, so a rule with ``times=N`` fires exactly N times however
many requests race for it; ``--db`` keeps them).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, get_args

from vismock.errors import VismockError
from vismock.mockserver.state.models import Face, FaultAction, FaultRule
from vismock.mockserver.state.registry import ManagedObject
from vismock.schemas import fault_types

FAULT_ACTIONS: tuple[str, ...] = get_args(FaultAction)
FAULT_RULES_ID = "vismock:faults"


class FaultRules(ManagedObject):
    """``rules``: the active rules in the order they are tried (``times``: what remains)."""

    vim_type = "vismock.FaultRules"
    served = False
    permanent = True

    def __init__(self, object_id: str = FAULT_RULES_ID, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"rules": (), "next_id": 1})

    def rules(self) -> list[FaultRule]:
        return list(self._props["rules"])

    def add(self, rule: FaultRule) -> FaultRule:
        """Store *rule*; returns it with its id."""
        check_rule(rule)
        with self.state.transaction():
            number = int(self._props["next_id"])
            added = replace(rule, id=number)
            self.update(rules=(*self._props["rules"], added), next_id=number + 1)
        return added

    def delete(self, rule_id: int) -> bool:
        """Remove one rule; False if there was none with that id."""
        with self.state.transaction():
            kept = tuple(rule for rule in self._props["rules"] if rule.id != rule_id)
            found = len(kept) != len(self._props["rules"])
            self.update(rules=kept)
        return found

    def clear(self) -> None:
        with self.state.transaction():
            self.update(rules=())

    def matching(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> list[FaultRule]:
        """The rules this request matches, in the order they are tried (none consumed)."""
        rules: tuple[FaultRule, ...] = self._props["rules"]
        return [rule for rule in rules if _matches(rule, face, operation, task_ids)] if rules else []

    def take(self, *, face: Face, operation: str, task_ids: Sequence[str] = ()) -> FaultRule | None:
        """The first rule matching this request that fires (with its probability), one of its
        ``times`` consumed (an exhausted rule is removed); None when none fires."""
        with self.state.transaction():
            for rule in self.matching(face=face, operation=operation, task_ids=task_ids):
                if random.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    left = rule.times - 1
                    rules = [
                        replace(r, times=left) if r.id == rule.id else r
                        for r in self._props["rules"]
                        if r.id != rule.id or left > 0
                    ]
                    self.update(rules=tuple(rules))
                    return replace(rule, times=left)
                return rule
        return None


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
