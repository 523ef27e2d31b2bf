"""``vismock validate``, ``vismock decode`` and ``vismock encode``: the codec for scripts and CI.

Exit codes: 0 all good, 1 some input is invalid, 2 usage error or unreadable input.
Errors are one line each, ``file:line: path: reason``; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, Any

from lxml import etree

from vismock.codec.core import Codec
from vismock.codec.errors import CodecError, ValidationIssue
from vismock.codec.parsing import DEFAULT_MAX_BYTES
from vismock.schemas import REQUEST_ROOT, RESPONSE_ROOT

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
STDIN = "-"
STDIN_NAME = "<stdin>"
# Below this many files one process is faster than starting a pool.
PARALLEL_FROM = 300
# Show a progress bar (on a terminal only) from this many files.
PROGRESS_FROM = 200
ROOTS = {"request": REQUEST_ROOT, "response": RESPONSE_ROOT}


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one input: its issues, or why it could not be read."""

    name: str
    issues: tuple[ValidationIssue, ...] = ()
    unreadable: str | None = None

    @property
    def valid(self) -> bool:
        return self.unreadable is None and not self.issues

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"file": self.name, "valid": self.valid}
        if self.unreadable is not None:
            result["error"] = self.unreadable
        result["issues"] = [issue.to_dict() for issue in self.issues]
        return result


@dataclass(slots=True)
class Inputs:
    """What the PATH arguments named: files to read, and arguments that named nothing usable."""

    files: list[str] = field(default_factory=list)
    problems: list[FileResult] = field(default_factory=list)


# -- registration ------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add validate, decode and encode to the ``vismock`` command."""
    validate = subparsers.add_parser(
        "validate",
        help="validate VIS adapter XML documents against the schemas",
        description="Validate files, directories (every *.xml below them) or - for stdin. "
        "Exit 0 if all are valid, 1 if some are invalid, 2 on usage errors or unreadable input.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="a file, a directory, or - for stdin")
    validate.add_argument("--format", choices=("text", "json", "junit"), default="text", help="output format")
    validate.add_argument("-v", "--verbose", action="store_true", help="also list valid files (text format)")
    validate.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=os.cpu_count() or 1,
        help="processes for large batches (default: all cores)",
    )
    _add_max_bytes(validate)
    validate.set_defaults(handler=run_validate)

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


@cache
def _codec(max_bytes: int) -> Codec:
    """One codec per process and limit: compiling the schemas is the expensive part."""
    return Codec(max_bytes=max_bytes)


# -- validate ------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    inputs = collect_inputs(args.paths)
    stdin = sys.stdin.buffer.read() if STDIN in inputs.files else b""
    # Arguments that named nothing readable come first, then every file in input order.
    results = inputs.problems + list(_validate_all(inputs.files, stdin, args.max_bytes, args.jobs))
    write = {"text": _write_text, "json": _write_json, "junit": _write_junit}[args.format]
    write(results, sys.stdout, verbose=args.verbose)
    _write_summary(results)
    if any(result.unreadable is not None for result in results):
        return EXIT_USAGE
    return EXIT_OK if all(result.valid for result in results) else EXIT_INVALID


def collect_inputs(paths: Sequence[str]) -> Inputs:
    """Files to validate, in argument order; directories contribute their *.xml, sorted."""
    inputs = Inputs()
    for path in paths:
        if path == STDIN:
            inputs.files.append(STDIN)
            continue
        target = Path(path)
        if target.is_dir():
            found = sorted(str(p) for p in target.rglob("*.xml") if p.is_file())
            if not found:
                inputs.problems.append(FileResult(path, unreadable="no *.xml files in this directory"))
            inputs.files.extend(found)
        elif target.exists():
            inputs.files.append(path)
        else:
            inputs.problems.append(FileResult(path, unreadable="no such file or directory"))
    return inputs


def _validate_all(files: list[str], stdin: bytes, max_bytes: int, jobs: int) -> Iterator[FileResult]:
    """Results in input order; large batches are spread over *jobs* processes."""
    named = [f for f in files if f != STDIN]
    progress = _Progress(len(files))
    if jobs > 1 and len(named) >= PARALLEL_FROM:
        chunk = max(16, len(named) // (jobs * 8))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = pool.map(validate_file, named, [max_bytes] * len(named), chunksize=chunk)
            yield from _in_input_order(files, results, stdin, max_bytes, progress)
    else:
        results = (validate_file(name, max_bytes) for name in named)
        yield from _in_input_order(files, results, stdin, max_bytes, progress)
    progress.done()


def _in_input_order(
    files: list[str], named: Iterator[FileResult], stdin: bytes, max_bytes: int, progress: _Progress
) -> Iterator[FileResult]:
    for name in files:
        yield validate_bytes(STDIN_NAME, stdin, max_bytes) if name == STDIN else next(named)
        progress.step()


def validate_file(name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> FileResult:
    """Read and validate one file (runs in worker processes too)."""
    try:
        with open(name, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return FileResult(name, unreadable=exc.strerror or str(exc))
    return validate_bytes(name, data, max_bytes)


def validate_bytes(name: str, data: bytes, max_bytes: int) -> FileResult:
    return FileResult(name, issues=tuple(_codec(max_bytes).iter_errors(data)))


def format_issue(name: str, issue: ValidationIssue) -> str:
    """``file:line: path: reason`` (the line is left out when there is none)."""
    where = f"{name}:{issue.line}" if issue.line is not None else name
    return f"{where}: {issue.path}: {issue.reason}"


def _write_text(results: Iterable[FileResult], out: IO[str], *, verbose: bool) -> None:
    for result in results:
        if result.unreadable is not None:
            print(f"{result.name}: cannot read: {result.unreadable}", file=out)
        for issue in result.issues:
            print(format_issue(result.name, issue), file=out)
        if result.valid and verbose:
            print(f"{result.name}: valid", file=out)


def _write_json(results: Iterable[FileResult], out: IO[str], *, verbose: bool) -> None:
    listed = list(results)
    document = {"summary": _summary(listed), "files": [result.to_dict() for result in listed]}
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _write_junit(results: Iterable[FileResult], out: IO[str], *, verbose: bool) -> None:
    listed = list(results)
    counts = _summary(listed)
    suite = etree.Element(
        "testsuite",
        name="vismock validate",
        tests=str(counts["files"]),
        failures=str(counts["invalid"]),
        errors=str(counts["unreadable"]),
    )
    for result in listed:
        case = etree.SubElement(suite, "testcase", classname="vismock.validate", name=result.name)
        if result.unreadable is not None:
            etree.SubElement(case, "error", message=f"cannot read: {result.unreadable}")
        elif result.issues:
            count = len(result.issues)
            failure = etree.SubElement(case, "failure", message=_plural(count, "issue"), type="invalid")
            failure.text = "\n".join(format_issue(result.name, issue) for issue in result.issues)
    text = etree.tostring(suite, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()
    out.write(text)


def _summary(results: list[FileResult]) -> dict[str, int]:
    return {
        "files": len(results),
        "valid": sum(1 for r in results if r.valid),
        "invalid": sum(1 for r in results if r.issues),
        "unreadable": sum(1 for r in results if r.unreadable is not None),
        "issues": sum(len(r.issues) for r in results),
    }


def _write_summary(results: list[FileResult]) -> None:
    counts = _summary(results)
    line = (
        f"{_plural(counts['files'], 'file')}: {counts['valid']} valid, {counts['invalid']} invalid, "
        f"{_plural(counts['issues'], 'issue')}"
    )
    if counts["unreadable"]:
        line += f", {counts['unreadable']} unreadable"
    print(line, file=sys.stderr)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Progress:
    """A one-line progress bar on stderr, shown only on a terminal and for long runs."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.shown = total >= PROGRESS_FROM and sys.stderr.isatty()
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
        decoded = _codec(args.max_bytes).decode(data)
    except CodecError as error:
        return _report(name, error)
    # xs:dateTime values are XsDateTime, a str: JSON carries their exact text.
    json.dump(decoded, sys.stdout, indent=args.indent or None, ensure_ascii=False, default=_json_default)
    sys.stdout.write("\n")
    return EXIT_OK


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def run_encode(args: argparse.Namespace) -> int:
    data = _read_input(args.path)
    if data is None:
        return EXIT_USAGE
    name = STDIN_NAME if args.path == STDIN else args.path
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
        xml = _codec(DEFAULT_MAX_BYTES).encode(document, root=ROOTS[args.root] if args.root else None)  # type: ignore[arg-type]
    except CodecError as error:
        return _report(name, error)
    sys.stdout.flush()
    sys.stdout.buffer.write(xml)
    sys.stdout.buffer.flush()
    return EXIT_OK
