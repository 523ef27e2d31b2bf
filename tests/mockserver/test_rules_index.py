"""tests/mockserver/RULES.md stays true: every test it names exists, and every rule test is named in it."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
INDEX = (HERE / "RULES.md").read_text()
FAMILIES = sorted(module.stem.removeprefix("test_rules_") for module in HERE.glob("test_rules_*.py"))
# "lifecycle::name" is test_rules_lifecycle.py::test_name (the index's own shorthand)
NAMED = set(re.findall(rf"(?<![\w/.])({'|'.join(FAMILIES)})::([a-z0-9_]+)", INDEX)) - {("lifecycle", "name")}


def defined() -> set[tuple[str, str]]:
    found = set()
    for module in HERE.glob("test_rules_*.py"):
        family = module.stem.removeprefix("test_rules_")
        found |= {
            (family, name) for name in re.findall(r"^def test_(\w+)\(", module.read_text(), re.MULTILINE)
        }
    return found


def test_every_test_the_index_names_exists() -> None:
    assert sorted(NAMED - defined()) == []


def test_every_rule_test_is_in_the_index() -> None:
    assert sorted(name for name in defined() - NAMED if name[0] != "index") == []
