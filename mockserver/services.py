"""What the faces and the admin API work with, made once per app by ``create_app``.

One object under ``app.extensions["vismock"]``: the settings, the state (Backend), the codec,
the journal and the remembered answers. Flask-free code (the faces, the fast path) is
handed this object; Flask views get it with :func:`services_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class Services:
    settings: Settings
    backend: Backend
    codec: Codec
    journal: Journal = field(init=False)
    answers: RememberedAnswers = field(init=False)
    faces: dict[str, Face] = field(default_factory=dict)  # by path: "/adapter", "/sdk", "/sdk/vim"

    def __post_init__(self) -> None:
        from vismock.mockserver.faces.common import RememberedAnswers

        self.journal = self.backend.journal
        self.answers = RememberedAnswers(self, self.settings.remembered_answers)


def build_backend(settings: Settings, specs: Sequence[TaskSpec] | None = None) -> Backend:
    """The state *settings* describe: the scenario file's tasks (*specs* instead, when given) and
    inventory, the built-in ones for what the file does not declare."""
    limits: dict[str, Any] = {
        "accounts": settings.accounts,
        "journal_cap": settings.journal_cap,
        "session_cap": settings.session_cap,
        "session_lifetime": settings.session_lifetime,
        "dynamic": settings.dynamic,
        "task_cap": settings.task_cap,
        "soap_max_wait": settings.soap_max_wait,
    }
    scenario = load_scenario(settings.tasks)
    inventory = scenario.inventory if scenario.inventory is not None else load_scenario(None).inventory
    return Backend(
        settings.db,
        tasks=specs if specs is not None else scenario.tasks,
        inventory=inventory or (),
        operations=scenario.operations,
        overrides=scenario.overrides,
        **limits,
    )


def load_scenario(path: str | Path | None) -> Scenario:
    """The scenario file at *path*, or the built-in one when it is None."""
    from vismock.mockserver.state import taskfile

    return taskfile.load_builtin() if path is None else taskfile.load_file(Path(path))


def load_tasks(path: str | Path | None) -> list[TaskSpec]:
    """The tasks of *path*, or the built-in canned tasks when it is None."""
    return load_scenario(path).tasks


def services_of(app: Flask | Any) -> Services:
    found: Services = app.extensions[EXTENSION]
    return found
