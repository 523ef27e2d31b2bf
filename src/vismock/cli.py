"""The ``vismock`` command: each area of the package contributes its subcommands.

A module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which
adds its subcommands and sets ``handler`` (a function of the parsed
arguments returning the exit code) as each one's default.

Usage errors are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from vismock import __version__

COMMAND_MODULES = (
    "vismock.codec.cli",  # validate, decode, encode
    "vismock.mockserver.cli",  # serve
    "vismock.adapter.cli",  # run, retrieve-task-status
    "vismock.adapter.recording.cli",  # record
)

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error told in one line (``vismock serve: argument --port: ...``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vismock",
        description="Schema-driven codec and mock vCenter for the BMC VIS adapter.",
    )
    parser.add_argument("--version", action="version", version=f"vismock {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
