"""The ``vismock`` command: each area of the package contributes its subcommands.

A module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which
adds its subcommands and sets ``handler`` (a function of the parsed
arguments returning the exit code) as each one's default.

Only the module of the subcommand being run is imported: ``vismock validate``
in a pre-commit hook must not pay for the server, Flask or pyVmomi. The full
parser (every module) is built for ``vismock --help`` and anything that names
no known subcommand.

Usage errors are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from vismock import __version__

# Subcommand -> the module that registers it. tests/test_cli.py checks that each module
# registers exactly the subcommands listed for it here.
COMMAND_MODULES: dict[str, str] = {
    "validate": "vismock.codec.cli",
    "decode": "vismock.codec.cli",
    "encode": "vismock.codec.cli",
    "serve": "vismock.mockserver.cli",
    "run": "vismock.adapter.cli",
    "retrieve-task-status": "vismock.adapter.cli",
    "record": "vismock.adapter.recording.cli",
}

Handler = Callable[[argparse.Namespace], int]
EXIT_INTERRUPTED = 128 + 2  # killed by SIGINT, as a shell reports it


# Commands that leave nothing to clean up at exit (no server, no temporary files, no threads):
# the console script skips the interpreter's teardown after them (see run()).
QUICK_EXIT = frozenset({"validate", "decode", "encode"})


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() says, without importing shutil (and with it bz2, lzma
    and zlib: a few milliseconds of every start-up, spent on the help's line width)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (OSError, ValueError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        width = _terminal_columns() - 2 if width is None else width  # as argparse sizes it
        super().__init__(prog, indent_increment, max_help_position, width)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error told in one line (``vismock serve: argument --port: ...``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of *command*'s module alone, or of every module when *command* is None."""
    parser = OneLineParser(
        prog="vismock",
        description="Schema-driven codec and mock vCenter for the BMC VIS adapter.",
    )
    parser.add_argument("--version", action="version", version=f"vismock {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(modules):  # in order, each module once
        importlib.import_module(name).register(subparsers)
    return parser


def requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand *argv* runs, when its first word names one (``vismock validate ...``)."""
    return argv[0] if argv and argv[0] in COMMAND_MODULES else None


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parser = build_parser(requested_command(arguments))
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except BrokenPipeError:  # `vismock validate . | head -1`: the reader has what it wanted
        # Python would complain again flushing stdout at exit: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the shell's convention, and no traceback
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> NoReturn:
    """The ``vismock`` console script: main(), then exit with its status.

    After a codec command (QUICK_EXIT) the interpreter's teardown, freeing every module one by
    one, is skipped: it held nothing to close, and the teardown was an eighth of
    ``vismock validate``'s whole run on one file.
    """
    arguments = sys.argv[1:]
    status = main(arguments)
    if requested_command(arguments) not in QUICK_EXIT:
        sys.exit(status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away: as main() reports it
        status = status or 1
    os._exit(status)
