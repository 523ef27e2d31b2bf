"""``vismock validate`` beside ``xmllint --noout --schema``, whole commands, in one run.

Three workloads, each timed as whole processes (start-up included), the two tools
taking turns (xmllint, vismock, xmllint, vismock...) so that a change in the
machine's speed touches both; the median of the rounds is printed with the ratio:

1. a flat folder of *--files* copies of the seed response (each with its own task
   id): vismock on all cores, on one process, and with ``--format json`` (a report
   naming every file), against xmllint given the same files and the same XSD;
2. *--nested* files in nested folders (100 per folder): ``vismock validate DIR``
   against ``find DIR -name '*.xml' | xargs xmllint ...`` (xargs: the argument list
   of 100,000 paths is too long for one command line);
3. one response of *--tasks* TaskInfos (about 45 MB at 50,000): time and peak
   resident memory of each tool, and vismock's peak against the file's size
   (target: within 10x); then the same document with one invalid value.

vismock's modules are byte-compiled first, as ``pip install`` does: with
PYTHONDONTWRITEBYTECODE set (as on the project's shared machine) an editable
install would otherwise compile every module changed since the last compile at
each start, a cost no installed copy pays.

Run: ``python bench/validate_batch.py [--files 5000] [--nested 100000] [--tasks 50000]
[--rounds 5]``; ``--nested 0`` or ``--tasks 0`` leaves a workload out.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed" / "response.xml"
XSD = ROOT / "schemas" / "retrieve-task-status.xsd"
PER_FOLDER = 100
BIG_LIMIT = 200 * 1024 * 1024  # --max-bytes for the large document


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # user + system of the command and the processes it waited for
    peak_bytes: int
    status: int


def run(command: Sequence[str], *, shell: bool = False) -> Run:
    """One whole-process run: wall time, and the peak resident memory of its largest process
    (wait4's accounting of that child and the processes it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        " ".join(command) if shell else list(command),
        shell=shell,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, process.returncode)


def vismock_command() -> list[str]:
    script = Path(sys.executable).with_name("vismock")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vismock"]


# What `vismock validate` imports of the project itself.
VALIDATE_PACKAGES = ("vismock", "vismock.codec", "vismock.schemas")


def compile_vismock() -> None:
    """Byte-compile the modules `vismock validate` imports, as installing the package does."""
    for package in VALIDATE_PACKAGES:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, maxlevels=0, quiet=1)


def xmllint_command() -> list[str]:
    if shutil.which("xmllint") is None:
        raise SystemExit("xmllint not found (apt-get install libxml2-utils)")
    return ["xmllint", "--noout", "--schema", str(XSD)]


# -- documents ------------------------------------------------------------------------------


def write_flat(folder: Path, count: int) -> list[Path]:
    """*count* valid response documents, each with its own task id, in *folder*."""
    template = SEED.read_bytes()
    paths = [folder / f"doc-{number:06d}.xml" for number in range(count)]
    for number, path in enumerate(paths):
        path.write_bytes(template.replace(b"task-2675", f"task-{number}".encode()))
    return paths


def write_nested(folder: Path, count: int) -> None:
    """*count* documents, PER_FOLDER a folder, folders grouped ten to a parent."""
    template = SEED.read_bytes()
    for number in range(count):
        group = number // PER_FOLDER
        target = folder / f"group-{group // 10:04d}" / f"batch-{group:05d}"
        if number % PER_FOLDER == 0:
            target.mkdir(parents=True, exist_ok=True)
        path = target / f"doc-{number:06d}.xml"
        path.write_bytes(template.replace(b"task-2675", f"task-{number}".encode()))


RETURNVAL = """  <returnval>
    <Task>task-{n}</Task>
    <propSet>
      <name>info</name>
      <TaskInfo>
        <key>task-{n}</key>
        <Task>task-{n}</Task>
        <name>PowerOnVM_Task</name>
        <descriptionId>VirtualMachine.powerOn</descriptionId>
        <VirtualMachine>vm-{n}</VirtualMachine>
        <entityName>TestDev-{n}</entityName>
        <state>{state}</state>
        <cancelled>false</cancelled>
        <cancelable>false</cancelable>
        <TaskReasonUser>
          <userName>bmc</userName>
        </TaskReasonUser>
        <queueTime>2009-05-27T08:26:34.234375Z</queueTime>
        <startTime>2009-05-27T08:26:34.25Z</startTime>
        <completeTime>2009-05-27T08:26:44.484375Z</completeTime>
        <eventChainId>{n}</eventChainId>
      </TaskInfo>
    </propSet>
  </returnval>
"""


def write_big(path: Path, tasks: int, *, invalid_at: int | None = None) -> int:
    """A success response with *tasks* returnvals (one TaskInfo each); the state of task
    *invalid_at* is not one the schema allows. Returns the size in bytes."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("<vmware-infrastructure-response>\n<metadata>\n<status>success</status>\n</metadata>\n")
        out.write("<RetrieveTaskStatusResponse>\n")
        for number in range(tasks):
            out.write(RETURNVAL.format(n=number, state="finished" if number == invalid_at else "success"))
        out.write("</RetrieveTaskStatusResponse>\n</vmware-infrastructure-response>\n")
    return path.stat().st_size


# -- comparisons ------------------------------------------------------------------------------


def alternate(commands: dict[str, tuple[list[str], bool]], rounds: int) -> dict[str, list[Run]]:
    """Each command once per round, in turn; a warm-up round is not counted."""
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for round_number in range(rounds + 1):
        for name, (command, shell) in commands.items():
            result = run(command, shell=shell)
            if round_number:
                runs[name].append(result)
    return runs


def machine_load() -> str:
    """The 1-minute load average before a workload: on this shared 2-core machine, from about 1 on
    another job holds a core and two processes mostly take turns (wall time near CPU time)."""
    return f"load average {os.getloadavg()[0]:.1f} before"


def report_rates(title: str, count: int, runs: dict[str, list[Run]], baseline: str) -> None:
    """Wall time (the target) and CPU time (what a busy machine disturbs less), medians."""
    print(title)
    base = statistics.median(r.seconds for r in runs[baseline])
    base_cpu = statistics.median(r.cpu_seconds for r in runs[baseline])
    for name, measured in runs.items():
        seconds = statistics.median(r.seconds for r in measured)
        cpu = statistics.median(r.cpu_seconds for r in measured)
        codes = sorted({r.status for r in measured})
        print(
            f"  {name:<44} {seconds:6.3f} s {count / seconds:8.0f} documents/s {base / seconds:5.2f}x xmllint"
            f" | cpu {cpu:6.3f} s {base_cpu / cpu:5.2f}x | exit {codes}"
        )


def compare_flat(folder: Path, count: int, rounds: int) -> None:
    paths = [str(p) for p in write_flat(folder, count)]
    vismock, xmllint = vismock_command(), xmllint_command()
    commands = {
        "xmllint --noout --schema XSD FILES": ([*xmllint, *paths], False),
        f"vismock validate DIR (all cores: {os.cpu_count()})": ([*vismock, "validate", str(folder)], False),
        "vismock validate --jobs 1 DIR": ([*vismock, "validate", "--jobs", "1", str(folder)], False),
        "vismock validate --format json DIR": ([*vismock, "validate", "-o", "json", str(folder)], False),
    }
    load = machine_load()
    runs = alternate(commands, rounds)
    report_rates(
        f"{count} files of {SEED.stat().st_size} bytes in one folder; median of {rounds} rounds; {load}",
        count,
        runs,
        "xmllint --noout --schema XSD FILES",
    )


def compare_nested(folder: Path, count: int, rounds: int) -> None:
    write_nested(folder, count)
    xmllint = " ".join(xmllint_command())
    find = f"find {folder} -name '*.xml' -print0 | sort -z"
    cores = os.cpu_count() or 1
    commands = {
        "find | xargs xmllint (one process)": ([f"{find} | xargs -0 {xmllint}"], True),
        f"find | xargs -P {cores} xmllint": ([f"{find} | xargs -0 -n 5000 -P {cores} {xmllint}"], True),
        "vismock validate DIR (all cores)": ([*vismock_command(), "validate", str(folder)], False),
    }
    load = machine_load()
    runs = alternate(commands, rounds)
    report_rates(
        f"{count} files in nested folders ({PER_FOLDER} a folder); median of {rounds} rounds; {load}",
        count,
        runs,
        "find | xargs xmllint (one process)",
    )


def compare_big(folder: Path, tasks: int, rounds: int) -> bool:
    ok = True
    for label, invalid_at in (("valid", None), ("one invalid state", tasks // 2)):
        path = folder / f"big-{label.split()[0]}.xml"
        size = write_big(path, tasks, invalid_at=invalid_at)
        vismock = [*vismock_command(), "validate", "--max-bytes", str(BIG_LIMIT), str(path)]
        commands = {"xmllint": ([*xmllint_command(), str(path)], False), "vismock": (vismock, False)}
        runs = alternate(commands, rounds)
        print(f"one response of {tasks} TaskInfos ({label}), {size / 1e6:.1f} MB; median of {rounds} rounds")
        for name, measured in runs.items():
            seconds = statistics.median(r.seconds for r in measured)
            peak = max(r.peak_bytes for r in measured)
            print(
                f"  {name:<10} {seconds:7.3f} s  peak {peak / 1e6:7.1f} MB ({peak / size:4.1f}x the file)"
                f"  exit {sorted({r.status for r in measured})}"
            )
        peak = max(r.peak_bytes for r in runs["vismock"])
        within = peak <= 10 * size
        ok = ok and within
        verdict = "PASS" if within else "FAIL"
        print(f"  {verdict}  vismock's peak memory is {peak / size:.1f}x the file (target <= 10x)")
    return ok


def report_batch(count: int, rounds: int = 5) -> None:
    """The flat-folder comparison alone (bench/codec.py prints it after its own figures)."""
    compile_vismock()
    with tempfile.TemporaryDirectory() as tmp:
        compare_flat(Path(tmp), count, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="files in the flat folder (default 5000)")
    parser.add_argument("--nested", type=int, default=100_000, help="files in nested folders")
    parser.add_argument("--tasks", type=int, default=50_000, help="TaskInfos in the large document")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per workload (default 5)")
    args = parser.parse_args(argv)
    compile_vismock()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if args.files:
            (base / "flat").mkdir()
            compare_flat(base / "flat", args.files, args.rounds)
        if args.nested:
            compare_nested(base / "nested", args.nested, args.rounds)
        if args.tasks:
            ok = compare_big(base, args.tasks, args.rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
