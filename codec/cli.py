"""``vismock validate``, ``vismock decode`` and ``vismock encode``: the codec for scripts and CI.

Exit codes: 0 all good, 1 some input is invalid, 2 usage error or unreadable input.
Errors are one line each, ``file:line: path: reason``; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from vismock.codec.batch import (
    STDIN,
    STDIN_NAME,
    FileResult,
    Inputs,
    Settings,
    UsageError,
    changed_inputs,
    codec_for,
    collect_inputs,
    validate_all,
)
from vismock.codec.errors import CodecError
from vismock.codec.formats import WRITERS, ReportOptions, format_issue, plural, summary
from vismock.codec.parsing import DEFAULT_MAX_BYTES
from vismock.schemas import REQUEST_ROOT, RESPONSE_ROOT

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
# Show a progress bar (on a terminal only) from this many files.
PROGRESS_FROM = 200
ROOTS = {"request": REQUEST_ROOT, "response": RESPONSE_ROOT}
COLOR_CHOICES = ("auto", "always", "never")


# -- registration ------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add validate, decode and encode to the ``vismock`` command."""
    _register_validate(subparsers)

    decode = subparsers.add_parser(
        "decode",
        help="XML document to JSON",
        description="Validate and decode one document to JSON on stdout.",
    )
    decode.add_argument("path", metavar="FILE", help="an XML file, or - for stdin")
    decode.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")
    _add_max_bytes(decode)
    decode.set_defaults(handler=run_decode)

    encode = subparsers.add_parser(
        "encode",
        help="JSON to XML document",
        description="Encode one JSON object (decode's form) to valid XML on stdout.",
    )
    encode.add_argument("path", metavar="FILE", help="a JSON file, or - for stdin")
    encode.add_argument("--root", choices=sorted(ROOTS), help="request or response (inferred when omitted)")
    encode.set_defaults(handler=run_encode)


def _register_validate(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="validate VIS adapter XML documents against the schemas",
        description="Validate files, directories (every *.xml below them) or - for stdin. "
        "Exit 0 if all are valid, 1 if some are invalid, 2 on usage errors or unreadable input.",
    )
    validate.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a file, a directory, or - for stdin (with --changed-since: limits it to these; default: all)",
    )
    validate.add_argument(
        "--changed-since",
        metavar="REF",
        help="only the *.xml files changed since git REF (since the branch left it), in the working "
        "tree, or untracked",
    )
    validate.add_argument(
        "-o",
        "--format",
        choices=tuple(WRITERS),
        default="text",
        metavar="FORMAT",
        help="text (default), json, junit, github (Actions annotations) or sarif (code scanning)",
    )
    validate.add_argument("-v", "--verbose", action="store_true", help="also list valid files (text format)")
    validate.add_argument("-q", "--quiet", action="store_true", help="no summary line and no progress bar")
    validate.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        metavar="WHEN",
        help="colour the text format: auto (default: on a terminal, unless NO_COLOR is set), always, never",
    )
    validate.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=_usable_cores(),
        help="processes for large batches (default: every core this process may use)",
    )
    validate.add_argument(
        "--schema-dir",
        type=Path,
        metavar="DIR",
        help="validate against the XSDs of another catalog folder (with its catalog.toml)",
    )
    _add_max_bytes(validate)
    validate.set_defaults(handler=run_validate)


def _usable_cores() -> int:
    """The cores this process may run on (a CI container's CPU set), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_max_bytes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-bytes",
        type=_positive,
        default=DEFAULT_MAX_BYTES,
        help=f"size limit per document (default {DEFAULT_MAX_BYTES})",
    )


# -- validate ------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    settings = Settings(args.schema_dir, args.max_bytes)
    try:
        _load_catalog(settings)  # a bad --schema-dir is told once, before any file
        inputs = _inputs(args)
    except UsageError as exc:
        print(f"vismock validate: {exc} (see 'vismock validate --help')", file=sys.stderr)
        return EXIT_USAGE
    stdin = sys.stdin.buffer.read(args.max_bytes + 1) if STDIN in inputs.files else b""
    progress = _Progress(len(inputs.problems) + len(inputs.files), shown=not args.quiet)
    seen: list[FileResult] = []
    # Arguments that named nothing readable come first, then every file in input order.
    every = chain(inputs.problems, validate_all(inputs.files, stdin, settings, args.jobs))
    options = ReportOptions(verbose=args.verbose, color=_colour(args.color))
    WRITERS[args.format](_kept(every, seen, progress), sys.stdout, options)
    progress.done()
    if not args.quiet:
        _write_summary(seen)
    if any(result.unreadable is not None for result in seen):
        return EXIT_USAGE
    return EXIT_OK if all(result.valid for result in seen) else EXIT_INVALID


def _kept(results: Iterable[FileResult], seen: list[FileResult], progress: _Progress) -> Iterator[FileResult]:
    """The results as they stream to the writer, also kept in *seen* for the summary and the
    exit status."""
    step = progress.step if progress.shown else None  # usually not shown: not called per file
    for result in results:
        seen.append(result)
        yield result
        if step is not None:
            step()


def _inputs(args: argparse.Namespace) -> Inputs:
    if args.changed_since is not None:
        return changed_inputs(args.changed_since, args.paths)
    if not args.paths:
        raise UsageError("give a PATH (a file, a directory, or - for stdin), or --changed-since REF")
    return collect_inputs(args.paths)


def _load_catalog(settings: Settings) -> None:
    try:
        codec_for(settings)
    except OSError as exc:
        raise UsageError(f"--schema-dir: cannot read {exc.filename}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:  # tomllib's errors are ValueErrors
        problem = f"{type(exc).__name__}: {exc}"
        raise UsageError(f"--schema-dir: catalog.toml is not a catalog ({problem})") from None


def _colour(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    # https://no-color.org: a NO_COLOR that is set and not empty turns colour off.
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def _write_summary(results: list[FileResult]) -> None:
    counts = summary(results)
    line = (
        f"{plural(counts['files'], 'file')}: {counts['valid']} valid, {counts['invalid']} invalid, "
        f"{plural(counts['issues'], 'issue')}"
    )
    if counts["unreadable"]:
        line += f", {counts['unreadable']} unreadable"
    print(line, file=sys.stderr)


class _Progress:
    """A one-line progress bar on stderr, shown only on a terminal and for long runs."""

    WIDTH = 30

    def __init__(self, total: int, *, shown: bool = True) -> None:
        self.total = total
        self.count = 0
        self.shown = shown and total >= PROGRESS_FROM and sys.stderr.isatty()
        self.every = max(1, total // 100)

    def step(self) -> None:
        self.count += 1
        if self.shown and (self.count % self.every == 0 or self.count == self.total):
            filled = self.WIDTH * self.count // self.total
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            sys.stderr.write(f"\r[{bar}] {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


# -- decode and encode ------------------------------------------------------------------------


def _read_input(path: str) -> bytes | None:
    """The bytes of *path* (or stdin); None after reporting why it cannot be read."""
    if path == STDIN:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None


def _report(name: str, error: CodecError) -> int:
    for issue in error.issues:
        print(format_issue(name, issue), file=sys.stderr)
    return EXIT_INVALID


def run_decode(args: argparse.Namespace) -> int:
    data = _read_input(args.path)
    if data is None:
        return EXIT_USAGE
    name = STDIN_NAME if args.path == STDIN else args.path
    try:
        decoded = codec_for(Settings(max_bytes=args.max_bytes)).decode(data)
    except CodecError as error:
        return _report(name, error)
    import json

    # xs:dateTime values are XsDateTime, a str: JSON carries their exact text.
    json.dump(decoded, sys.stdout, indent=args.indent or None, ensure_ascii=False, default=_json_default)
    sys.stdout.write("\n")
    return EXIT_OK


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def run_encode(args: argparse.Namespace) -> int:
    data = _read_input(args.path)
    if data is None:
        return EXIT_USAGE
    name = STDIN_NAME if args.path == STDIN else args.path
    import json

    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"{name}: not valid JSON: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not isinstance(document, dict):
        print(
            f"{name}: expected a JSON object (decode's form), got {type(document).__name__}", file=sys.stderr
        )
        return EXIT_INVALID
    try:
        xml = codec_for(Settings()).encode(document, root=ROOTS[args.root] if args.root else None)  # type: ignore[arg-type]
    except CodecError as error:
        return _report(name, error)
    sys.stdout.flush()
    sys.stdout.buffer.write(xml)
    sys.stdout.buffer.flush()
    return EXIT_OK
