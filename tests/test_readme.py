"""The README's example and commands are the ones the suite runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_example_is_the_tested_file() -> None:
    block = re.search(
        r"<!-- readme-example:start -->\n```python\n(.*?)```\n<!-- readme-example:end -->", README, re.S
    )
    assert block is not None, "README lost its example markers"
    assert block.group(1) == (ROOT / "tests" / "test_readme_example.py").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    test_command = 'pip install -e ".[test]" && python -m pytest'
    assert f"    {test_command}\n" in README
    ci_commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == [test_command]
