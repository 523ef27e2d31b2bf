"""Reload: read the task (scenario) file again and serve what it says now, without a restart.

``POST /_vismock/reload`` (in whichever worker answers it) and SIGHUP to ``vismock serve`` (in its
main process) call :func:`reload_scenario`. The state is one SQLite file shared by every worker,
so loading once is enough: each load raises the state's revision, and every worker's caches and
remembered answers follow it.

What a reload does is what starting again with the same ``--db`` does: the file is read and
validated first, and a file that does not load changes nothing (the error names the file, the
line and the field). A file whose tasks (or inventory) differ from the loaded ones replaces them
(their lifecycles start over; ``reset`` returns to them from then on); an unchanged file changes
nothing. The journal, fault rules, clock and sessions are kept either way.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vismock.errors import VismockError
from vismock.mockserver.services import load_scenario

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.reload")

BUILTIN = "the built-in tasks"


class ReloadRefused(VismockError):
    """There is nothing to read again (the tasks were given in code, not in a file)."""


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload found: the file, its tasks and entities, and whether anything changed."""

    source: str  # the task file's path, or BUILTIN
    tasks: int
    entities: int
    changed: bool  # False: the file held what was loaded already, and the running state is kept

    def to_json(self) -> dict[str, Any]:
        return {
            "reloaded": True,
            "source": self.source,
            "tasks": self.tasks,
            "entities": self.entities,
            "changed": self.changed,
        }

    def describe(self) -> str:
        what = "scenario replaced" if self.changed else "unchanged: the running state is kept"
        return f"reloaded {self.source}: {self.tasks} task(s), {self.entities} inventory entities ({what})"


def reload_scenario(services: Services, *, specs_given: bool = False) -> Reloaded:
    """Read the task file of *services* again and load it (TaskFileError, naming file and line,
    when it does not load; nothing is changed then). *specs_given*: the tasks came from code."""
    if specs_given:
        raise ReloadRefused("the tasks were given in code (VISMOCK_TASK_SPECS): there is no file to read")
    path = services.settings.tasks
    scenario = load_scenario(path)  # everything is read and checked before anything is changed
    inventory = scenario.inventory if scenario.inventory is not None else load_scenario(None).inventory
    changed = services.backend.load(scenario.tasks, inventory or (), scenario.operations, scenario.overrides)
    return Reloaded(
        source=str(path) if path is not None else BUILTIN,
        tasks=len(scenario.tasks),
        entities=len(inventory or ()),
        changed=changed,
    )


def reload_and_log(services: Services) -> None:
    """A reload asked for by a signal: its outcome as one log line (an error keeps the state)."""
    try:
        log.info("%s", reload_scenario(services).describe())
    except VismockError as error:
        log.error("reload refused, still serving what was loaded before: %s", error)
    except Exception:
        log.exception("reload failed, still serving what was loaded before")


def on_sighup(services: Services) -> None:
    """Reload on SIGHUP in this process: the work runs in a thread, not in the signal handler, one
    reload at a time. Worker processes forked from this one inherit the handler and ignore the
    signal (a hang-up sent to the whole process group reloads once)."""
    lock = threading.Lock()
    main_pid = os.getpid()

    def reload_in_background() -> None:
        with lock:
            reload_and_log(services)

    def handler(_signum: int, _frame: object) -> None:
        if os.getpid() == main_pid:
            threading.Thread(target=reload_in_background, name="vismock-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handler)
