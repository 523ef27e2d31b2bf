"""The mixed load run against a real ``vismock serve``: clients over both faces, admin writes and
journal reads, every answer checked. ``tests/mockserver/test_load.py`` runs it at CI size and
``bench/soak.py`` for minutes, with memory reports.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

import vismock.codec as codec
from vismock.mockserver.vim25.check import envelope_errors

XML = "text/xml; charset=utf-8"
JSON = "application/json"
VIM25 = "{urn:vim25}"
TASKS_PER_CLIENT = 3
# Operation mix: (name, weight).
MIX = (("adapter", 35), ("soap_fetch", 20), ("soap_retrieve", 20), ("admin_write", 10), ("journal", 15))
ADMIN_PORT_LINE = re.compile(r"serving on http://[^:]+:(\d+)/")


# -- the server under test -------------------------------------------------------------------------


class Server:
    """``vismock serve`` in a subprocess on a free port; its output goes to a log file."""

    def __init__(
        self, folder: Path, *, journal_cap: int, threads: int | None = None, extra: tuple[str, ...] = ()
    ) -> None:
        """*threads*: ``vismock serve --threads`` (None: its default)."""
        self.log = folder / "serve.log"
        self._log_file = self.log.open("w")
        command = [
            sys.executable,
            "-m",
            "vismock",
            "serve",
            "--port",
            "0",
            *(["--threads", str(threads)] if threads else []),
            "--journal-cap",
            str(journal_cap),
            "--db",
            str(folder / "state.sqlite3"),
            *extra,
        ]
        self.process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT)
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = ADMIN_PORT_LINE.search(self.log.read_text())
            if found and _accepts(int(found.group(1))):
                return int(found.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"vismock serve exited:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"vismock serve did not start:\n{self.log.read_text()}")

    def resident_mb(self) -> float:
        """Resident memory of the server: its main process and the one serving."""
        return sum(_rss_kb(pid) for pid in _process_tree(self.process.pid)) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


def _accepts(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- one client ------------------------------------------------------------------------------------


class Unexpected(Exception):
    """An answer that is wrong: bad status, invalid against its schema, or someone else's data."""


@dataclass
class Stats:
    """Shared by all clients: latencies of the current interval, counts, the first errors."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    by_operation: dict[str, int] = field(default_factory=dict)

    def record(self, operation: str, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.requests += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    def error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.first_errors) < 20:
                self.first_errors.append(message)

    def take_latencies(self) -> list[float]:
        with self.lock:
            taken, self.latencies = self.latencies, []
            return taken


def task_spec(client: int, number: int, version: int) -> dict[str, Any]:
    return {
        "name": "PowerOnVM_Task",
        "descriptionId": "VirtualMachine.powerOn",
        "entity": {
            "type": "VirtualMachine",
            "id": f"vm-{client}-{number}",
            "name": entity_name(client, number, version),
        },
        "eventChainId": client * 1000 + number,
        "timeline": [
            {"state": "queued", "at": 0},
            {"state": "running", "at": 0.5, "progress": 50},
            {"state": "success", "at": 1.0},
        ],
    }


def entity_name(client: int, number: int, version: int) -> str:
    return f"c{client}-t{number}-v{version}"


class Client:
    """One simulated user: a keep-alive connection, a SOAP session, its own tasks and their versions."""

    def __init__(self, index: int, port: int, stats: Stats, seed: int) -> None:
        self.index = index
        self.port = port
        self.stats = stats
        self.random = random.Random(seed)
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.versions = dict.fromkeys(range(TASKS_PER_CLIENT), 0)
        self.operations: dict[str, Callable[[], None]] = {
            "adapter": self.adapter,
            "soap_fetch": self.soap_fetch,
            "soap_retrieve": self.soap_retrieve,
            "admin_write": self.admin_write,
            "journal": self.journal,
        }

    def task_id(self, number: int) -> str:
        return f"soak-{self.index}-{number}"

    # -- plumbing
    def call(
        self, operation: str, method: str, path: str, body: bytes, content_type: str
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type}
        if self.cookie:
            headers["Cookie"] = self.cookie
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # reconnect on the next request
            raise Unexpected(f"{operation}: connection failed: {error!r}") from None
        self.stats.record(operation, time.perf_counter() - started)
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return response.status, data

    def setup(self) -> None:
        for number in range(TASKS_PER_CLIENT):
            self.put_task(number)
        status, data = self.call("soap_login", "POST", "/sdk", soap_login(), XML)
        _expect(status == 200 and not envelope_errors(data), "soap login", status, data)

    def step(self) -> None:
        names = [name for name, _ in MIX]
        weights = [weight for _, weight in MIX]
        self.operations[self.random.choices(names, weights)[0]]()

    # -- operations
    def put_task(self, number: int) -> None:
        body = json.dumps(task_spec(self.index, number, self.versions[number])).encode()
        status, data = self.call("admin_write", "PUT", f"/_vismock/tasks/{self.task_id(number)}", body, JSON)
        _expect(status == 200, "admin write", status, data)

    def admin_write(self) -> None:
        number = self.random.randrange(TASKS_PER_CLIENT)
        self.versions[number] += 1
        self.put_task(number)

    def adapter(self) -> None:
        numbers = self.random.sample(range(TASKS_PER_CLIENT), self.random.randint(1, TASKS_PER_CLIENT))
        status, data = self.call(
            "adapter", "POST", "/adapter", adapter_request([self.task_id(n) for n in numbers]), XML
        )
        _expect(status == 200 and codec.is_valid(data), "adapter: invalid answer", status, data)
        infos = etree.fromstring(data).findall(".//TaskInfo")
        seen = [(info.findtext("key"), info.findtext("entityName")) for info in infos]
        wanted = [(self.task_id(n), entity_name(self.index, n, self.versions[n])) for n in numbers]
        _expect(seen == wanted, f"adapter: read {seen}, expected {wanted}", status, data)

    def soap_fetch(self) -> None:
        number = self.random.randrange(TASKS_PER_CLIENT)
        status, data = self.call("soap_fetch", "POST", "/sdk", soap_fetch(self.task_id(number)), XML)
        self.check_task_info(status, data, [number], "Fetch")

    def soap_retrieve(self) -> None:
        number = self.random.randrange(TASKS_PER_CLIENT)
        status, data = self.call("soap_retrieve", "POST", "/sdk", soap_retrieve(self.task_id(number)), XML)
        self.check_task_info(status, data, [number], "RetrievePropertiesEx")

    def check_task_info(self, status: int, data: bytes, numbers: list[int], method: str) -> None:
        _expect(status == 200 and envelope_errors(data) == [], f"{method}: invalid answer", status, data)
        root = etree.fromstring(data)
        seen = [
            (info.findtext(f"{VIM25}key"), info.findtext(f"{VIM25}entityName"))
            for info in root.iter(f"{VIM25}val", f"{VIM25}returnval")
            if info.find(f"{VIM25}key") is not None
        ]
        wanted = [(self.task_id(n), entity_name(self.index, n, self.versions[n])) for n in numbers]
        _expect(seen == wanted, f"{method}: read {seen}, expected {wanted}", status, data)

    def journal(self) -> None:
        task_id = self.task_id(self.random.randrange(TASKS_PER_CLIENT))
        status, data = self.call("journal", "GET", f"/_vismock/journal?task={task_id}&limit=5", b"", JSON)
        _expect(status == 200, "journal read", status, data)
        entries = json.loads(data)["entries"]
        _expect(
            all(task_id in entry["task_ids"] for entry in entries),
            "journal: another task's entry",
            status,
            data,
        )


def _expect(condition: bool, what: str, status: int, data: bytes) -> None:
    if not condition:
        raise Unexpected(f"{what} (HTTP {status}): {data[:300]!r}")


def adapter_request(task_ids: list[str]) -> bytes:
    objects = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
    return (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        "<operation-name>Retrieve_Task_Status</operation-name><user-name>vismock</user-name>"
        f"<password>vismock</password><parameters><spec-set>{objects}</spec-set></parameters>"
        "</vmware-infrastructure-request>"
    ).encode()


def _soap(call: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        f'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>{call}</soapenv:Body>'
        "</soapenv:Envelope>"
    ).encode()


def soap_login() -> bytes:
    return _soap(
        '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
        "<userName>vismock</userName><password>vismock</password></Login>"
    )


def soap_fetch(task_id: str) -> bytes:
    return _soap(f'<Fetch xmlns="urn:vim25"><_this type="Task">{task_id}</_this><prop>info</prop></Fetch>')


def soap_retrieve(task_id: str) -> bytes:
    return _soap(
        '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
        "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
        f'<objectSet><obj type="Task">{task_id}</obj></objectSet></specSet><options/></RetrievePropertiesEx>'
    )


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Result:
    seconds: float
    requests: int
    errors: int
    first_errors: list[str]
    by_operation: dict[str, int]
    lines: list[str]
    resident_mb: list[float]
    journal_entries: int


def run_load(
    server: Server, *, clients: int, seconds: float, interval: float, seed: int = 1, out: Any = None
) -> Result:
    """*clients* threads for *seconds*; a report line every *interval* seconds (printed to *out*)."""
    stats = Stats()
    stop = threading.Event()
    users = [Client(index, server.port, stats, seed * 1000 + index) for index in range(clients)]
    for user in users:
        user.setup()
    threads = [threading.Thread(target=_drive, args=(user, stop, stats), daemon=True) for user in users]
    lines: list[str] = []
    memory: list[float] = []
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for report_at in _report_times(started, seconds, interval):
        time.sleep(max(0.0, report_at - time.monotonic()))
        line, resident = _report(stats, server, time.monotonic() - started, interval)
        lines.append(line)
        memory.append(resident)
        if out is not None:
            print(line, file=out, flush=True)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    count_status, count = users[0].call("journal", "GET", "/_vismock/journal/count", b"", JSON)
    return Result(
        seconds=time.monotonic() - started,
        requests=stats.requests,
        errors=stats.errors,
        first_errors=stats.first_errors,
        by_operation=dict(stats.by_operation),
        lines=lines,
        resident_mb=memory,
        journal_entries=json.loads(count)["count"] if count_status == 200 else -1,
    )


def _drive(user: Client, stop: threading.Event, stats: Stats) -> None:
    while not stop.is_set():
        try:
            user.step()
        except Unexpected as error:
            stats.error(f"client {user.index}: {error}")
        except Exception as error:  # a bug in the driver or an undecodable answer: count it, keep going
            stats.error(f"client {user.index}: {error!r}")


def _report_times(started: float, seconds: float, interval: float) -> Iterator[float]:
    at = interval
    while at < seconds:
        yield started + at
        at += interval
    yield started + seconds


_last_report: dict[int, tuple[float, int]] = {}


def _report(stats: Stats, server: Server, elapsed: float, interval: float) -> tuple[str, float]:
    latencies = sorted(stats.take_latencies())
    previous_elapsed, _ = _last_report.get(id(stats), (0.0, 0))
    _last_report[id(stats)] = (elapsed, stats.requests)
    span = max(elapsed - previous_elapsed, 1e-9)
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0
    resident = server.resident_mb()
    line = (
        f"t={elapsed:6.1f}s  {len(latencies) / span:7.1f} req/s  p50 {p50:6.2f} ms  p99 {p99:7.2f} ms  "
        f"server RSS {resident:6.1f} MB  requests {stats.requests}  errors {stats.errors}"
    )
    return line, resident


# -- hostile CPU -----------------------------------------------------------------------------------
