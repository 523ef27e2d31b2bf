"""Benchmark the mock's faces against a trivial Flask view on the same server, in the same run.

Each scenario starts ``vismock serve`` (same server and threads for all: one process),
drives it with concurrent keep-alive clients for a fixed time and prints
requests/s, p50 and p99 next to the trivial-view ceiling, plus the mock's
resident memory at the start and end of its run (the journal is capped).

Load generator: wrk (keep-alive, C, negligible client cost) when installed
(``apt-get install -y wrk``), otherwise a Python generator (http.client
keep-alive connections in several processes). Scenarios are plain data: a
face is added by appending a :class:`Scenario` to ``SCENARIOS`` (bench/soap.py
adds the SOAP one).

    python bench/server.py                          # 10 s per scenario, granian
    python bench/server.py --duration 60            # the memory-flatness run
    python bench/server.py --server waitress --threads 8
    python bench/server.py --rounds 3 --threads 8   # median of 3 alternating rounds
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SEED_REQUEST = (ROOT / "tests" / "data" / "seed" / "request.xml").read_bytes()
TRIVIAL_FACTORY = "server:trivial_app"  # this file, importable from bench/


def trivial_app() -> Flask:
    """The ceiling: a Flask view that does nothing."""
    app = Flask("trivial")

    @app.post("/adapter")
    def trivial() -> tuple[bytes, int, dict[str, str]]:
        return b"ok", 200, {"Content-Type": "text/plain"}

    return app


@dataclass(frozen=True)
class Scenario:
    """One kind of request, served by the app that *factory* builds."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/xml"})
    expect: bytes = b"<status>success</status>"  # a body without it counts as an error
    factory: str | None = None  # None: the mock (vismock serve's own app)
    prepare: Callable[[str], dict[str, str]] | None = None  # extra headers from a running server (cookies)


@dataclass
class Result:
    scenario: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_start_mib: float | None = None
    rss_end_mib: float | None = None


ADAPTER_BODY = SEED_REQUEST.replace(b"task-525", b"task-2675")
TRIVIAL = Scenario("trivial Flask view", "/adapter", ADAPTER_BODY, expect=b"ok", factory=TRIVIAL_FACTORY)
SCENARIOS: list[Scenario] = [
    Scenario("adapter face (task-2675, success)", "/adapter", ADAPTER_BODY),
    # A task still running (built-in task-1009 runs for an hour): its TaskInfo is read every time.
    Scenario(
        "adapter face (task-1009, running)",
        "/adapter",
        SEED_REQUEST.replace(b"task-525", b"task-1009"),
        expect=b"<state>running</state>",
    ),
]


def _add_soap_scenario() -> None:
    """The SOAP face's request from bench/soap.py (it imports Scenario from ``server``: this module)."""
    sys.modules.setdefault("server", sys.modules[__name__])  # run as a script: do not load it twice
    import soap

    SCENARIOS.append(soap.server_scenario())  # type: ignore[arg-type]
    SCENARIOS.append(soap.server_scenario("task-1009", "running"))  # type: ignore[arg-type]


_add_soap_scenario()


# -- the server under test


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(
    args: argparse.Namespace, factory: str | None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [sys.executable, "-m", "vismock", "serve", "--port", str(port)]
    command += ["--server", args.server]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if factory:
        command += ["--app-factory", factory]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            urllib.request.urlopen(urllib.request.Request(url + "/adapter", data=b"<x/>"), timeout=1)
        except urllib.error.HTTPError:
            return  # answering (a 400 for the dummy body is fine)
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise RuntimeError(f"no answer from {url} within {timeout} s")


def rss_mib(pid: int) -> float:
    """Resident memory of *pid* and all its descendants (granian's server process)."""
    total_kib = 0
    for child in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{child}/status").read_text()
            found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            total_kib += int(found[1]) if found else 0
    return total_kib / 1024


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in map(int, children):
                found += [child, *descendants(child)]
    return found


# -- load generators


def run_wrk(url: str, scenario: Scenario, headers: dict[str, str], args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        body_file = Path(folder) / "body"
        body_file.write_bytes(scenario.body)
        script = Path(folder) / "request.lua"
        lines = ['wrk.method = "POST"', f'wrk.body = io.open("{body_file}", "rb"):read("*a")']
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
        lines += [f"local expect = {_lua_string(scenario.expect)}", *WRK_BODY_CHECK]
        script.write_text("\n".join(lines) + "\n")
        command = ["wrk", f"-t{args.client_threads}", f"-c{args.connections}", f"-d{args.duration}s"]
        command += ["--latency", "-s", str(script), url + scenario.path]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(scenario.name, output)


# Count answers whose body lacks the expected text (an HTTP 200 error envelope is still an error).
WRK_BODY_CHECK = [
    "local threads = {}",
    "function setup(thread) table.insert(threads, thread) end",
    "function init(args) bad = 0 end",
    "function response(status, headers, body)",
    "  if not string.find(body, expect, 1, true) then bad = bad + 1 end",
    "end",
    "function done(summary, latency, requests)",
    "  local total = 0",
    "  for _, thread in ipairs(threads) do total = total + thread:get('bad') end",
    '  io.write(string.format("Unexpected bodies: %d\\n", total))',
    "end",
]


def _lua_string(text: bytes) -> str:
    return '"' + text.decode().replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(name: str, output: str) -> Result:
    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not found:
            raise RuntimeError(f"wrk printed no {percent}% latency:\n{output}")
        return float(found[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    unexpected = re.search(r"Unexpected bodies: (\d+)", output)
    if unexpected is None:
        raise RuntimeError(f"wrk did not run the body check:\n{output}")
    errors = int(non_2xx[1]) if non_2xx else 0
    errors += int(unexpected[1])
    errors += sum(int(count) for count in sockets.groups()) if sockets else 0
    return Result(name, float(rate[1]) if rate else 0.0, latency("50"), latency("99"), errors)


def run_python_clients(
    url: str, scenario: Scenario, headers: dict[str, str], args: argparse.Namespace
) -> Result:
    """Fallback without wrk: keep-alive http.client connections spread over processes."""
    per_process = max(1, args.connections // args.client_threads)
    job = (url, scenario.path, scenario.body, headers, scenario.expect, args.duration, per_process)
    jobs = [job] * args.client_threads
    with ProcessPoolExecutor(len(jobs)) as pool:
        parts = list(pool.map(_client_process, *zip(*jobs, strict=True)))
    latencies = sorted(latency for part_latencies, _ in parts for latency in part_latencies)
    errors = sum(part_errors for _, part_errors in parts)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(scenario.name, len(latencies) / args.duration, quantiles[49], quantiles[98], errors)


def _client_process(
    url: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    expect: bytes,
    duration: float,
    connections: int,
) -> tuple[list[float], int]:
    import http.client
    import threading

    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + duration

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200 or expect not in answer:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


# -- the run


def measure(scenario: Scenario, args: argparse.Namespace) -> Result:
    with running_server(args, scenario.factory) as (url, process):
        headers = {**scenario.headers, **(scenario.prepare(url) if scenario.prepare else {})}
        generator = run_wrk if shutil.which("wrk") and not args.python_clients else run_python_clients
        warm = argparse.Namespace(**{**vars(args), "duration": 2})
        generator(url, scenario, headers, warm)  # warm-up: caches, connections, JIT-free steady state
        samples: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(process.pid, samples, stop, args.rss_every))
        sampler.start()
        try:
            result = generator(url, scenario, headers, args)
        finally:
            stop.set()
            sampler.join()
        samples.append(rss_mib(process.pid))
        result.rss_start_mib, result.rss_end_mib = samples[0], samples[-1]
        if args.duration >= 2 * args.rss_every:
            print(
                f"  {scenario.name}: RSS MiB every {args.rss_every} s: "
                + ", ".join(f"{s:.1f}" for s in samples)
            )
    return result


def _sample_rss(pid: int, samples: list[float], stop: threading.Event, every: float) -> None:
    samples.append(rss_mib(pid))
    while not stop.wait(every):
        samples.append(rss_mib(pid))


def print_table(results: list[Result], ceiling: Result) -> None:
    print(
        f"{'scenario':<40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs trivial':>12}"
        f"{'RSS MiB start->end':>22}"
    )
    for result in [ceiling, *results]:
        ratio = (
            result.requests_per_second / ceiling.requests_per_second if ceiling.requests_per_second else 0.0
        )
        rss = (
            f"{result.rss_start_mib:.1f} -> {result.rss_end_mib:.1f}"
            if result.rss_start_mib is not None
            else ""
        )
        print(
            f"{result.scenario:<40}{result.requests_per_second:>10.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.errors:>8}{ratio:>11.0%} {rss:>21}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="granian", choices=("granian", "waitress", "gunicorn"))
    parser.add_argument("--threads", type=int, default=None, help="vismock serve --threads (its default)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--client-threads", type=int, default=2, help="wrk threads / client processes")
    parser.add_argument("--python-clients", action="store_true", help="use the Python generator, not wrk")
    parser.add_argument("--rss-every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--only", action="append", help="run only scenarios whose name contains this")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median is printed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tool = "wrk" if shutil.which("wrk") and not args.python_clients else "python clients"
    print(
        f"server {args.server} (one process), threads {args.threads or 'default'}; "
        f"{tool}: {args.client_threads} threads, {args.connections} keep-alive connections, "
        f"{args.duration} s each"
    )
    chosen = [s for s in SCENARIOS if not args.only or any(part in s.name for part in args.only)]
    rounds: dict[str, list[Result]] = {scenario.name: [] for scenario in [TRIVIAL, *chosen]}
    # Alternate the scenarios round by round, so a noisy neighbour on the machine hits all alike.
    for _ in range(args.rounds):
        for scenario in [TRIVIAL, *chosen]:
            rounds[scenario.name].append(measure(scenario, args))
    ceiling, *results = [median_result(rounds[scenario.name]) for scenario in [TRIVIAL, *chosen]]
    if args.rounds > 1:
        print(f"median of {args.rounds} alternating rounds (errors summed over rounds)")
    print_table(results, ceiling)
    return 0 if all(result.errors == 0 for result in [ceiling, *results]) else 1


def median_result(results: list[Result]) -> Result:
    """The round with the median requests/s (its own latencies and memory), errors summed over rounds."""
    ordered = sorted(results, key=lambda result: result.requests_per_second)
    middle = ordered[len(ordered) // 2]
    return Result(
        middle.scenario,
        middle.requests_per_second,
        middle.p50_ms,
        middle.p99_ms,
        sum(result.errors for result in results),
        middle.rss_start_mib,
        middle.rss_end_mib,
    )


if __name__ == "__main__":
    raise SystemExit(main())
