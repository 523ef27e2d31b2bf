"""The ``vismock`` command as a shell pipeline uses it."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import DATA
from vismock import cli

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


# -- each subcommand imports what it uses, and only that --------------------------------------

# Run in a fresh interpreter: the names of every module imported once main() has returned.
PROBE = """
import os, sys
from vismock.cli import main
status = main(sys.argv[1:])
with open(os.environ["VISMOCK_PROBE_OUT"], "w") as out:
    out.write("\\n".join(sorted(sys.modules)))
sys.exit(status)
"""
# What `vismock validate` of one valid document never needs: the server and its stack, the vCenter
# client, the other subcommands, xmlschema (only an invalid document's report uses it).
NOT_FOR_VALIDATE = (
    "flask",
    "werkzeug",
    "jinja2",
    "granian",
    "waitress",
    "gunicorn",
    "pyVmomi",
    "cryptography",
    "yaml",
    "sqlite3",
    "ssl",
    "http",
    "email",
    "socket",
    "asyncio",
    "hypothesis",
    "xmlschema",
    "elementpath",
    "multiprocessing",
    "concurrent",
    "subprocess",
    "json",
    "vismock.mockserver",
    "vismock.adapter",
    "vismock.testing",
    "vismock.codec.model",
    "vismock.codec.report",
    "vismock.codec.workers",
    # Start-up savings kept: the typed values and the writer (decode and encode only), argparse's
    # terminal-size lookup (shutil, with bz2 and lzma), pickle and select (large batches only),
    # dataclasses (the codec's and the catalog's types are NamedTuples).
    "dataclasses",
    "vismock.codec.values",
    "vismock.codec.writer",
    "decimal",
    "shutil",
    "bz2",
    "lzma",
    "pickle",
    "select",
)


def imported_by(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    out = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env={**os.environ, "VISMOCK_PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, set(out.read_text().split())


def loaded(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def test_validate_imports_only_what_validating_uses(tmp_path: Path) -> None:
    status, modules = imported_by(tmp_path, "validate", str(DATA / "seed" / "response.xml"))
    assert status == 0
    assert "vismock.codec.core" in modules and "lxml.etree" in modules
    assert [package for package in NOT_FOR_VALIDATE if loaded(modules, package)] == []


def test_an_invalid_document_loads_the_rich_report(tmp_path: Path) -> None:
    """The other side of the guard above: the probe does see what a run imports."""
    status, modules = imported_by(tmp_path, "validate", str(DATA / "codec" / "invalid" / "bad-boolean.xml"))
    assert status == 1
    assert {"xmlschema", "vismock.codec.report"} <= modules
    assert not loaded(modules, "vismock.mockserver") and not loaded(modules, "flask")


def test_each_subcommand_loads_its_own_module(tmp_path: Path) -> None:
    status, modules = imported_by(tmp_path, "serve", "--help")
    assert status == 0 and "vismock.mockserver.cli" in modules
    assert not loaded(modules, "vismock.codec.cli") and not loaded(modules, "vismock.adapter")


def test_the_command_list_names_each_modules_subcommands() -> None:
    """COMMAND_MODULES (what main imports for a subcommand) says what each module registers."""
    for module in set(cli.COMMAND_MODULES.values()):
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module).register(subparsers)
        listed = {command for command, owner in cli.COMMAND_MODULES.items() if owner == module}
        assert set(subparsers.choices) == listed, module


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in cli.COMMAND_MODULES)
    assert cli.main([]) == 2  # no subcommand: the help, on stderr
    assert "validate" in capsys.readouterr().err


def test_the_console_script_flushes_before_its_quick_exit(tmp_path: Path) -> None:
    """After a codec command the script skips the interpreter's teardown: every line is still out."""
    bad = DATA / "codec" / "invalid" / "bad-boolean.xml"
    documents = [str(bad)] * 300 + [str(DATA / "seed" / "request.xml")]
    done = subprocess.run(
        [sys.executable, "-m", "vismock", "validate", *documents], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout.count(f"{bad}:18: ") == 300
    assert done.stderr == "301 files: 1 valid, 300 invalid, 300 issues\n"
