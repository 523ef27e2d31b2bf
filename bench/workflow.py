"""Benchmark of two VM workflows a pipeline runs, side by side in one run on the mock's SOAP face,
the reference simulator (govmomi's vcsim), and the mock's adapter face:

* ``power``: power a VM off, poll its task to the end, power it on, poll again (SOAP
  PowerOffVM_Task, RetrievePropertiesEx of the task's ``info.state``, PowerOnVM_Task, ...; adapter
  face Power_Off_VM, Retrieve_Task_Status, Power_On_VM, ...);
* ``snapshot``: snapshot the VM, poll to the end (``info.state`` and ``info.result``: the new
  snapshot), revert to it, poll, remove it, poll (SOAP CreateSnapshot_Task with its memory,
  RevertToSnapshot_Task, RemoveSnapshot_Task; adapter face Create_VM_Snapshot, Revert_VM_Snapshot,
  Delete_VM_Snapshot by the snapshot's name, each followed by Retrieve_Task_Status). With the
  memory, the snapshot records the VM powered on, so a revert leaves it on (vCenter; the simulator
  never changes the power state), and each workflow leaves the VM as it found it: no snapshot,
  powered on.

Each client is a process with one keep-alive connection and a VM of its own (the simulator has
four), so the servers see the same concurrent workflows. Operations finish at once on both
(vcsim runs a task inside the call; the mock is given the instant behaviour), so the first poll
sees the end: a power workflow is four requests, a snapshot workflow six. Rounds alternate the
servers; the median round of each is printed, with workflows/s, p50 and p99 of a whole workflow,
and the ratios. Not a test: numbers depend on the machine.

    python bench/workflow.py [--workflow power|snapshot|all] [--duration 10] [--rounds 3] [--clients 4]
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
SNAPSHOT_NAME = "bench"
CREATE_SNAPSHOT = (
    '<CreateSnapshot_Task xmlns="urn:vim25"><_this type="VirtualMachine">{vm}</_this>'
    f"<name>{SNAPSHOT_NAME}</name><memory>true</memory><quiesce>false</quiesce></CreateSnapshot_Task>"
)
REVERT_SNAPSHOT = (
    '<RevertToSnapshot_Task xmlns="urn:vim25"><_this type="VirtualMachineSnapshot">{snapshot}</_this>'
    "</RevertToSnapshot_Task>"
)
REMOVE_SNAPSHOT = (
    '<RemoveSnapshot_Task xmlns="urn:vim25"><_this type="VirtualMachineSnapshot">{snapshot}</_this>'
    "<removeChildren>false</removeChildren></RemoveSnapshot_Task>"
)
POLL = (
    '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
    "<specSet><propSet><type>Task</type><pathSet>info.state</pathSet>{more}</propSet>"
    '<objectSet><obj type="Task">{task}</obj></objectSet></specSet><options/></RetrievePropertiesEx>'
)
RESULT_PATH = "<pathSet>info.result</pathSet>"
BASIC_VM = (
    "<vmware-infrastructure-request><operation-type>Basic_Vm</operation-type>"
    "<operation-name>{operation}</operation-name><parameters><virtual-machine>{vm}</virtual-machine>"
    "</parameters></vmware-infrastructure-request>"
)
ADVANCED_VM = (
    "<vmware-infrastructure-request><operation-type>Advanced_Vm</operation-type>"
    "<operation-name>{operation}</operation-name><parameters><virtual-machine>{vm}</virtual-machine>"
    f"<name>{SNAPSHOT_NAME}</name>{{more}}</parameters></vmware-infrastructure-request>"
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

    def workflow(self, kind: str) -> None:
        """One workflow of *kind* (``power`` or ``snapshot``): each step must succeed."""
        if kind == "power":
            for method, operation in (("PowerOffVM_Task", "Power_Off_VM"), ("PowerOnVM_Task", "Power_On_VM")):
                if self.target.face == "soap":
                    self._soap_step(method, POWER.format(method=method, vm=self.vm))
                else:
                    self._adapter_step(operation, method, BASIC_VM.format(operation=operation, vm=self.vm))
        elif self.target.face == "soap":
            snapshot = self._soap_step("CreateSnapshot_Task", CREATE_SNAPSHOT.format(vm=self.vm), result=True)
            self._soap_step("RevertToSnapshot_Task", REVERT_SNAPSHOT.format(snapshot=snapshot))
            self._soap_step("RemoveSnapshot_Task", REMOVE_SNAPSHOT.format(snapshot=snapshot))
        else:
            for operation, method, more in (
                ("Create_VM_Snapshot", "CreateSnapshot_Task", "<memory>true</memory>"),
                ("Revert_VM_Snapshot", "RevertToSnapshot_Task", ""),
                ("Delete_VM_Snapshot", "RemoveSnapshot_Task", "<remove-children>false</remove-children>"),
            ):
                self._adapter_step(
                    operation, method, ADVANCED_VM.format(operation=operation, vm=self.vm, more=more)
                )

    def _soap_step(self, method: str, call: str, *, result: bool = False) -> str | None:
        """Call *method*, poll its task's state (and, with *result*, its result) to the end: the result."""
        answer = self.post("/sdk", ENVELOPE.format(call=call).encode())
        task = etree.fromstring(answer).findtext(f".//{VIM25}returnval")
        if task is None:
            raise RuntimeError(f"{method} on {self.vm}: {answer[:300]!r}")
        poll = ENVELOPE.format(call=POLL.format(task=task, more=RESULT_PATH if result else "")).encode()
        while True:
            shown = {
                prop.findtext(f"{VIM25}name"): prop.findtext(f"{VIM25}val")
                for prop in etree.fromstring(self.post("/sdk", poll)).iter(f"{VIM25}propSet")
            }
            if shown.get("info.state") == "success":
                return shown.get("info.result")
            if shown.get("info.state") not in ("queued", "running"):
                raise RuntimeError(f"{method} on {self.vm}: task {task} ended {shown}")

    def _adapter_step(self, operation: str, method: str, request: str) -> None:
        answer = self.post("/adapter", request.encode())
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


def client_loop(target: Target, kind: str, vm: str, start_at: float, stop_at: float, out: Any) -> None:
    """Workflows of *kind* from *start_at* to *stop_at* (time.time()); their latencies and errors to *out*."""
    client = Client(target, vm)
    latencies: list[float] = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while (began := time.perf_counter()) and time.time() < stop_at:
        try:
            client.workflow(kind)
            latencies.append(time.perf_counter() - began)
        except Exception as error:  # counted and shown: a benchmark that hides errors measures nothing
            errors += 1
            if errors == 1:
                print(f"{target.name}: {error}", file=sys.stderr)
            client = Client(target, vm)
    out.put((latencies, errors))


def run_round(target: Target, kind: str, clients: int, seconds: float) -> Result:
    queue: Any = multiprocessing.Queue()
    start_at = time.time() + 1.0  # every client logged in and connected before the clock starts
    processes = [
        multiprocessing.Process(
            target=client_loop, args=(target, kind, target.vms[i], start_at, start_at + seconds, queue)
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


WORKFLOWS = {
    "power": "power off, poll to the end, power on, poll",
    "snapshot": "snapshot with memory, poll to the end, revert, poll, remove, poll",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workflow", default="all", choices=(*WORKFLOWS, "all"), help="which workflow(s) (default all)"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target; median kept")
    parser.add_argument("--warmup", type=float, default=2, help="seconds on each target first, not counted")
    parser.add_argument("--clients", type=int, default=4, choices=range(1, 5), help="client processes (1-4)")
    parser.add_argument("--server", default="granian", choices=("granian", "waitress", "gunicorn"))
    parser.add_argument("--server-threads", type=int, default=None, help="vismock serve --threads")
    parser.add_argument("--mock-args", default="", help="more vismock serve arguments (e.g. --quiet)")
    parser.add_argument("--vcsim", default="/tmp/vcsim-anchor", help="reference simulator binary")
    args = parser.parse_args(argv)
    kinds = list(WORKFLOWS) if args.workflow == "all" else [args.workflow]
    with mock(args) as mock_port, simulator(args) as vcsim_port:
        targets = [
            Target(f"vismock SOAP ({args.server})", mock_port, "soap",
                   ("vm-57", "vm-60", "vm-63", "vm-66")),
            Target("vismock adapter face", mock_port, "adapter", ("VM0", "VM1", "VM2", "VM3")),
        ]  # fmt: skip
        if vcsim_port is not None:
            vms = simulator_vms(vcsim_port)
            targets.insert(1, Target("vcsim (reference simulator)", vcsim_port, "soap", vms, "user", "pass"))
        return report(targets, kinds, args)


def report(targets: list[Target], kinds: list[str], args: argparse.Namespace) -> int:
    rounds: dict[tuple[str, str], list[Result]] = {(kind, t.name): [] for kind in kinds for t in targets}
    for kind in kinds:
        for target in targets:
            run_round(target, kind, args.clients, args.warmup)
    for _ in range(args.rounds):
        for kind in kinds:  # alternating: a noisy neighbour hits every target and workflow alike
            for target in targets:
                rounds[kind, target.name].append(run_round(target, kind, args.clients, args.duration))
    failed = False
    for kind in kinds:
        results = [median(rounds[kind, target.name]) for target in targets]
        print_table(kind, results, args)
        failed = failed or any(result.errors for result in results)
    return 1 if failed else 0


def print_table(kind: str, results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"{kind} workflow ({WORKFLOWS[kind]}), {args.clients} clients with a VM each, "
        f"{args.duration:g} s rounds, median of {args.rounds} alternating round(s)"
    )
    print(f"{'target':42} {'workflows/s':>12} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for result in results:
        print(
            f"{result.name:42} {result.workflows_per_second:12.1f} {result.p50_ms:9.2f} "
            f"{result.p99_ms:9.2f} {result.errors:7d}"
        )
    soap, adapter = results[0], results[-1]
    reference = next((result for result in results if result.name.startswith("vcsim")), None)
    if reference is not None and reference.workflows_per_second:
        soap_ratio = soap.workflows_per_second / reference.workflows_per_second
        adapter_ratio = adapter.workflows_per_second / reference.workflows_per_second
        print(
            f"ratio vismock SOAP / vcsim: {soap_ratio:.2f}x workflows/s; p99 {soap.p99_ms:.2f} ms vs "
            f"{reference.p99_ms:.2f} ms (adapter face: {adapter_ratio:.2f}x, p99 {adapter.p99_ms:.2f} ms)"
        )
    print()


if __name__ == "__main__":
    raise SystemExit(main())
