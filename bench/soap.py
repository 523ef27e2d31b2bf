"""Benchmark of the SOAP face: RetrievePropertiesEx of one Task.info with a session cookie.

Concurrent keep-alive clients (wrk) for a fixed time, on the mock served the way
``vismock serve`` serves it and, when built, on the reference simulator
(govmomi's vcsim) in the same run, with the same request. Prints requests/s,
p50, p99 and the mock/simulator ratio. Not a test: numbers depend on the machine.

    python bench/soap.py [--duration 10] [--threads 2] [--connections 16] [--rounds 3]
                         [--server granian] [--server-threads N] [--vcsim /tmp/vcsim-anchor] [--warmup 3]
                         [--mock-task task-1009]   # a task still running: its TaskInfo computed each time
                         [--variant NAME=ARGS ...]  # several mocks side by side, e.g.
    python bench/soap.py --variant "http=" --variant "https=--tls" --variant "quiet=--quiet"

The mock runs as ``vismock serve`` runs it: one process (granian: one worker with threads) owning
the state in memory. Each ``--variant`` is one more ``vismock serve`` with those extra arguments
(``--tls`` ones are measured over HTTPS: wrk speaks TLS, the set-up calls trust the printed CA
file), measured in the same alternating rounds as the others; the ratios print against the first.

Needs ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:vim25/6.5"'}
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    "<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>"
)
LOGIN = (
    '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
    "<userName>{user}</userName><password>{password}</password></Login>"
)
RETRIEVE = (
    '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
    "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
    '<objectSet><obj type="Task">{task}</obj></objectSet></specSet><options/></RetrievePropertiesEx>'
)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '"urn:vim25/6.5"'
wrk.headers["Cookie"] = "{cookie}"
"""


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=TRUSTED.get("context")):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


@contextmanager
def running(command: list[str], probe_url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        wait_until_up(probe_url, process)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its process group, which we started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def soap(url: str, call: str, cookie: str = "") -> tuple[int, bytes, str]:
    headers = {**SOAP_HEADERS, **({"Cookie": cookie} if cookie else {})}
    request = urllib.request.Request(url, data=ENVELOPE.format(call=call).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=TRUSTED.get("context")) as answer:
            return answer.status, answer.read(), answer.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), ""


def login(url: str, user: str, password: str) -> str:
    status, body, cookie = soap(url, LOGIN.format(user=user, password=password))
    if status != 200 or "vmware_soap_session=" not in cookie:
        raise SystemExit(f"login to {url} failed: HTTP {status}: {body[:300]!r}")
    return cookie.split(";")[0]


def check_request(url: str, cookie: str, task: str) -> str:
    body = ENVELOPE.format(call=RETRIEVE.format(task=task))
    status, answer, _ = soap(url, RETRIEVE.format(task=task), cookie)
    if status != 200 or b"TaskInfo" not in answer:
        raise SystemExit(f"RetrievePropertiesEx on {url} failed: HTTP {status}: {answer[:300]!r}")
    return body


def run_wrk(
    name: str, url: str, body: str, cookie: str, args: argparse.Namespace, duration: int | None = None
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=body, cookie=cookie))
    try:
        seconds = args.duration if duration is None else duration
        command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
        finished = subprocess.run([*command, "-s", script.name, url], capture_output=True, text=True)
        if finished.returncode != 0:
            raise SystemExit(f"wrk failed on {name}: {finished.stdout}{finished.stderr}")
        output = finished.stdout
    finally:
        os.unlink(script.name)
    if args.verbose:
        print(output)
    return parse_wrk(name, output)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(name: str, output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", output)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(group) for group in socket_errors.groups())
    return Result(name, rps, p50, p99, errors)


@dataclass
class Target:
    """A server under test: where to send the request and with which session."""

    name: str
    url: str
    body: str
    cookie: str


# The SSL context trusting the CA of the variant being set up ("context": None for plain HTTP).
TRUSTED: dict[str, ssl.SSLContext | None] = {}


@contextmanager
def mock_target(args: argparse.Namespace, variant: str = "", extra: tuple[str, ...] = ()) -> Iterator[Target]:
    """The mock served as ``vismock serve`` serves it (with *extra* arguments, named *variant*)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vismock-bench-") as folder:
        tls = "--tls" in extra
        command = [sys.executable, "-m", "vismock", "serve", "--port", str(port)]
        command += ["--server", args.server, *extra]
        if tls:
            command += ["--tls-dir", folder]
        if args.server_threads:
            command += ["--threads", str(args.server_threads)]
        base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        ca_file = Path(folder) / "ca.pem"
        # The probe only waits for the server to answer (its CA file does not exist before that).
        TRUSTED["context"] = ssl._create_unverified_context() if tls else None
        with running(command, f"{base}/sdk/vimServiceVersions.xml"):
            TRUSTED["context"] = ssl.create_default_context(cafile=str(ca_file)) if tls else None
            cookie = login(f"{base}/sdk", "vismock", "vismock")
            body = check_request(f"{base}/sdk", cookie, args.mock_task)
            label = f" {variant}" if variant else ""
            name = f"vismock{label} ({args.server}, {args.mock_task})"
            yield Target(name, f"{base}/sdk", body, cookie)


def simulator_task(base: str) -> str:
    """A PowerOnVM_Task on the simulator (its VMs start powered on: power one off first)."""
    from pyVim.connect import Disconnect, SmartConnect
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    host, port = base.removeprefix("http://").split(":")
    si = SmartConnect(protocol="http", host=host, port=int(port), user="user", pwd="pass")
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = view.view[0]
        if vm.runtime.powerState == "poweredOn":
            WaitForTask(vm.PowerOffVM_Task())
        task = vm.PowerOnVM_Task()
        WaitForTask(task)
        return str(task._moId)
    finally:
        Disconnect(si)


@contextmanager
def simulator_target(args: argparse.Namespace) -> Iterator[Target | None]:
    binary = Path(args.vcsim)
    if not binary.is_file():
        print(f"(reference simulator {binary} not built: skipped)")
        yield None
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([str(binary), "-l", f"127.0.0.1:{port}"], f"{base}/sdk/vimServiceVersions.xml"):
        task = simulator_task(base)
        cookie = login(f"{base}/sdk", "user", "pass")
        body = check_request(f"{base}/sdk", cookie, task)
        yield Target("vcsim (reference simulator)", f"{base}/sdk", body, cookie)


def median_result(results: list[Result]) -> Result:
    """The round with the median requests/s (its own p50/p99), errors summed over rounds."""
    ordered = sorted(results, key=lambda result: result.requests_per_second)
    middle = ordered[len(ordered) // 2]
    return Result(
        middle.name, middle.requests_per_second, middle.p50_ms, middle.p99_ms, sum(r.errors for r in results)
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server; median kept")
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of load on each server first, not counted"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--server", default="granian", choices=("granian", "waitress", "gunicorn"))
    parser.add_argument("--server-threads", type=int, default=None, help="vismock serve --threads")
    parser.add_argument(
        "--mock-task",
        default="task-2675",
        help="the mock's task: task-2675 (finished) or task-1009 (running for an hour: read every time)",
    )
    parser.add_argument("--vcsim", default="/tmp/vcsim-anchor", help="reference simulator binary")
    parser.add_argument("--verbose", action="store_true", help="print wrk's full output")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="a mock served with extra serve arguments (repeatable): https=--tls, quiet=--quiet",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    variants = [variant.partition("=") for variant in args.variant] or [("", "", "")]
    with ExitStack() as stack:
        targets = [
            stack.enter_context(mock_target(args, name, tuple(shlex.split(extra))))
            for name, _, extra in variants
        ]
        simulator = stack.enter_context(simulator_target(args))
        if simulator is not None:
            targets.append(simulator)
        rounds: dict[str, list[Result]] = {target.name: [] for target in targets}
        for target in targets:  # warm up both (caches, JIT-less interpreter paths, connections): not counted
            run_wrk(target.name, target.url, target.body, target.cookie, args, duration=args.warmup)
        # Alternate the servers so that a noisy neighbour on the machine hits both alike.
        for _ in range(args.rounds):
            for target in targets:
                result = run_wrk(target.name, target.url, target.body, target.cookie, args)
                rounds[target.name].append(result)
    results = [median_result(rounds[target.name]) for target in targets]
    print(
        f"RetrievePropertiesEx(Task.info), wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"median of {args.rounds} alternating round(s)"
    )
    width = max(42, *(len(result.name) for result in results))
    print(f"{'server':{width}} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'vs first':>9}")
    first = results[0]
    for result in results:
        relative = result.requests_per_second / first.requests_per_second
        print(
            f"{result.name:{width}} {result.requests_per_second:10.0f} {result.p50_ms:9.2f} "
            f"{result.p99_ms:9.2f} {result.errors:7d} {relative:8.2f}x"
        )
    if simulator is not None:
        reference = results[-1]
        for mine in results[:-1]:
            ratio = mine.requests_per_second / reference.requests_per_second
            p99 = f"p99 {mine.p99_ms:.2f} ms vs {reference.p99_ms:.2f} ms"
            print(f"ratio {mine.name}/simulator: {ratio:.2f}x requests/s; {p99}")
    return 0


def server_scenario(task: str = "task-2675", state: str = "success") -> object:
    """This benchmark's request as a ``bench/server.py`` Scenario (run next to its trivial-view ceiling):
    ``SCENARIOS.append(soap.server_scenario())`` there. *state*: the TaskInfo state every answer
    must show (task-2675 is finished; task-1009, one of the built-in tasks, runs for an hour)."""
    from server import Scenario  # bench/server.py, importable from bench/

    body = ENVELOPE.format(call=RETRIEVE.format(task=task)).encode()
    return Scenario(
        f"SOAP RetrievePropertiesEx ({task}, {state})",
        "/sdk",
        body,
        headers={"Content-Type": SOAP_HEADERS["Content-Type"]},  # SOAPAction's quotes would break its Lua
        prepare=lambda url: {"Cookie": login(f"{url}/sdk", "vismock", "vismock")},
        expect=f"<state>{state}</state>".encode(),  # the task's TaskInfo, not a fault
    )


if __name__ == "__main__":
    raise SystemExit(main())
