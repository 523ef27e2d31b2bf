"""Soak the mock: many clients mixing both faces, admin writes and journal reads against `vismock serve`.

    python bench/soak.py                       # 10 minutes, 32 clients, a report every 30 s
    python bench/soak.py --seconds 120 --interval 10 --threads 32
    python bench/soak.py --hostile-cpu          # CPU the codec spends refusing each hostile document

Every client owns its tasks (``soak-<client>-<n>``), rewrites them through the admin API
(each write bumps a version carried in the entity name) and checks that every read, on
either face, shows its own task at its latest version: state lost or mixed between tasks
is an error. Every answer is validated: adapter envelopes with ``vismock.codec.is_valid``,
SOAP answers against the vim25 model (``vismock.mockserver.vim25.check``). Each report line gives
requests/s, p50/p99 latency and the resident memory of the server processes; the journal
is capped (``--journal-cap``, default 10,000 entries), so memory must stay flat.
tests/mockserver/test_load.py runs the same driver (tests/support/load.py) for 20 seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the driver lives with the tests

import vismock.codec as codec
from tests.support.hostile import load_documents
from tests.support.load import Server, run_load


def hostile_cpu(repeats: int) -> None:
    """CPU (process time) the codec spends refusing each hostile document, next to a valid request."""
    documents = load_documents()
    canary = documents.Canary()
    inputs = {"(valid seed request)": documents.seed_request()}
    for case in documents.entity_cases():
        inputs[case.name] = case.adapter_document(canary.url, "file:///nonexistent")
    inputs |= {
        "deep-nesting": documents.deep_nesting(),
        "many-unknown-elements-2000": documents.many_unknown_elements(2000),
        "long-attribute-900k": documents.long_attribute(900 * 1024),
        "many-attributes-100": documents.many_attributes(100),
        "many-attributes-400": documents.many_attributes(400),
        "many-attributes-3000": documents.many_attributes(3000),
        "many-attributes-50000": documents.many_attributes(50_000),
        "prolog-40-comments": documents.prolog_backtracking(40),
        "prolog-40-pis": documents.prolog_pi_backtracking(40),
    }
    codec.is_valid(documents.seed_request())  # compile the schema first
    print(f"{'document':32} {'bytes':>9} {'CPU ms':>9}  first issue kind")
    for name, document in inputs.items():
        started = time.process_time()
        for _ in range(repeats):
            issues = list(codec.iter_errors(document))
        cpu_ms = (time.process_time() - started) / repeats * 1000
        kind = issues[0].kind if issues else "valid"
        print(f"{name:32} {len(document):9d} {cpu_ms:9.3f}  {kind}")
    print(f"canary contacted: {canary.requests or 'never'}")
    canary.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run (default 600)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between reports (default 30)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--threads", type=int, default=None, help="vismock serve --threads (its default)")
    parser.add_argument("--journal-cap", type=int, default=10_000, help="vismock serve --journal-cap")
    parser.add_argument("--server", default="granian", help="vismock serve --server (default granian)")
    parser.add_argument("--hostile-cpu", action="store_true", help="measure the codec on hostile documents")
    parser.add_argument("--repeats", type=int, default=20, help="--hostile-cpu: runs per document")
    args = parser.parse_args(argv)
    if args.hostile_cpu:
        hostile_cpu(args.repeats)
        return 0
    with tempfile.TemporaryDirectory(prefix="vismock-soak-") as folder:
        server = Server(
            Path(folder), threads=args.threads, journal_cap=args.journal_cap, extra=("--server", args.server)
        )
        print(
            f"vismock serve --threads {args.threads or 'default'} --server {args.server} "
            f"--journal-cap {args.journal_cap}; {args.clients} clients for {args.seconds:.0f} s; "
            f"server RSS at start {server.resident_mb():.1f} MB",
            flush=True,
        )
        try:
            result = run_load(
                server, clients=args.clients, seconds=args.seconds, interval=args.interval, out=sys.stdout
            )
        finally:
            server.stop()
    print(
        f"total: {result.requests} requests in {result.seconds:.1f} s, {result.errors} unexpected; "
        f"by operation {result.by_operation}; journal entries at the end {result.journal_entries} "
        f"(cap {args.journal_cap})"
    )
    if result.resident_mb:
        print(
            f"server RSS: first report {result.resident_mb[0]:.1f} MB, last {result.resident_mb[-1]:.1f} MB, "
            f"max {max(result.resident_mb):.1f} MB"
        )
    for message in result.first_errors:
        print("  error:", message)
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
