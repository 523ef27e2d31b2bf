"""Batch validation throughput of ``vismock validate``: documents per second.

Writes *--files* valid response documents (the seed's, each with its own task
id) to a temporary folder and runs ``vismock validate`` over it with one
process and with all cores (or the ``--jobs`` given). Run:
``python bench/validate_batch.py [--files 5000] [--jobs 1 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from vismock.cli import main as vismock_main

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed" / "response.xml"


def write_batch(folder: Path, count: int) -> None:
    """*count* valid response documents, each with its own task id, in *folder*."""
    template = SEED.read_bytes()
    for number in range(count):
        task = f"task-{number}".encode()
        (folder / f"doc-{number:05d}.xml").write_bytes(template.replace(b"task-2675", task))


def batch_rate(folder: Path, count: int, jobs: int) -> float:
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        status = vismock_main(["validate", "--jobs", str(jobs), str(folder)])
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"vismock validate exited {status}: {sink.getvalue()[:500]}")
    return count / elapsed


def report_batch(count: int, jobs: list[int] | None = None) -> None:
    """Print documents/s for each number of processes in *jobs* (default: 1 and all cores)."""
    jobs = jobs or [1, os.cpu_count() or 1]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_batch(folder, count)
        batch_rate(folder / "doc-00000.xml", 1, jobs=1)  # warm up: this process compiles the schema once
        rates = {n: batch_rate(folder, count, jobs=n) for n in jobs}
    print(f"batch validation, vismock validate over {count} files of {SEED.stat().st_size} bytes")
    for n, rate in rates.items():
        label = f"{n} process" + ("es" if n != 1 else "")
        print(f"  {label:<16} {rate:10.0f} documents/s  ({rate / rates[jobs[0]]:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="documents in the batch (default 5000)")
    parser.add_argument(
        "--jobs", type=int, nargs="+", help="process counts to compare (default: 1 and all cores)"
    )
    args = parser.parse_args(argv)
    report_batch(args.files, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
