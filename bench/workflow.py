"""Benchmark of the power-operation workflow: power a VM off, poll its task to the end, power it on,
poll again. Side by side in one run: the mock's SOAP face, the reference simulator (govmomi's
vcsim), and the mock's adapter face (Power_Off_VM, Retrieve_Task_Status, Power_On_VM, ...).

Each client is a process with one keep-alive connection and a VM of its own (the simulator has
four), so the servers see the same concurrent workflows. Operations finish at once on both
(vcsim runs a task inside the call; the mock is given the instant behaviour), so the first poll
sees the end: a workflow is four requests. Rounds alternate the servers; the median round of each
is printed, with workflows/s, p50 and p99 of a whole workflow, and the ratios. Not a test: numbers
depend on the machine.

    python bench/workflow.py [--duration 10] [--rounds 3] [--clients 4]
                             [--server granian] [--server-threads N] [--vcsim /tmp/vcsim-anchor]
                             [--warmup 2] [--mock-args "--quiet"]

The mock runs as ``vismock serve`` runs it (one process owning the state; access log on unless
``--mock-args`` says otherwise).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from soap import ENVELOPE, SOAP_HEADERS, free_port, login, running  # bench/soap.py

VIM25 = "{urn:vim25}"
SCENARIO = """\
# bench/workflow.py: four VMs powered on (one per client), operations that finish at once.
tasks: []
operations:
  default: {timeline: [{state: success, at: 0}]}
inventory:
  datacenters:
    - name: DC0
      hosts:
        - name: esx0
          vms:
            - {name: VM0, id: vm-57}
            - {name: VM1, id: vm-60}
            - {name: VM2, id: vm-63}
            - {name: VM3, id: vm-66}
"""
POWER = '<{method} xmlns="urn:vim25"><_this type="VirtualMachine">{vm}</_this></{method}>'
POLL = (
    '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
    "<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>"
    '<objectSet><obj type="Task">{task}</obj></objectSet></specSet><options/></RetrievePropertiesEx>'
)
BASIC_VM = (
    "<vmware-infrastructure-request><operation-type>Basic_Vm</operation-type>"
    "<operation-name>{operation}</operation-name><parameters><virtual-machine>{vm}</virtual-machine>"
    "</parameters></vmware-infrastructure-request>"
)
STATUS = (
    "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
    "<operation-name>Retrieve_Task_Status</operation-name><parameters><spec-set><object-set>"
    "<task>{task}</task></object-set></spec-set></parameters></vmware-infrastructure-request>"
)


@dataclass(frozen=True)
class Target:
    """A server under test and how its clients speak to it."""

    name: str
    port: int
    face: str  # "soap" or "adapter"
    vms: tuple[str, ...]  # a VM per client: ids (soap) or names (adapter)
    user: str = "vismock"
    password: str = "vismock"


@dataclass
class Result:
    name: str
    workflows_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


# -- one client --------------------------------------------------------------------------------------


class Client:
    def __init__(self, target: Target, vm: str) -> None:
        self.target = target
        self.vm = vm
        self.connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        self.cookie = ""
        if target.face == "soap":
            self.cookie = login(f"http://127.0.0.1:{target.port}/sdk", target.user, target.password)

    def post(self, path: str, body: bytes) -> bytes:
        headers = {**SOAP_HEADERS, **({"Cookie": self.cookie} if self.cookie else {})}
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data

    def workflow(self) -> None:
        """Power off, poll to the end, power on, poll to the end: each must succeed."""
        for method, operation in (("PowerOffVM_Task", "Power_Off_VM"), ("PowerOnVM_Task", "Power_On_VM")):
            if self.target.face == "soap":
                self._soap_step(method)
            else:
                self._adapter_step(operation, method)

    def _soap_step(self, method: str) -> None:
        answer = self.post("/sdk", ENVELOPE.format(call=POWER.format(method=method, vm=self.vm)).encode())
        task = etree.fromstring(answer).findtext(f".//{VIM25}returnval")
        while True:
            state = etree.fromstring(self.post("/sdk", ENVELOPE.format(call=POLL.format(task=task)).encode()))
            shown = state.findtext(f".//{VIM25}val")
            if shown == "success":
                return
            if shown not in ("queued", "running"):
                raise RuntimeError(f"{method} on {self.vm}: task {task} ended {shown}")

    def _adapter_step(self, operation: str, method: str) -> None:
        answer = self.post("/adapter", BASIC_VM.format(operation=operation, vm=self.vm).encode())
        task = etree.fromstring(answer).findtext(f"{method}Response/Task")
        if task is None:
            raise RuntimeError(f"{operation} on {self.vm}: {answer[:300]!r}")
        while True:
            status = etree.fromstring(self.post("/adapter", STATUS.format(task=task).encode()))
            shown = status.findtext(".//TaskInfo/state")
            if shown == "success":
                return
            if shown not in ("queued", "running"):
                raise RuntimeError(f"{operation} on {self.vm}: task {task} ended {shown}")


def client_loop(target: Target, vm: str, start_at: float, stop_at: float, out: Any) -> None:
    """Workflows from *start_at* to *stop_at* (time.time()); their latencies and errors to *out*."""
    client = Client(target, vm)
    latencies: list[float] = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while (began := time.perf_counter()) and time.time() < stop_at:
        try:
            client.workflow()
            latencies.append(time.perf_counter() - began)
        except Exception as error:  # counted and shown: a benchmark that hides errors measures nothing
            errors += 1
            if errors == 1:
                print(f"{target.name}: {error}", file=sys.stderr)
            client = Client(target, vm)
    out.put((latencies, errors))


def run_round(target: Target, clients: int, seconds: float) -> Result:
    queue: Any = multiprocessing.Queue()
    start_at = time.time() + 1.0  # every client logged in and connected before the clock starts
    processes = [
        multiprocessing.Process(
            target=client_loop, args=(target, target.vms[i], start_at, start_at + seconds, queue)
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    latencies: list[float] = []
    errors = 0
    for _ in processes:
        mine, failed = queue.get(timeout=seconds + 60)
        latencies += mine
        errors += failed
    for process in processes:
        process.join(timeout=30)
    if not latencies:
        return Result(target.name, 0.0, 0.0, 0.0, errors)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Result(
        target.name, len(latencies) / seconds, statistics.median(ordered) * 1000, p99 * 1000, errors
    )


# -- the servers -------------------------------------------------------------------------------------


@contextmanager
def mock(args: argparse.Namespace) -> Iterator[int]:
    with tempfile.TemporaryDirectory(prefix="vismock-bench-") as folder:
        scenario = Path(folder) / "scenario.yaml"
        scenario.write_text(SCENARIO)
        port = free_port()
        command = [sys.executable, "-m", "vismock", "serve", "--port", str(port), "--tasks", str(scenario)]
        command += ["--server", args.server, *shlex.split(args.mock_args)]
        if args.server_threads:
            command += ["--threads", str(args.server_threads)]
        with running(command, f"http://127.0.0.1:{port}/sdk/vimServiceVersions.xml"):
            yield port


@contextmanager
def simulator(args: argparse.Namespace) -> Iterator[int | None]:
    binary = Path(args.vcsim)
    if not binary.is_file():
        print(f"(reference simulator {binary} not built: skipped; build it with "
              "bash /work/shared/anchors/vcsim/build.sh /tmp/vcsim-anchor)")  # fmt: skip
        yield None
        return
    port = free_port()
    with running(
        [str(binary), "-l", f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/sdk/vimServiceVersions.xml"
    ):
        yield port


def simulator_vms(port: int) -> tuple[str, ...]:
    """The simulator's VMs (all powered on when it starts), found the way every vCenter allows."""
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    si = SmartConnect(protocol="http", host="127.0.0.1", port=port, user="user", pwd="pass")
    try:
        found: list[str] = []
        folders = [datacenter.vmFolder for datacenter in si.content.rootFolder.childEntity]
        while folders:
            for child in folders.pop().childEntity:
                if isinstance(child, vim.VirtualMachine) and child.runtime.powerState == "poweredOn":
                    found.append(child._moId)
                elif isinstance(child, vim.Folder):
                    folders.append(child)
        return tuple(sorted(found))
    finally:
        Disconnect(si)


def median(results: list[Result]) -> Result:
    ordered = sorted(results, key=lambda result: result.workflows_per_second)
    middle = ordered[len(ordered) // 2]
    return Result(
        middle.name, middle.workflows_per_second, middle.p50_ms, middle.p99_ms, sum(r.errors for r in results)
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target; median kept")
    parser.add_argument("--warmup", type=float, default=2, help="seconds on each target first, not counted")
    parser.add_argument("--clients", type=int, default=4, choices=range(1, 5), help="client processes (1-4)")
    parser.add_argument("--server", default="granian", choices=("granian", "waitress", "gunicorn"))
    parser.add_argument("--server-threads", type=int, default=None, help="vismock serve --threads")
    parser.add_argument("--mock-args", default="", help="more vismock serve arguments (e.g. --quiet)")
    parser.add_argument("--vcsim", default="/tmp/vcsim-anchor", help="reference simulator binary")
    args = parser.parse_args()
    with mock(args) as mock_port, simulator(args) as vcsim_port:
        targets = [
            Target(f"vismock SOAP ({args.server})", mock_port, "soap",
                   ("vm-57", "vm-60", "vm-63", "vm-66")),
            Target("vismock adapter face", mock_port, "adapter", ("VM0", "VM1", "VM2", "VM3")),
        ]  # fmt: skip
        if vcsim_port is not None:
            vms = simulator_vms(vcsim_port)
            targets.insert(1, Target("vcsim (reference simulator)", vcsim_port, "soap", vms, "user", "pass"))
        return report(targets, args)


def report(targets: list[Target], args: argparse.Namespace) -> int:
    rounds: dict[str, list[Result]] = {target.name: [] for target in targets}
    for target in targets:
        run_round(target, args.clients, args.warmup)
    for _ in range(args.rounds):
        for target in targets:  # alternating: a noisy neighbour hits every target alike
            rounds[target.name].append(run_round(target, args.clients, args.duration))
    results = {name: median(found) for name, found in rounds.items()}
    print(
        f"workflow (power off, poll to the end, power on, poll), {args.clients} clients with a VM each, "
        f"{args.duration:g} s rounds, median of {args.rounds} alternating round(s)"
    )
    print(f"{'target':42} {'workflows/s':>12} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for result in results.values():
        print(
            f"{result.name:42} {result.workflows_per_second:12.1f} {result.p50_ms:9.2f} "
            f"{result.p99_ms:9.2f} {result.errors:7d}"
        )
    names = [target.name for target in targets]
    soap, adapter = results[names[0]], results[names[-1]]
    reference = results.get("vcsim (reference simulator)")
    if reference is not None and reference.workflows_per_second:
        soap_ratio = soap.workflows_per_second / reference.workflows_per_second
        adapter_ratio = adapter.workflows_per_second / reference.workflows_per_second
        print(
            f"ratio vismock SOAP / vcsim: {soap_ratio:.2f}x workflows/s; p99 {soap.p99_ms:.2f} ms vs "
            f"{reference.p99_ms:.2f} ms (adapter face: {adapter_ratio:.2f}x, p99 {adapter.p99_ms:.2f} ms)"
        )
    return 1 if any(result.errors for result in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
