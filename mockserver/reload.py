"""Reload: read the task (scenario) file again and serve what it says now, without a restart.

``POST /_vismock/reload`` and SIGHUP to ``vismock serve`` call :func:`reload_scenario` in the
process that owns the state (granian's and gunicorn's main process forward the signal to it as that
request: :func:`request_reload`).

What a reload does is what starting again with the same ``--db`` does: the file is read and
validated first, and a file that does not load changes nothing (the error names the file, the
line and the field). Each section of the file (tasks, inventory, operations with overrides) that
differs from the loaded one replaces it (``reset`` returns to it from then on); the sections that
did not change, and everything made since (tasks the operations or the admin API created, power
states), stay as they are. The journal, fault rules, clock and sessions are kept either way.
Under ``vismock serve`` the file as loaded is also kept as the server's copy (see
:data:`vismock.mockserver.services.LOADED_COPY`), what a replaced server process starts from.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vismock.errors import VismockError
from vismock.mockserver.services import keep_copy, read_scenario

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

log = logging.getLogger("vismock.reload")

BUILTIN = "the built-in tasks"
_one_at_a_time = threading.Lock()


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
    scenario, text = read_scenario(path)  # everything is read and checked before anything is changed
    inventory = scenario.inventory or ()
    with _one_at_a_time:  # the copy is of the file loaded last
        changed = services.backend.load(scenario.tasks, inventory, scenario.operations, scenario.overrides)
        if services.loaded_copy is not None and text is not None:
            keep_copy(services.loaded_copy, text)
    return Reloaded(
        source=str(path) if path is not None else BUILTIN,
        tasks=len(scenario.tasks),
        entities=len(inventory),
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


def request_reload(url: str, admin_token: str | None = None) -> None:
    """Ask the server at *url* (this server's own process that owns the state) to reload, and log
    what it answered. On loopback to itself, so its certificate (a throwaway one) is not checked."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if admin_token:
        headers["Authorization"] = f"Bearer {admin_token}"
    request = urllib.request.Request(f"{url}/_vismock/reload", data=b"{}", headers=headers, method="POST")
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            answer = json.loads(response.read())
        log.info(
            "%s",
            Reloaded(answer["source"], answer["tasks"], answer["entities"], answer["changed"]).describe(),
        )
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("error", error.reason)
        log.error("reload refused, still serving what was loaded before: %s", detail)
    except (OSError, ValueError, KeyError) as error:
        log.error("reload failed, still serving what was loaded before: %s", error)


def forward_sighup(url: str, admin_token: str | None = None) -> None:
    """SIGHUP to this (supervising) process: ask the process that owns the state to reload. That
    process, forked from this one, inherits the handler: there it does nothing, so a hang-up sent
    to the whole process group reloads once."""
    supervisor = os.getpid()

    def handler(_signum: int, _frame: object) -> None:
        if os.getpid() != supervisor:
            return
        threading.Thread(
            target=request_reload, args=(url, admin_token), name="vismock-reload", daemon=True
        ).start()

    signal.signal(signal.SIGHUP, handler)


def on_sighup(services: Services) -> None:
    """Reload on SIGHUP in this process (the one that owns the state): the work runs in a thread,
    not in the signal handler."""

    def handler(_signum: int, _frame: object) -> None:
        threading.Thread(target=reload_and_log, args=(services,), name="vismock-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handler)
