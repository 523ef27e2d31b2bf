"""What the faces and the admin API work with, made once per app by ``create_app``.

One object under ``app.extensions["vismock"]``: the settings, the state (Backend), the codec,
the journal and the remembered answers. Flask-free code (the faces, the fast path) is
handed this object; Flask views get it with :func:`services_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vismock.codec import Codec
from vismock.mockserver.config import Settings
from vismock.mockserver.state import Backend, TaskSpec
from vismock.mockserver.state.journal import Journal
from vismock.mockserver.state.taskfile import Scenario

if TYPE_CHECKING:
    from flask import Flask

    from vismock.mockserver.faces.common import Face, RememberedAnswers

EXTENSION = "vismock"
LOADED_COPY = "VISMOCK_LOADED_SCENARIO"
"""Set by ``vismock serve`` for its server process: a copy of the task file as last loaded (at
start, then by each reload). That process builds its state from the state file (``--db``) when it
holds one, else from this copy: never from the task file, which may have changed on disk since
(a replaced process is not stopped by a file left broken, and serves what was loaded)."""


@dataclass
class Services:
    settings: Settings
    backend: Backend
    codec: Codec
    journal: Journal = field(init=False)
    answers: RememberedAnswers = field(init=False)
    faces: dict[str, Face] = field(default_factory=dict)  # by path: "/adapter", "/sdk", "/sdk/vim"
    loaded_copy: Path | None = None  # vismock serve's copy of the task file as loaded (LOADED_COPY)

    def __post_init__(self) -> None:
        from vismock.mockserver.faces.common import RememberedAnswers

        self.journal = self.backend.journal
        self.answers = RememberedAnswers(self, self.settings.remembered_answers)


def build_backend(
    settings: Settings,
    specs: Sequence[TaskSpec] | None = None,
    *,
    scenario_file: str | Path | None = None,
    attach: bool = False,
) -> Backend:
    """The state *settings* describe: the scenario file's tasks (*specs* instead, when given) and
    inventory, the built-in ones for what the file does not declare. *scenario_file*: read the
    scenario there rather than from ``settings.tasks`` (``vismock serve``'s copy, see
    :data:`LOADED_COPY`); *attach*: a state file that holds a state is served as it stands."""
    limits: dict[str, Any] = {
        "accounts": settings.accounts,
        "journal_cap": settings.journal_cap,
        "session_cap": settings.session_cap,
        "session_lifetime": settings.session_lifetime,
        "dynamic": settings.dynamic,
        "task_cap": settings.task_cap,
        "soap_max_wait": settings.soap_max_wait,
    }
    scenario = load_scenario(scenario_file or settings.tasks)
    return Backend(
        settings.db,
        tasks=specs if specs is not None else scenario.tasks,
        inventory=scenario.inventory or (),
        operations=scenario.operations,
        overrides=scenario.overrides,
        attach=attach,
        **limits,
    )


def load_scenario(path: str | Path | None) -> Scenario:
    """The scenario file at *path* (the built-in inventory when it declares none), or the built-in
    one when *path* is None."""
    return read_scenario(path)[0]


def read_scenario(path: str | Path | None) -> tuple[Scenario, str | None]:
    """:func:`load_scenario` and the file's text (None: the built-in scenario)."""
    from vismock.mockserver.state import taskfile

    if path is None:
        return taskfile.load_builtin(), None
    scenario, text = taskfile.load_file_text(Path(path))
    if scenario.inventory is None:
        scenario = replace(scenario, inventory=taskfile.load_builtin().inventory)
    return scenario, text


def keep_copy(copy: Path, text: str) -> None:
    """Write *text* as the scenario copy (see :data:`LOADED_COPY`), replaced at once: a process
    starting while a reload writes it reads the old copy or the new one, never half of one."""
    partial = copy.with_name(f".{copy.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(copy)


def load_tasks(path: str | Path | None) -> list[TaskSpec]:
    """The tasks of *path*, or the built-in canned tasks when it is None."""
    return load_scenario(path).tasks


def services_of(app: Flask | Any) -> Services:
    found: Services = app.extensions[EXTENSION]
    return found
