"""docs/ci.md's recipes, their shell steps run for real, as the runners run them.

The recipes are read from the document itself (the YAML blocks after ``<!-- ci-recipe: NAME -->``),
so what the page shows is what runs here. GitHub Actions: each ``run`` step in a ``bash -e`` of
its own, ``$GITHUB_ENV`` carried to the next steps, steps after a failure skipped unless ``if:
always()``. GitLab CI: ``before_script`` and ``script`` in one ``bash -e``, ``after_script`` in
another, run whatever happened. Not run: ``uses:`` actions and ``pip install`` lines (vismock is
installed in this environment). Each recipe runs as written and with its tests failing: either way
the journal and the log are kept and the server is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT
from tests.support.doc_blocks import marked_blocks

CI_DOC = ROOT / "docs" / "ci.md"
RECIPES = {block.argument: yaml.safe_load(block.code) for block in marked_blocks(CI_DOC, "ci-recipe")}
STEP_SECONDS = 60
FAILING_TESTS = ("<task>task-525</task>", "<task>task-999999</task>")  # the request then fails
BAD_TASK_FILE = ("vismock serve --port 0", "vismock serve --port 0 --tasks no-such-file.yaml")


@dataclass
class Run:
    """What a recipe left in its folder: each step's (name, status, output), the artifact paths."""

    folder: Path
    steps: list[tuple[str, int, str]] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)

    def report(self) -> str:
        return "\n".join(f"--- {name}: exit {status}\n{output}" for name, status, output in self.steps)


def bash(script: str, folder: Path, environment: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=STEP_SECONDS,
    )
    return done.returncode, done.stdout


def base_environment() -> dict[str, str]:
    """This environment with its own ``vismock`` first on PATH, as after the install step."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def installs(command: str) -> bool:
    return command.lstrip().startswith("pip install")


def run_github(recipe: dict[str, Any], folder: Path, tweak: tuple[str, str] | None = None) -> Run:
    (job,) = recipe["jobs"].values()
    run = Run(folder)
    github_env = folder / "github-env"
    github_env.touch()
    environment = {**base_environment(), "GITHUB_ENV": str(github_env)}
    failed = False
    for step in job["steps"]:
        if "uses" in step:
            if step["uses"].startswith("actions/upload-artifact@"):
                run.artifacts += step["with"]["path"].split()
            continue
        if installs(step["run"]) or (failed and step.get("if") != "always()"):
            continue
        script = step["run"] if tweak is None else step["run"].replace(*tweak)
        status, output = bash(script, folder, environment)
        run.steps.append((step["name"], status, output))
        failed = failed or status != 0
        for line in github_env.read_text().splitlines():  # what the step added, for the next ones
            name, _, value = line.partition("=")
            environment[name] = value
    return run


def run_gitlab(recipe: dict[str, Any], folder: Path, tweak: tuple[str, str] | None = None) -> Run:
    (job,) = recipe.values()
    run = Run(folder, artifacts=list(job["artifacts"]["paths"]))
    assert job["artifacts"]["when"] == "always"
    commands = [command for command in job["before_script"] + job["script"] if not installs(command)]
    script = "\n".join(commands) if tweak is None else "\n".join(commands).replace(*tweak)
    run.steps.append(("before_script + script", *bash(script, folder, base_environment())))
    run.steps.append(("after_script", *bash("\n".join(job["after_script"]), folder, base_environment())))
    return run


RUNNERS = {"github": run_github, "gitlab": run_gitlab}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """The job's working folder; a server a failed recipe left running is stopped by its id."""
    yield tmp_path
    pid_file = tmp_path / "vismock.pid"
    if pid_file.exists() and alive(int(pid_file.read_text())):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def test_the_page_has_both_recipes() -> None:
    assert set(RECIPES) == set(RUNNERS)


@pytest.mark.slow  # real `vismock serve` processes
@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_the_recipe_starts_serves_keeps_the_journal_and_stops(name: str, folder: Path) -> None:
    run = RUNNERS[name](RECIPES[name], folder)
    assert all(status == 0 for _, status, _ in run.steps), run.report()
    check_artifacts(run, answered="ok")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_when_the_tests_fail_the_journal_is_still_kept_and_the_server_stopped(
    name: str, folder: Path
) -> None:
    run = RUNNERS[name](RECIPES[name], folder, tweak=FAILING_TESTS)
    assert [status != 0 for _, status, _ in run.steps].count(True) == 1, run.report()  # the tests alone
    check_artifacts(run, answered="ManagedObjectNotFound")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_server_that_cannot_start_fails_the_start_saying_why(name: str, folder: Path) -> None:
    run = RUNNERS[name](RECIPES[name], folder, tweak=BAD_TASK_FILE)
    failed = [(step, output) for step, status, output in run.steps if status != 0]
    assert len(failed) == 1, run.report()  # the start, then nothing but the clean-up, which passes
    assert "vismock serve: " in failed[0][1] and "cannot read the task file" in failed[0][1], run.report()
    assert not any(step.startswith("Tests") for step, _, _ in run.steps)
    assert (folder / "vismock.log").is_file()


def check_artifacts(run: Run, answered: str) -> None:
    """The server stopped, and the artifacts exist: the journal holds the tests' request with
    outcome *answered*, the log its access line."""
    assert gone_within(int((run.folder / "vismock.pid").read_text()), 1), f"still running\n{run.report()}"
    assert sorted(run.artifacts) == ["vismock-journal.json", "vismock.log"], run.artifacts
    for name in run.artifacts:
        assert (run.folder / name).is_file(), f"{name} was not written\n{run.report()}"
    entries = json.loads((run.folder / "vismock-journal.json").read_text())["entries"]
    asked = [entry for entry in entries if entry["face"] == "adapter"]
    assert [(entry["operation"], entry["outcome"]) for entry in asked] == [("Retrieve_Task_Status", answered)]
    log = (run.folder / "vismock.log").read_text()
    assert "vismock serving on http://127.0.0.1:" in log and "operation=Retrieve_Task_Status" in log
