"""The ``vismock`` command as a shell pipeline uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import DATA

BAD = (DATA / "codec" / "invalid" / "bad-boolean.xml").read_bytes()


@pytest.mark.parametrize("command", [["validate"], ["validate", "--format", "json"]])
def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path, command: list[str]) -> None:
    """``vismock validate . | head -1``: the rest of the output has nowhere to go; that is no error
    worth a traceback. (400 documents' errors: it is still writing when the reader stops.)"""
    documents = tmp_path / "documents"
    documents.mkdir()
    for number in range(400):
        (documents / f"{number:03}.xml").write_bytes(BAD)
    process = subprocess.Popen(
        [sys.executable, "-m", "vismock", *command, str(documents)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read().decode()
    status = process.wait(timeout=60)
    assert first  # it had started writing
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert status == 1  # invalid documents, or output cut short: 1 either way
