"""Validating many files: which ones, reading them, and spreading them over processes.

A valid file costs a read, a parse and libxml2's validation (about 25 us for a
seed-sized document); the report of an invalid one is built in the process that
met it. Workers send back only their invalid files, so a batch of 100,000
valid ones moves almost nothing between processes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple

from vismock.codec.core import Codec
from vismock.codec.errors import ValidationIssue
from vismock.codec.parsing import DEFAULT_MAX_BYTES, ParseFailure, parse, read_file

STDIN = "-"
STDIN_NAME = "<stdin>"
# Below this many files one process is as fast as two on this shared 2-core machine: a worker
# costs a fork, its copy-on-write page faults and its own libxml2 schema compile, and when
# another job holds the second core the two processes only take turns.
PARALLEL_FROM = 1000
# Files per unit of work the processes take in turn: a share of the files left (SHARES per
# process), so that the last chunks are small and the processes finish together (a process
# without a chunk waits for the others' last: 256 files were 5 ms of work); at least
# MIN_CHUNK_FILES, whose round trip (a ticket, a pickle) is noise beside validating them,
# and at most MAX_CHUNK_FILES, so that results stream out as they are known.
SHARES = 4
MIN_CHUNK_FILES = 32
MAX_CHUNK_FILES = 1024
XML_SUFFIX = ".xml"


class UsageError(Exception):
    """The command cannot run as asked (a bad --changed-since, an unusable --schema-dir)."""


# NamedTuples, not dataclasses, in what `vismock validate` imports: a dataclass costs half a
# millisecond to define, and the command's whole start-up is counted in tens of them.


class FileResult(NamedTuple):
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


class Settings(NamedTuple):
    """What every worker needs to validate like the parent: the catalog and the size limit."""

    schema_dir: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


DEFAULT_SETTINGS = Settings()


class Inputs:
    """What the PATH arguments named: files to read, and arguments that named nothing usable."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.problems: list[FileResult] = []


# -- which files -------------------------------------------------------------------------------


def collect_inputs(paths: Sequence[str]) -> Inputs:
    """Files to validate, in argument order; directories contribute their *.xml, sorted."""
    inputs = Inputs()
    for path in paths:
        if path == STDIN:
            inputs.files.append(STDIN)
        elif os.path.isdir(path):
            found = sorted(_xml_files_below(path, inputs.problems))
            if not found:
                inputs.problems.append(FileResult(path, unreadable="no *.xml files in this directory"))
            inputs.files.extend(found)
        elif os.path.exists(path):
            inputs.files.append(path)
        else:
            inputs.problems.append(FileResult(path, unreadable="no such file or directory"))
    return inputs


def _xml_files_below(directory: str, problems: list[FileResult]) -> Iterator[str]:
    """Every *.xml file below *directory* (scandir: one system call per folder, not per file);
    a folder that cannot be listed is one of the *problems*. A folder reached again through a
    symbolic link (a loop, or two links to one folder) is listed once."""
    folders = [os.path.normpath(directory)]
    listed: set[tuple[int, int]] = set()
    while folders:
        folder = folders.pop()
        # Names below "." are written without "./", as Path would write them ("a/b.xml").
        prefix = "" if folder == os.curdir else folder.rstrip(os.sep) + os.sep
        try:
            status = os.stat(folder)
            if (status.st_dev, status.st_ino) in listed:
                continue
            listed.add((status.st_dev, status.st_ino))
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir():
                        folders.append(prefix + entry.name)
                    elif entry.name.endswith(XML_SUFFIX) and entry.is_file():
                        yield prefix + entry.name
        except OSError as exc:
            problems.append(FileResult(folder, unreadable=exc.strerror or str(exc)))


def changed_inputs(ref: str, paths: Sequence[str]) -> Inputs:
    """The *.xml files changed since *ref* (git: committed since the branch left *ref*, changed in
    the working tree, or untracked), limited to those under *paths* when any are given."""
    top = _git("rev-parse", "--show-toplevel").rstrip("\n")
    changed = _git("diff", "--name-only", "-z", "--diff-filter=d", "--merge-base", ref, "--").split("\0")
    untracked = _git("ls-files", "-z", "--others", "--exclude-standard", "--full-name", top).split("\0")
    names = sorted({os.path.relpath(os.path.join(top, name)) for name in changed + untracked if name})
    wanted = [os.path.normpath(path) for path in paths if path != STDIN]
    inputs = Inputs()
    for name in names:
        if not os.path.isfile(name):
            continue
        if wanted and not any(_is_under(name, path) for path in wanted):
            continue
        if name.endswith(XML_SUFFIX) or name in wanted:
            inputs.files.append(name)
    return inputs


def _is_under(name: str, path: str) -> bool:
    absolute, folder = os.path.abspath(name), os.path.abspath(path)
    return absolute == folder or absolute.startswith(folder.rstrip(os.sep) + os.sep)


def _git(*args: str) -> str:
    import subprocess  # only --changed-since runs a program

    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UsageError(f"--changed-since needs git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [f"git {args[0]} failed"])[-1]
        raise UsageError(f"--changed-since: {message}")
    return done.stdout


# -- validating them ----------------------------------------------------------------------------


@cache
def codec_for(settings: Settings) -> Codec:
    """One codec per process and settings: compiling the schemas is the expensive part."""
    return Codec(settings.schema_dir, max_bytes=settings.max_bytes)


def validate_file(name: str, settings: Settings = DEFAULT_SETTINGS) -> FileResult:
    """Read and validate one file (runs in worker processes too)."""
    return _validate_file(name, settings.max_bytes, codec_for(settings))


def _validate_file(name: str, max_bytes: int, codec: Codec) -> FileResult:
    try:
        # The bytes are dropped as soon as they are parsed: a 40 MB document's tree is
        # validated without its 40 MB of text beside it.
        tree = parse(read_file(name, max_bytes))
    except ParseFailure as failure:
        return FileResult(name, issues=(failure.issue,))
    except OSError as exc:
        return FileResult(name, unreadable=exc.strerror or str(exc))
    issues = codec.tree_issues(tree)
    return FileResult(name, issues=tuple(issues)) if issues else FileResult(name)


def validate_bytes(name: str, data: bytes, settings: Settings = DEFAULT_SETTINGS) -> FileResult:
    return FileResult(name, issues=tuple(codec_for(settings).iter_errors(data)))


def validate_all(files: list[str], stdin: bytes, settings: Settings, jobs: int) -> Iterator[FileResult]:
    """Results in input order; large batches are spread over *jobs* processes."""
    named = [name for name in files if name != STDIN]
    if jobs > 1 and len(named) >= PARALLEL_FROM:
        results = _in_workers(named, settings, jobs)
    else:
        codec = codec_for(settings)
        results = (_validate_file(name, settings.max_bytes, codec) for name in named)
    if len(named) == len(files):  # no stdin among them (nearly always): no per-file check
        yield from results
        return
    for name in files:
        yield validate_bytes(STDIN_NAME, stdin, settings) if name == STDIN else next(results)


def _in_workers(named: list[str], settings: Settings, jobs: int) -> Iterator[FileResult]:
    from vismock.codec.workers import MAX_CHUNKS  # pickle, select...: only a large batch needs them

    # The first file in this process, before forking: the schema of its operation is compiled once,
    # here, and every worker starts with it (a batch is nearly always of one operation).
    yield validate_file(named[0], settings)
    chunks = _chunked(named[1:], jobs, MAX_CHUNKS)
    validate_chunk = partial(_validate_chunk, settings=settings)
    for chunk, invalid in zip(chunks, _mapped(validate_chunk, chunks, jobs), strict=True):
        if not invalid:  # the usual chunk: every file valid
            yield from map(FileResult, chunk)
            continue
        by_offset = dict(invalid)
        for offset, name in enumerate(chunk):
            yield by_offset.get(offset) or FileResult(name)


def _chunked(names: list[str], jobs: int, most: int) -> list[list[str]]:
    """*names* cut into at most *most* chunks, each a share of the names left (see SHARES)."""
    smallest, largest = MIN_CHUNK_FILES, max(MAX_CHUNK_FILES, -(-len(names) // (most // 2)))
    while True:
        chunks, start = [], 0
        while start < len(names):
            size = min(largest, max(smallest, (len(names) - start) // (jobs * SHARES)))
            chunks.append(names[start : start + size])
            start += size
        if len(chunks) <= most:
            return chunks
        smallest *= 2  # many processes: fewer, larger last chunks


def _mapped(
    function: Callable[[list[str]], list[tuple[int, FileResult]]], chunks: list[list[str]], jobs: int
) -> Iterable[list[tuple[int, FileResult]]]:
    if sys.platform.startswith("linux"):  # fork: a worker starts with everything imported already
        from vismock.codec.workers import ForkedMap

        return ForkedMap(function, chunks, jobs)
    from concurrent.futures import ProcessPoolExecutor  # spawned workers import vismock again

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, chunks))


def _validate_chunk(names: Iterable[str], settings: Settings) -> list[tuple[int, FileResult]]:
    """The files of one chunk that are not valid, by their offset in it (valid ones cost nothing
    to send back)."""
    codec, max_bytes = codec_for(settings), settings.max_bytes
    results = (_validate_file(name, max_bytes, codec) for name in names)
    return [(offset, result) for offset, result in enumerate(results) if not result.valid]
