"""``vismock record [TASK ...] -o FILE.yaml``: a vCenter's tasks (and inventory) as a scenario file.

Connects as ``retrieve-task-status`` does (the same options), reads the TaskInfo of the tasks
named (default: TaskManager.recentTask), with ``--inventory`` the inventory, and with ``--follow``
every change of each running task until it ends. The file is what ``vismock serve --tasks`` loads.

Exit status: 0 everything asked for was recorded; 1 the vCenter failed us (unreachable, bad
credentials, an unknown task id, the connection lost while following) or the recording was
interrupted (Ctrl-C, SIGTERM): whatever was recorded is still written, as a valid file; 2 bad
options or an output file that cannot be written (checked before connecting).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from vismock.adapter.cli import PASSWORD_ENV, add_connection_options, connection_settings
from vismock.adapter.recording.document import (
    Recording,
    check,
    check_writable,
    parse_user_replacement,
    render,
    replace_users,
    write_atomically,
)
from vismock.adapter.recording.inventory import InventoryDocument, inventory_document
from vismock.adapter.recording.session import TERMINAL, WAIT_SECONDS, Session
from vismock.adapter.recording.timeline import NotRecordable, RecordedTask, Sighting, Timing, recorded_task
from vismock.adapter.vcenter import Settings, connect
from vismock.codec import XsDateTime
from vismock.faults import VimFault
from vismock.mockserver.state.taskfile import TaskFileError

PROG = "vismock record"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record a vCenter's tasks (and inventory) into a task file that 'vismock serve --tasks' replays",
        description="Connect to a vCenter (or the reference simulator, or vismock) over SOAP and write the "
        "TaskInfo of the tasks named (default: TaskManager.recentTask) as a scenario file. With --follow, "
        "every change of each running task until it ends, replayed with its recorded timing. "
        "Passwords and session keys are never written.",
    )
    parser.add_argument("tasks", nargs="*", metavar="TASK", help="task ids (task-123); default: recentTask")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.yaml", help="the file to write")
    add_connection_options(parser)
    parser.add_argument(
        "--follow", action="store_true", help="follow each running task until it ends (Ctrl-C stops cleanly)"
    )
    parser.add_argument(
        "--by-polls",
        action="store_true",
        help="with --follow: replay the changes one per client poll rather than with their timing",
    )
    parser.add_argument(
        "--inventory", action="store_true", help="also record datacenters, clusters, hosts and VMs"
    )
    parser.add_argument(
        "--replace-user",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="write user name OLD as NEW in TaskReasonUser (repeatable; OLD '*' is every other user)",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class Options:
    settings: Settings
    output: Path
    task_ids: tuple[str, ...] = ()
    follow: bool = False
    by_polls: bool = False
    inventory: bool = False
    users: dict[str, str] = field(default_factory=dict)


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except (OSError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    return Recorder(options).run()


def _options(args: argparse.Namespace) -> Options:
    settings = connection_settings(args)
    if not settings.soap_url:
        raise ValueError("--soap-url is required (https://HOST[:PORT]/sdk)")
    if not settings.user:
        raise ValueError("--user is required")
    if args.by_polls and not args.follow:
        raise ValueError("--by-polls needs --follow (it says how followed changes are replayed)")
    output = Path(args.output)
    check_writable(output)
    if settings.password is None:
        raise ValueError(
            f"no password given for {settings.user!r}: set {PASSWORD_ENV}, or name another variable with "
            "--password-env NAME, or a file with --password-file FILE"
        )
    return Options(
        settings=settings,
        output=output,
        task_ids=tuple(dict.fromkeys(args.tasks)),  # each once, in the order given
        follow=args.follow,
        by_polls=args.by_polls,
        inventory=args.inventory,
        users=dict(parse_user_replacement(text) for text in args.replace_user),
    )


# -- recording


class _StopSignals:
    """SIGTERM (a CI job's timeout, ``kill``) stops a recording as Ctrl-C does: it is still written.

    The first signal is only remembered; the recording stops at its next safe point
    (``raise_if_stopped()``: after every wait of a follow, at most a second apart, and between
    its steps). Raised at any instant, the KeyboardInterrupt could leave pyVmomi's connection-pool
    lock held, and the logout that follows would wait on it forever (seen in CI: the recorder
    never exited). A second signal raises at once, for whoever will not wait.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._interrupt)
        except ValueError:  # not the main thread (a test calling main() in a thread)
            pass
        return self

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def raise_if_stopped(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *_: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@dataclass
class Recorder:
    """One recording: what was seen so far, so that an interruption still writes all of it."""

    options: Options
    err: TextIO = field(default_factory=lambda: sys.stderr)
    sightings: dict[str, list[Sighting]] = field(default_factory=dict)
    followed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "task-9: not recorded: why"
    inventory: InventoryDocument | None = None
    details_known: bool = True
    session: Session | None = None
    interrupted: bool = False
    stop: _StopSignals = field(default_factory=_StopSignals)
    failure: VimFault | None = None
    started: float = field(default_factory=time.monotonic)
    began: datetime = field(default_factory=lambda: datetime.now(UTC))

    def run(self) -> int:
        written: Path | None = None
        try:
            with self.stop, connect(self.options.settings) as vcenter:
                try:
                    self._record(Session(vcenter))
                except KeyboardInterrupt:
                    self.interrupted = True
                except VimFault as fault:
                    self.failure = fault
                written = self._write()
        except VimFault as fault:  # could not connect or log in: nothing was recorded
            self._say(f"{fault.message.rstrip('.')}; nothing recorded, {self.options.output} not written")
            return 1
        except KeyboardInterrupt:  # before anything was recorded, or while logging out after the write
            if written is None:
                self._say(f"interrupted; nothing recorded, {self.options.output} not written")
                return 1
        return self._exit_status(written)

    def _record(self, session: Session) -> None:
        self.session = session
        self.stop.raise_if_stopped()
        task_ids = list(self.options.task_ids) or session.recent_task_ids()
        infos, self.unknown = session.read_tasks(task_ids)
        seen_at = session.now()
        for task_id in task_ids:
            if task_id in infos:
                self.sightings[task_id] = [Sighting(seen_at, infos[task_id])]
        self.stop.raise_if_stopped()
        if self.options.inventory:
            self._record_inventory(session)
            self.stop.raise_if_stopped()
        if self.options.follow:
            self._follow(session)

    def _record_inventory(self, session: Session) -> None:
        objects, root, self.details_known = session.walk_inventory()
        self.inventory = inventory_document(objects, root)

    def _follow(self, session: Session) -> None:
        running = [
            task_id for task_id, seen in self.sightings.items() if seen[-1].info.get("state") not in TERMINAL
        ]
        self.followed = set(running)
        if not running:
            return
        progress = _Progress(self.err, len(running))

        def waited() -> None:
            progress.show(self._done(), self._changes())
            self.stop.raise_if_stopped()

        # A wait must end well within --timeout, or it would be taken for a server not answering.
        wait_seconds = WAIT_SECONDS if self.options.settings.timeout >= 3 * WAIT_SECONDS else 0
        try:
            session.follow(running, self._seen, waited, wait_seconds)
        finally:
            progress.close()

    def _seen(self, task_id: str, info: Any, when: datetime) -> None:
        if info is None:
            self.deleted.add(task_id)
        else:
            self.sightings[task_id].append(Sighting(when, info))

    def _done(self) -> int:
        return sum(
            1
            for task_id in self.followed
            if task_id in self.deleted or self.sightings[task_id][-1].info.get("state") in TERMINAL
        )

    def _changes(self) -> int:
        return sum(len(self.sightings[task_id]) - 1 for task_id in self.followed)

    # -- the file

    def _timing(self, task_id: str) -> Timing:
        """Followed tasks replay their changes from when the file is loaded; the others (not
        following, or already finished) are shown as they were seen, times included."""
        if task_id not in self.followed:
            return "fixed"
        return "polls" if self.options.by_polls else "relative"

    def _tasks(self) -> tuple[list[RecordedTask], list[str]]:
        tasks: list[RecordedTask] = []
        refused: list[str] = []
        for task_id, seen in self.sightings.items():
            try:
                task = recorded_task(seen, self._timing(task_id))
            except NotRecordable as why:
                refused.append(f"{task_id}: not recorded: {why}")
                continue
            notes = list(task.notes)
            if task_id in self.deleted:
                notes.append("deleted on the server while it was followed")
            elif task_id in self.followed and not task.finished:
                notes.append(
                    f"still {seen[-1].info.get('state')} when the recording stopped (written as last seen)"
                )
            spec = replace_users(task.spec, self.options.users)
            tasks.append(RecordedTask(spec, tuple(notes), task.finished))
        unreadable = self.session.unreadable if self.session is not None else {}
        refused.extend(f"{task_id}: not recorded: {why}" for task_id, why in unreadable.items())
        return tasks, refused

    def _write(self) -> Path | None:
        tasks, self.refused = self._tasks()
        for line in self.refused:
            self._say(line)
        for task_id in self.unknown:
            self._say(f"{task_id}: no such task on {self._where()} (ManagedObjectNotFound)")
        if not tasks and self.inventory is None and (self.failure or self.interrupted or self.unknown):
            self._report_stop()
            self._say(f"nothing recorded; {self.options.output} not written")
            return None
        recording = Recording(self._header(tasks), tasks, *self._inventory_parts())
        text = render(recording)
        try:
            check(text, str(self.options.output))
        except TaskFileError as error:  # a recorder bug: keep the text for the report, do not pass it off
            rejected = self.options.output.with_name(self.options.output.name + ".rejected")
            write_atomically(rejected, text)
            self._say(f"internal error, the recording does not load ({error}); kept as {rejected}")
            self.failure = self.failure or VimFault("the recording does not load")
            return None
        write_atomically(self.options.output, text)
        self._report_stop()
        self._say(f"wrote {self.options.output}: {self._summary(tasks)}")
        return self.options.output

    def _inventory_parts(self) -> tuple[Any, list[str]]:
        if self.inventory is None:
            return None, []
        notes = list(self.inventory.notes)
        if not self.details_known:
            notes.insert(
                0,
                "this server does not serve config.template: no VM is recorded as a template, and VMs,"
                " hosts and datastores are recorded without their hardware",
            )
        return self.inventory.document, notes

    def _header(self, tasks: Sequence[RecordedTask]) -> list[str]:
        ended = datetime.now(UTC)
        lines = [
            f"Recorded by vismock record from {self._where()} ({self._product()}), "
            f"{_moment(self.began)} to {_moment(ended)}.",
            f"Replay: vismock serve --tasks {self.options.output.name}. Passwords and session keys are "
            "never recorded; docs/record.md says what else is not.",
            self._timing_line(tasks),
        ]
        if self.interrupted:
            lines.append(f"Interrupted after {self._elapsed()}: what was recorded until then.")
        if self.failure is not None:
            lines.append(f"Stopped early: {self.failure.message}")
        if self.unknown:
            lines.append(f"Unknown task ids (not recorded): {', '.join(self.unknown)}")
        lines.extend(self.refused)
        return lines

    def _timing_line(self, tasks: Sequence[RecordedTask]) -> str:
        if not self.options.follow:
            return f"{len(tasks)} task(s) as they were when read: fixed queueTime, steps at offsets from it."
        clock = self.session.server_clock if self.session else "the local clock"
        replay = "one change per client poll" if self.options.by_polls else "with the recorded timing"
        line = (
            f"{len(tasks)} task(s). {len(self.followed)} followed, replayed {replay}: each queued when "
            f"the file is loaded, its steps at their offsets from its queueTime (server clock: {clock})."
        )
        if len(tasks) > len(self.followed):
            line += " The others were finished when read: fixed queueTime, as seen."
        return line

    def _summary(self, tasks: Sequence[RecordedTask]) -> str:
        parts = [f"{len(tasks)} task(s)"]
        if self.followed:
            parts.append(f"{len(self.followed)} followed, {self._changes()} change(s) seen")
        if self.inventory is not None:
            counts = self.inventory.counts
            parts.append(
                f"inventory of {counts['datacenters']} datacenter(s), {counts['hosts']} host(s), "
                f"{counts['vms']} VM(s)"
            )
        return "; ".join(parts)

    def _report_stop(self) -> None:
        if self.interrupted:
            self._say(f"interrupted after {self._elapsed()}")
        if self.failure is not None:
            self._say(f"stopped early: {self.failure.message}")

    def _exit_status(self, written: Path | None) -> int:
        failed = self.interrupted or self.failure is not None or self.unknown or written is None
        named_refused = any(line.split(":", 1)[0] in self.options.task_ids for line in self.refused)
        return 1 if failed or named_refused else 0

    def _where(self) -> str:
        return self.session.url if self.session else str(self.options.settings.soap_url)

    def _product(self) -> str:
        return self.session.product if self.session else "unknown server"

    def _elapsed(self) -> str:
        return str(timedelta(seconds=round(time.monotonic() - self.started)))

    def _say(self, message: str) -> None:
        print(f"{PROG}: {message}", file=self.err)


def _moment(moment: datetime) -> str:
    return str(XsDateTime.from_datetime(moment.replace(microsecond=0)))


class _Progress:
    """One line on a terminal, rewritten after every wait: tasks done, changes seen, time elapsed."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.started = time.monotonic()
        self.shown = stream.isatty()

    def show(self, done: int, changes: int) -> None:
        if not self.shown:
            return
        elapsed = timedelta(seconds=round(time.monotonic() - self.started))
        self.stream.write(
            f"\rfollowing {self.total} task(s): {done} done, {changes} change(s) seen, {elapsed} elapsed "
            "(Ctrl-C stops and writes what was recorded)"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
