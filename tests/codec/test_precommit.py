"""The pre-commit hook (.pre-commit-hooks.yaml), run by pre-commit itself on a scratch repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import DATA, ROOT


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.mark.slow  # pre-commit installs vismock (and its dependencies) into a fresh environment
def test_the_hook_stops_a_commit_with_an_invalid_payload_naming_file_and_line(tmp_path: Path) -> None:
    repo = tmp_path / "payloads-repo"
    (repo / "payloads").mkdir(parents=True)
    git(repo, "init", "-q")
    shutil.copy(DATA / "seed" / "request.xml", repo / "payloads" / "ok.xml")
    shutil.copy(DATA / "codec" / "invalid" / "bad-enum-state.xml", repo / "payloads" / "bad.xml")
    (repo / "notes.txt").write_text("not XML: the hook leaves it alone")
    git(repo, "add", ".")  # staged: what pre-commit hands a hook
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "vismock-validate", "--color", "never"],
        cwd=repo,
        env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "vismock validate" in output and "Failed" in output
    state = "/vmware-infrastructure-response/RetrieveTaskStatusResponse/returnval/propSet/TaskInfo/state"
    assert f"payloads/bad.xml:17: {state}: value must be one of" in output
    assert "payloads/ok.xml" not in output  # valid: nothing said
    assert "2 files: 1 valid, 1 invalid, 1 issue" in output  # notes.txt was not passed
