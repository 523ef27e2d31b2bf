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


def test_ci_runs_the_readme_test_command_in_a_new_venv() -> None:
    """CI must not see packages installed by hand: it makes its own venv and runs the README's
    test command, as it stands in the README, inside it."""
    test_command = 'pip install -e ".[test,ansible]" && python -m pytest'
    assert f"    {test_command}\n" in README
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in script.splitlines() if line and not line.lstrip().startswith("#")]
    venv = next(i for i, line in enumerate(commands) if re.match(r'python3 -m venv "\$work/venv"$', line))
    activate = commands.index('. "$work/venv/bin/activate"')
    assert "mktemp -d" in script and venv < activate < commands.index(test_command)
    assert commands[-1] == test_command


def test_readme_pipeline_example_is_the_tested_file() -> None:
    block = re.search(
        r"<!-- readme-pipeline:start -->\n```python\n(.*?)```\n<!-- readme-pipeline:end -->", README, re.S
    )
    assert block is not None, "README lost its pipeline example markers"
    assert block.group(1) == (ROOT / "tests" / "test_readme_pipeline.py").read_text(encoding="utf-8")
