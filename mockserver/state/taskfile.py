"""Task files: canned tasks in YAML or TOML, validated strictly, mapped 1:1 to TaskSpec.

A file is a mapping with one key, ``tasks``, holding a list of tasks (in TOML an
array of tables ``[[tasks]]``). The admin API accepts the same task objects as
JSON through :func:`specs_from_dicts`. Every error names the file, the line (YAML;
TOML where it can be found) and the field path, e.g.::

    tasks.yaml:14: tasks[1].timeline[2].state: 'runing' is not one of queued, running, success, error

The format is documented in ``docs/tasks.md``.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vismock import power
from vismock.codec import XsDateTime
from vismock.codec.taskinfo import task_info_model
from vismock.errors import VismockError
from vismock.mockserver.state.behaviour import DEFAULT_KEY, Behaviour, Override
from vismock.mockserver.state.inventory import InventoryError, entities_from_document
from vismock.mockserver.state.models import Entity, Reason, Step, TaskSpec
from vismock.schemas import entity_types, fault_fields, fault_types, task_method, task_methods

Path_ = tuple[str | int, ...]
T = TypeVar("T")

STATES = ("queued", "running", "success", "error")
PROGRESSIONS = ("time", "polls", "manual")
TERMINAL = ("success", "error")
XS_INT_MIN, XS_INT_MAX = -(2**31), 2**31 - 1
MAX_AT = 1e9  # seconds (~31 years) or polls: keeps queueTime + at within datetime's range
BUILTIN_TASKS = "canned-tasks.yaml"
MAX_REPORTED = 20  # problems listed in one error; a count says how many more there are

# Keys of a task object besides the TaskInfo elements it carries as they are (plain_keys()).
OWN_KEYS = frozenset(
    {"id", "name", "descriptionId", "description", "entity", "reason", "cancelable", "eventChainId",
     "progression", "queueTime", "timeline"}
)  # fmt: skip
# Plain TaskInfo elements the lifecycle sets itself, from the task's own keys or its timeline.
LIFECYCLE_ELEMENTS = frozenset({"name", "entityName", "result", "progress", "startTime", "completeTime"})
STEP_KEYS = frozenset({"state", "at", "progress", "result", "fault", "message", "faultFields"})
ENTITY_KEYS = frozenset({"type", "id", "name"})
REASON_KEYS = {
    "user": frozenset({"user"}),
    "alarm": frozenset({"alarm", "alarmName", "entity", "entityName"}),
    "schedule": frozenset({"schedule", "scheduledTask"}),
    "system": frozenset({"system"}),
}
DEFAULT_REASON = Reason(kind="user", user_name="vismock")
NO_ENTITY: tuple[str | None, str | None, str | None] = (None, None, None)


class TaskFileError(VismockError):
    """A task file or task object is invalid: *source*, *line* (or None), *field* path, *reason* of
    its first problem (by line); ``problems`` holds every problem found, this one first, each a
    TaskFileError of its own. The message is one line per problem (MAX_REPORTED at most, then how
    many more there are)."""

    def __init__(
        self, source: str, line: int | None, field: str, reason: str, others: Sequence[TaskFileError] = ()
    ) -> None:
        where = f"{source}:{line}" if line is not None else source
        first = f"{where}: {field}: {reason}" if field else f"{where}: {reason}"
        shown = [first, *(str(other) for other in others[: MAX_REPORTED - 1])]
        if len(others) >= MAX_REPORTED:
            shown.append(f"... and {len(others) - MAX_REPORTED + 1} more problem(s)")
        super().__init__("\n".join(shown))
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        alone = TaskFileError(source, line, field, reason) if others else self
        self.problems: tuple[TaskFileError, ...] = (alone, *others)  # each with a one-line message


class _Invalid(Exception):
    """Raised inside validation with the offending path (and any *more* problems found with it);
    turned into a TaskFileError with lines by :func:`_file_error`."""

    def __init__(self, path: Path_, reason: str, more: Sequence[_Invalid] = ()) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.more = tuple(more)

    @classmethod
    def of(cls, problems: Sequence[_Invalid]) -> _Invalid:
        first, *more = problems
        return cls(first.path, first.reason, more)

    def all(self) -> list[_Invalid]:
        """Every problem, each alone."""
        return [_Invalid(self.path, self.reason), *(single for more in self.more for single in more.all())]


class _Checks:
    """Runs checks that do not depend on each other and keeps every problem they find, so that a
    file with several mistakes gets them all in one report rather than one per attempt."""

    def __init__(self) -> None:
        self.problems: list[_Invalid] = []

    def run(self, check: Callable[[], T], fallback: T) -> T:
        """What *check* returns; *fallback* when it finds a problem (kept for :meth:`done`)."""
        try:
            return check()
        except _Invalid as invalid:
            self.problems.extend(invalid.all())
            return fallback

    def done(self) -> None:
        """Raise every problem found so far, if any."""
        if self.problems:
            raise _Invalid.of(self.problems)


def _file_error(source: str, invalid: _Invalid, line_of: Callable[[Path_], int | None]) -> TaskFileError:
    """One TaskFileError for every problem *invalid* holds, in the order of their lines."""
    located = [(line_of(problem.path), problem) for problem in invalid.all()]
    located.sort(key=lambda pair: (pair[0] is None, pair[0] or 0))
    first, *others = [
        TaskFileError(source, line, format_path(problem.path), problem.reason) for line, problem in located
    ]
    return TaskFileError(first.source, first.line, first.field, first.reason, others)


def _no_lines(_path: Path_) -> None:
    """Task objects given in code or as JSON have no lines."""
    return None


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# -- public entry points ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a scenario file declares: its tasks, and its inventory (None when it declares none:
    then the built-in inventory is served); how the tasks operations create behave (by power
    method, or ``default``), and the scripted outcomes (overrides)."""

    tasks: list[TaskSpec]
    inventory: list[Entity] | None = None
    operations: dict[str, Behaviour] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)


SHIPPED = {"vcsim": "vcsim.yaml"}
"""Scenarios shipped with vismock, by name: ``--tasks vcsim`` where no file of that name exists."""


def load_file(path: str | Path) -> Scenario:
    """Read and validate a ``.yaml``/``.yml``/``.toml``/``.json`` scenario (task) file; a name of
    :data:`SHIPPED` where no such file exists is that shipped scenario."""
    return load_file_text(path)[0]


def load_file_text(path: str | Path) -> tuple[Scenario, str]:
    """The scenario of a file (see :func:`load_file`) and the text it was read from."""
    path = Path(path)
    if not path.exists() and path.name in SHIPPED:
        return load_shipped_text(path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(str(path), None, "", f"cannot read the task file: {exc}") from exc
    if path.suffix.lower() == ".toml":
        return parse_toml(text, str(path)), text
    return parse_yaml(text, str(path)), text  # YAML is a superset of JSON


def load_builtin() -> Scenario:
    """The scenario shipped with vismock (``mockserver/data/canned-tasks.yaml``): tasks and inventory."""
    resource = resources.files("vismock.mockserver").joinpath("data", BUILTIN_TASKS)
    return parse_yaml(resource.read_text(encoding="utf-8"), f"<builtin>/{BUILTIN_TASKS}")


def load_shipped(name: str) -> Scenario:
    """Shipped scenario *name* (:data:`SHIPPED`)."""
    return load_shipped_text(name)[0]


def load_shipped_text(name: str) -> tuple[Scenario, str]:
    resource = resources.files("vismock.mockserver").joinpath("data", SHIPPED[name])
    text = resource.read_text(encoding="utf-8")
    return parse_yaml(text, f"<builtin>/{SHIPPED[name]}"), text


def load_task_file(path: str | Path) -> list[TaskSpec]:
    return load_file(path).tasks


def load_builtin_tasks() -> list[TaskSpec]:
    return load_builtin().tasks


def parse_yaml(text: str, source: str = "<yaml>") -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise TaskFileError(source, *_yaml_problem(exc)) from None
    except RecursionError:
        raise TaskFileError(source, None, "", "not valid YAML: nested too deeply") from None
    lines: dict[Path_, int] = {}
    try:
        document = _node_value(node, (), lines, _Scalars()) if node is not None else None
    except _NodeError as error:
        raise TaskFileError(source, error.line, format_path(error.path), error.reason) from None
    return _scenario(document, source, lambda path: _nearest_line(lines, path))


def parse_yaml_tasks(text: str, source: str = "<yaml>") -> list[TaskSpec]:
    return parse_yaml(text, source).tasks


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str, str]:
    """(line, field, reason) of a YAML syntax error, with where the broken construct started."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return None, "", f"not valid YAML: {exc}"
    reason = f"not valid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        reason += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return exc.problem_mark.line + 1, "", reason


def parse_toml(text: str, source: str = "<toml>") -> Scenario:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise TaskFileError(source, int(found[1]) if found else None, "", f"not valid TOML: {exc}") from exc
    return _scenario(document, source, lambda path: _toml_line(text, path))


def parse_toml_tasks(text: str, source: str = "<toml>") -> list[TaskSpec]:
    return parse_toml(text, source).tasks


def specs_from_dicts(tasks: Any, source: str = "request") -> list[TaskSpec]:
    """TaskSpecs from plain task objects (a list, one object, or ``{"tasks": [...]}``), e.g. JSON."""
    if isinstance(tasks, Mapping) and "tasks" in tasks:
        _no_unknown_or_fail(tasks, source)
        return _specs_from_document(tasks["tasks"], source, _no_lines)
    items = tasks if isinstance(tasks, list) else [tasks]
    return _specs_from_document(items, source, _no_lines, prefix=())


def _no_unknown_or_fail(document: Mapping[str, Any], source: str) -> None:
    try:
        _no_unknown(document, frozenset({"tasks"}), ())
    except _Invalid as invalid:
        raise _file_error(source, invalid, _no_lines) from None


def spec_from_dict(task: Any, source: str = "request") -> TaskSpec:
    """One TaskSpec from one task object; errors name the field path."""
    try:
        return _task(task, ())
    except _Invalid as invalid:
        raise _file_error(source, invalid, _no_lines) from None


def spec_from_stored(task: Mapping[str, Any]) -> TaskSpec:
    """A spec as :func:`spec_to_dict` wrote it when it was stored (validated then), read back
    without checking it again: the store reads a spec for every task it has not seen yet, and
    operations create many."""
    entity = task.get("entity") or {}
    return TaskSpec(
        id=task["id"],
        name=task["name"],
        description_id=task["descriptionId"],
        entity_type=entity.get("type"),
        entity_id=entity.get("id"),
        entity_name=entity.get("name"),
        reason=_stored_reason(task["reason"]),
        cancelable=task["cancelable"],
        event_chain_id=task["eventChainId"],
        progression=task["progression"],
        timeline=tuple(_stored_step(step) for step in task["timeline"]),
        queued_at=XsDateTime(task["queueTime"]).datetime if "queueTime" in task else None,
        description=task.get("description"),
        fields=tuple((key, task[key]) for key in plain_keys() if task.get(key) is not None),
    )


def _stored_reason(reason: Any) -> Reason:
    if reason == "system":
        return Reason(kind="system")
    if "user" in reason:
        return Reason(kind="user", user_name=reason["user"] or None)
    if "alarm" in reason:
        return Reason(
            kind="alarm",
            alarm=reason["alarm"],
            alarm_name=reason["alarmName"],
            entity=reason["entity"],
            entity_name=reason["entityName"],
        )
    return Reason(kind="schedule", name=reason["schedule"], scheduled_task=reason["scheduledTask"])


def _stored_step(step: Mapping[str, Any]) -> Step:
    return Step(
        state=step["state"],
        at=step["at"],
        progress=step.get("progress"),
        result=step.get("result"),
        fault=step.get("fault"),
        message=step.get("message"),
        fault_fields=tuple((step.get("faultFields") or {}).items()),
    )


def spec_to_dict(spec: TaskSpec) -> dict[str, Any]:
    """The task-file form of *spec* (JSON-safe; ``spec_from_dict`` reads it back)."""
    task: dict[str, Any] = {"id": spec.id, "name": spec.name, "descriptionId": spec.description_id}
    if spec.description is not None:
        task["description"] = spec.description
    if spec.entity_type is not None:
        entity = {"type": spec.entity_type, "id": spec.entity_id, "name": spec.entity_name}
        task["entity"] = {key: value for key, value in entity.items() if value is not None}
    task["reason"] = reason_to_dict(spec.reason)
    task["cancelable"] = spec.cancelable
    task["eventChainId"] = spec.event_chain_id
    task["progression"] = spec.progression
    if spec.queued_at is not None:
        task["queueTime"] = str(XsDateTime.from_datetime(spec.queued_at))
    task["timeline"] = [_step_to_dict(step) for step in spec.timeline]
    task.update(spec.fields)
    return task


def reason_to_dict(reason: Reason) -> dict[str, Any] | str:
    if reason.kind == "user":
        return {"user": reason.user_name or ""}
    if reason.kind == "alarm":
        return {
            "alarm": reason.alarm or "",
            "alarmName": reason.alarm_name or "",
            "entity": reason.entity or "",
            "entityName": reason.entity_name or "",
        }
    if reason.kind == "schedule":
        return {"schedule": reason.name or "", "scheduledTask": reason.scheduled_task or ""}
    return "system"


def _step_to_dict(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"state": step.state, "at": step.at}
    for key, value in (
        ("progress", step.progress),
        ("result", step.result),
        ("fault", step.fault),
        ("message", step.message),
    ):
        if value is not None:
            data[key] = value
    if step.fault_fields:
        data["faultFields"] = dict(step.fault_fields)
    return data


def check_spec(spec: TaskSpec, source: str = "task") -> None:
    """Validate a TaskSpec built in code, by the same rules as a file (raises TaskFileError)."""
    spec_from_dict(spec_to_dict(spec), source)


# -- YAML nodes with lines ----------------------------------------------------------------------


def _node_value(node: yaml.Node, path: Path_, lines: dict[Path_, int], build: _Scalars) -> Any:
    """Plain Python value of a composed YAML node, noting each node's line under its path."""
    # A mapping value's line is its key's (set by the caller): a block value starts on the next line.
    line = lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.CollectionNode):
        # An alias makes the composer reuse a node; expanding reused nodes is how
        # "billion laughs" documents explode, and a task file never needs one.
        if id(node) in build.seen:
            raise _NodeError(path, line, "YAML aliases (*name) are not supported")
        build.seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = build.scalar(key_node, path)
            key_path = (*path, key)
            if key in result:
                raise _NodeError(key_path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            lines[key_path] = key_node.start_mark.line + 1
            result[key] = _node_value(value_node, key_path, lines, build)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_node_value(item, (*path, index), lines, build) for index, item in enumerate(node.value)]
    return build.scalar(node, path)


class _NodeError(Exception):
    def __init__(self, path: Path_, line: int, reason: str) -> None:
        super().__init__(reason)
        self.path, self.line, self.reason = path, line, reason


class _Scalars(yaml.SafeLoader):
    """SafeLoader's scalar construction (YAML 1.1 types, timestamps) without its reader."""

    def __init__(self) -> None:
        yaml.constructor.SafeConstructor.__init__(self)
        self.seen: set[int] = set()

    def scalar(self, node: yaml.Node, path: Path_) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise _NodeError(path, node.start_mark.line + 1, "a mapping key must be a plain value")
        try:
            return self.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise _NodeError(path, node.start_mark.line + 1, f"cannot read {node.value!r}: {exc}") from None


def _nearest_line(lines: Mapping[Path_, int], path: Path_) -> int | None:
    for length in range(len(path), -1, -1):
        if path[:length] in lines:
            return lines[path[:length]]
    return None


def _toml_line(text: str, path: Path_) -> int | None:
    """Best effort: the line of ``[[tasks]]`` (or ``[[overrides]]``) number N, then of the first key
    of the path inside it; for ``operations``, the line of the operation's table or key."""
    lines = text.splitlines()
    if len(path) >= 2 and path[0] == "operations" and isinstance(path[1], str):
        return _toml_operation_line(lines, path[1])
    if len(path) < 2 or path[0] not in ("tasks", "overrides") or not isinstance(path[1], int):
        return None
    header = f"[[{path[0]}]]"
    headers = [number for number, line in enumerate(lines, 1) if line.strip() == header]
    if path[1] >= len(headers):
        return None
    start = headers[path[1]]
    end = headers[path[1] + 1] if path[1] + 1 < len(headers) else None
    block = lines[start:end]
    if len(path) > 2:
        key = re.compile(rf"^\s*{re.escape(str(path[2]))}\s*=")
        for offset, line in enumerate(block, 1):
            if key.match(line):
                return start + offset
    return start


def _toml_operation_line(lines: list[str], operation: str) -> int | None:
    table = re.compile(rf"^\s*\[\s*operations\s*\.\s*\"?{re.escape(operation)}\"?\s*\]")
    key = re.compile(rf"^\s*\"?{re.escape(operation)}\"?\s*=")
    in_operations = False
    for number, line in enumerate(lines, 1):
        if table.match(line) or (in_operations and key.match(line)):
            return number
        if line.strip().startswith("["):
            in_operations = line.strip() == "[operations]"
    return None


# -- validation ---------------------------------------------------------------------------------


SCENARIO_KEYS = frozenset({"tasks", "inventory", "operations", "overrides"})


def _scenario(document: Any, source: str, line_of: Callable[[Path_], int | None]) -> Scenario:
    try:
        if not isinstance(document, Mapping):
            raise _Invalid((), "expected a mapping with a 'tasks' list (and an 'inventory')")
        checks = _Checks()
        checks.run(lambda: _no_unknown(document, SCENARIO_KEYS, ()), None)
        tasks = checks.run(lambda: _validated_specs(document.get("tasks", []), ("tasks",)), list[TaskSpec]())
        inventory = checks.run(lambda: _inventory(document), None)
        operations = checks.run(
            lambda: _operations(document.get("operations"), ("operations",)), dict[str, Behaviour]()
        )
        overrides = checks.run(
            lambda: _overrides(document.get("overrides"), ("overrides",)), list[Override]()
        )
        checks.done()
        return Scenario(tasks, inventory, operations, overrides)
    except _Invalid as invalid:
        raise _file_error(source, invalid, line_of) from None


def _inventory(document: Mapping[str, Any]) -> list[Entity] | None:
    if "inventory" not in document:
        return None
    try:
        return entities_from_document(document["inventory"])
    except InventoryError as error:
        raise _Invalid(error.path, error.reason) from None


def _specs_from_document(
    tasks: Any, source: str, line_of: Callable[[Path_], int | None], prefix: Path_ = ("tasks",)
) -> list[TaskSpec]:
    try:
        return _validated_specs(tasks, prefix)
    except _Invalid as invalid:
        raise _file_error(source, invalid, line_of) from None


def _validated_specs(tasks: Any, prefix: Path_) -> list[TaskSpec]:
    if not isinstance(tasks, list):
        raise _Invalid(prefix, f"expected a list of tasks, got {_kind(tasks)}")
    checks = _Checks()
    specs: list[TaskSpec] = []
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        path = (*prefix, index)
        spec = checks.run(functools.partial(_task, task, path), None)
        if spec is None:
            continue
        if spec.id in seen:
            checks.problems.append(_Invalid((*path, "id"), f"duplicate task id {spec.id!r}"))
        seen.add(spec.id)
        specs.append(spec)
    checks.done()
    return specs


def _task(task: Any, path: Path_) -> TaskSpec:
    data = _mapping(task, path)
    checks = _Checks()
    checks.run(lambda: _no_unknown(data, OWN_KEYS | plain_keys().keys(), path), None)
    progression = checks.run(lambda: _choice(data, "progression", PROGRESSIONS, path, default="time"), "")
    entity_type, entity_id, entity_name = checks.run(
        lambda: _entity(data.get("entity"), (*path, "entity")), NO_ENTITY
    )
    name = checks.run(lambda: _task_method(data, path), "")
    task_id = checks.run(lambda: _text(data, "id", path, required=True) or "", "")
    description_id = checks.run(lambda: _text(data, "descriptionId", path), None)
    description = checks.run(lambda: _text(data, "description", path), None)
    reason = checks.run(lambda: _reason(data.get("reason"), (*path, "reason")), DEFAULT_REASON)
    cancelable = checks.run(lambda: _flag(data, "cancelable", path), False)
    event_chain_id = checks.run(lambda: _int(data, "eventChainId", path, XS_INT_MIN, XS_INT_MAX) or 0, 0)
    # A bad progression is reported once: its steps are then checked without their timing.
    timeline_progression = progression or "manual"
    timeline = checks.run(
        lambda: _timeline(data.get("timeline"), (*path, "timeline"), timeline_progression), tuple[Step, ...]()
    )
    queued_at = checks.run(lambda: _datetime(data, "queueTime", path), None)
    fields = _plain_fields(data, path, checks)
    checks.done()
    return TaskSpec(
        id=task_id,
        name=name,
        # vCenter's own descriptionId for the method unless the file says otherwise.
        description_id=description_id or task_methods()[name].description_id,
        description=description,
        entity_type=entity_type,
        entity_id=entity_id,
        entity_name=entity_name,
        reason=reason,
        cancelable=cancelable,
        event_chain_id=event_chain_id,
        progression=progression,  # type: ignore[arg-type]
        timeline=timeline,
        queued_at=queued_at,
        fields=fields,
    )


def _plain_fields(data: Mapping[str, Any], path: Path_, checks: _Checks) -> tuple[tuple[str, Any], ...]:
    """The TaskInfo elements *data* gives as they are, each checked by the reader of its type."""
    found = (
        (key, checks.run(functools.partial(read, data, key, path), None))
        for key, read in plain_keys().items()
    )
    return tuple((key, value) for key, value in found if value is not None)


@cache
def plain_keys() -> dict[str, Callable[[Mapping[str, Any], str, Path_], Any]]:
    """The TaskInfo elements a task object may give as they are (changeTag, parentTaskKey, ...),
    from the schema (vismock.codec.taskinfo), each with the reader of its type."""
    readers: dict[str | None, Callable[[Mapping[str, Any], str, Path_], Any]] = {
        "boolean": _flag_or_none,
        "int": lambda data, key, path: _int(data, key, path, XS_INT_MIN, XS_INT_MAX),
        "dateTime": _datetime_text,
    }
    return {
        slot.name: readers.get(slot.builtin, _text)
        for slot in task_info_model().plain_fields()
        if slot.name not in LIFECYCLE_ELEMENTS
    }


def _task_method(data: Mapping[str, Any], path: Path_) -> str:
    """The task's ``name``: a vim25 method that returns a Task (TaskInfo.name is its wire name)."""
    name = _text(data, "name", path, required=True) or ""
    if name not in task_methods():
        hint = _close_match(name, task_methods())
        raise _Invalid(
            (*path, "name"),
            f"{name!r} is not a vim25 task method{hint} (TaskInfo.name is the method's name, such as"
            " PowerOnVM_Task; schemas/vim25/task-methods.toml lists them)",
        )
    return name


def unknown_fault(fault: str) -> str:
    """Why *fault* cannot be served: both faces must name the same fault, and the SOAP face can
    only send the fault types its vim25 schema defines."""
    return (
        f"{fault!r} is not a vim25 fault type vismock serves{_close_match(fault, fault_types())}"
        " (schemas/vim25/vim25.xsd defines them; e.g. InvalidState, NoDiskSpace, InvalidPowerState)"
    )


def _close_match(word: str, choices: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {found[0]}?)" if found else ""


def _entity(value: Any, path: Path_) -> tuple[str | None, str | None, str | None]:
    if value is None:
        return None, None, None
    data = _mapping(value, path)
    _no_unknown(data, ENTITY_KEYS, path)
    kind = _text(data, "type", path, required=True) or ""
    if kind not in entity_types():
        allowed = ", ".join(sorted(entity_types()))
        raise _Invalid((*path, "type"), f"{kind!r} is not a ManagedEntity type of the schema ({allowed})")
    return kind, _text(data, "id", path, required=True), _text(data, "name", path)


def _reason(value: Any, path: Path_) -> Reason:
    if value is None:
        return DEFAULT_REASON
    if value == "system":
        return Reason(kind="system")
    data = _mapping(value, path, what="'system' or a mapping with one of user, alarm, schedule, system")
    kinds = [kind for kind in REASON_KEYS if kind in data]
    if len(kinds) != 1:
        raise _Invalid(path, "needs exactly one of the keys user, alarm, schedule, system")
    kind = kinds[0]
    _no_unknown(data, REASON_KEYS[kind], path)
    if kind == "user":
        if data["user"] is None:
            raise _Invalid((*path, "user"), "is required (the user name; may be empty: '')")
        # An empty name is the same as none: both render <userName></userName>.
        return Reason(kind="user", user_name=_text(data, "user", path) or None)
    if kind == "alarm":
        return Reason(
            kind="alarm",
            alarm=_text(data, "alarm", path, required=True),
            alarm_name=_text(data, "alarmName", path, required=True),
            entity=_text(data, "entity", path, required=True),
            entity_name=_text(data, "entityName", path, required=True),
        )
    if kind == "schedule":
        return Reason(
            kind="schedule",
            name=_text(data, "schedule", path, required=True),
            scheduled_task=_text(data, "scheduledTask", path, required=True),
        )
    if data["system"] not in (None, True, {}):
        raise _Invalid((*path, "system"), "takes no value (write reason: system)")
    return Reason(kind="system")


def _timeline(value: Any, path: Path_, progression: str) -> tuple[Step, ...]:
    if value is None:
        return (Step(state="success"),)
    if not isinstance(value, list) or not value:
        raise _Invalid(path, f"expected a non-empty list of steps, got {_kind(value)}")
    checks = _Checks()
    read = [
        checks.run(functools.partial(_step, item, (*path, index)), None) for index, item in enumerate(value)
    ]
    steps = tuple(step for step in read if step is not None)
    if len(steps) == len(read):  # the order of steps is checked once each step is sound
        for index, (before, after) in enumerate(itertools.pairwise(steps), 1):
            checks.run(functools.partial(_check_order, before, after, (*path, index), progression), None)
    checks.done()
    return steps


def _check_order(before: Step, after: Step, path: Path_, progression: str) -> None:
    if before.state in TERMINAL:
        raise _Invalid((*path, "state"), f"no step may follow a {before.state!r} step (it ends the task)")
    if STATES.index(after.state) < STATES.index(before.state):
        raise _Invalid((*path, "state"), f"{after.state!r} cannot follow {before.state!r}")
    if progression != "manual" and after.at <= before.at:
        reason = f"{after.at} is not after the previous step's {before.at} (a timeline must increase)"
        raise _Invalid((*path, "at"), reason)
    if before.progress is not None and after.progress is not None and after.progress < before.progress:
        reason = f"{after.progress} is less than the previous step's {before.progress}"
        raise _Invalid((*path, "progress"), reason)


def _step(value: Any, path: Path_) -> Step:
    data = _mapping(value, path)
    checks = _Checks()
    checks.run(lambda: _no_unknown(data, STEP_KEYS, path), None)
    state = checks.run(lambda: _choice(data, "state", STATES, path, required=True), "")
    at = checks.run(lambda: _number(data, "at", path), 0.0)
    progress = checks.run(lambda: _int(data, "progress", path, 0, 100), None)
    if state:
        checks.run(lambda: _on_their_state(data, state, path), None)
    fault = checks.run(lambda: _fault(data, path), None)
    result = checks.run(lambda: _text(data, "result", path), None)
    message = checks.run(lambda: _text(data, "message", path), None)
    fault_fields: tuple[tuple[str, str], ...] = ()
    if not any(
        problem.path == (*path, "fault") for problem in checks.problems
    ):  # else its fields are unknown
        fault_fields = checks.run(
            lambda: _fault_fields(data.get("faultFields"), fault or "SystemError", (*path, "faultFields")), ()
        )
    checks.done()
    return Step(
        state=state,  # type: ignore[arg-type]
        at=at,
        progress=progress,
        result=result,
        fault=fault,
        message=message,
        fault_fields=fault_fields,
    )


def _on_their_state(data: Mapping[str, Any], state: str, path: Path_) -> None:
    """result only on a success step; fault, message and faultFields only on an error step."""
    checks = _Checks()
    for key, allowed_state in (("result", "success"), ("fault", "error"), ("message", "error")):
        if key in data and state != allowed_state:
            checks.problems.append(
                _Invalid((*path, key), f"only a step in state {allowed_state} has a {key}")
            )
    if "faultFields" in data and state != "error":
        checks.problems.append(_Invalid((*path, "faultFields"), "only a step in state error has faultFields"))
    checks.done()


def _fault(data: Mapping[str, Any], path: Path_) -> str | None:
    fault = _text(data, "fault", path)
    if fault is not None and fault not in fault_types():
        raise _Invalid((*path, "fault"), unknown_fault(fault))
    return fault


def _fault_fields(value: Any, fault: str, path: Path_) -> tuple[tuple[str, str], ...]:
    """A fault's own fields (``{existingState: poweredOff}``), in the vim25 schema's order."""
    if value is None:
        return ()
    data = _mapping(value, path)
    known = {field.name: field for field in fault_fields(fault)}
    if not known and data:
        raise _Invalid((*path, next(iter(data))), f"the fault {fault} has no fields")
    _no_unknown(data, frozenset(known), path)
    found = {name: _text(data, name, path, required=True) or "" for name in data}
    return tuple((name, found[name]) for name in known if name in found)


# -- what operations' tasks do: the ``operations`` and ``overrides`` sections ------------------------

BEHAVIOUR_KEYS = frozenset({"progression", "timeline", "cancelable"})
OVERRIDE_KEYS = BEHAVIOUR_KEYS | {"operation", "vm", "times", "fault", "message", "faultFields", "after"}


def behaviours_from_dict(value: Any, source: str = "request") -> dict[str, Behaviour]:
    """The ``operations`` mapping (``{"default": {...}, "PowerOffVM_Task": {...}}``), e.g. JSON."""
    try:
        return _operations(value, ())
    except _Invalid as invalid:
        raise _file_error(source, invalid, _no_lines) from None


def overrides_from_dicts(value: Any, source: str = "request") -> list[Override]:
    """Overrides from one override object or a list of them, e.g. JSON."""
    items = value if isinstance(value, list) else [value]
    try:
        return _overrides(items, ())
    except _Invalid as invalid:
        raise _file_error(source, invalid, _no_lines) from None


def override_from_dict(value: Any, source: str = "request") -> Override:
    """One Override from one override object; errors name the field path (``fault``), not its
    place in a list."""
    try:
        return _override(value, ())
    except _Invalid as invalid:
        raise _file_error(source, invalid, _no_lines) from None


def behaviour_to_dict(behaviour: Behaviour) -> dict[str, Any]:
    """The file form of *behaviour* (``behaviours_from_dict`` reads it back)."""
    return {
        "progression": behaviour.progression,
        "cancelable": behaviour.cancelable,
        "timeline": [_step_to_dict(step) for step in behaviour.timeline],
    }


def override_to_dict(override: Override) -> dict[str, Any]:
    data: dict[str, Any] = {"id": override.id} if override.id is not None else {}
    data.update({"operation": override.operation, "vm": override.vm, "times": override.times})
    return {**data, **behaviour_to_dict(override.behaviour)}


def _operations(value: Any, path: Path_) -> dict[str, Behaviour]:
    if value is None:
        return {}
    data = _mapping(value, path, what="a mapping of operation (or 'default') to its behaviour")
    checks = _Checks()
    found: dict[str, Behaviour] = {}
    for key, item in data.items():
        named = checks.run(functools.partial(_operation, key, item, (*path, key)), None)
        if named is None:
            continue
        name, behaviour = named
        if name in found:
            checks.problems.append(_Invalid((*path, key), f"{key!r} names {name}, given already"))
        found[name] = behaviour
    checks.done()
    return found


def _operation(key: str, item: Any, where: Path_) -> tuple[str, Behaviour]:
    """One entry of ``operations``: the power method it names (or ``default``) and its behaviour."""
    name = DEFAULT_KEY if key == DEFAULT_KEY else _scripted_method(key, where)
    behaviour_data = _mapping(item, where)
    _no_unknown(behaviour_data, BEHAVIOUR_KEYS, where)
    if behaviour_data.get("timeline") is None:
        raise _Invalid((*where, "timeline"), "is required (the steps of the operation's tasks)")
    return name, _behaviour(behaviour_data, where)


def _overrides(value: Any, path: Path_) -> list[Override]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(path, f"expected a list of overrides, got {_kind(value)}")
    checks = _Checks()
    found = [
        checks.run(functools.partial(_override, item, (*path, index)), None)
        for index, item in enumerate(value)
    ]
    checks.done()
    return [override for override in found if override is not None]


def _override(value: Any, path: Path_) -> Override:
    data = _mapping(value, path)
    _no_unknown(data, OVERRIDE_KEYS, path)
    operation = _text(data, "operation", path)
    if "fault" in data and "timeline" in data:
        raise _Invalid((*path, "fault"), "give either a timeline or a fault (with after), not both")
    if "fault" in data:
        behaviour = _failing_behaviour(data, path)
    elif data.get("timeline") is not None:
        for key in ("message", "faultFields", "after"):
            if key in data:
                raise _Invalid((*path, key), "belongs with fault (in a timeline, put it on the error step)")
        behaviour = _behaviour(data, path)
    else:
        raise _Invalid(path, "needs a timeline, or a fault (the task then fails with it, after 'after')")
    return Override(
        behaviour=behaviour,
        operation=None if operation is None else _scripted_method(operation, (*path, "operation")),
        vm=_text(data, "vm", path),
        times=None
        if "times" in data and data["times"] is None
        else _int(data, "times", path, 1, XS_INT_MAX) or 1,
    )


def _failing_behaviour(data: Mapping[str, Any], path: Path_) -> Behaviour:
    """``fault: InvalidState, after: 2``: running, then failing with the fault after 2 seconds
    (or polls, or manual advances)."""
    progression = _choice(data, "progression", PROGRESSIONS, path, default="time")
    step = _step(
        {key: data[key] for key in ("fault", "message", "faultFields") if key in data} | {"state": "error"},
        path,
    )
    after = _number(data, "after", path)
    if step.message is None:
        step = replace(step, message=power.FAULT_MESSAGES.get(step.fault or ""))
    timeline = (
        (replace(step, at=0),) if after == 0 else (Step(state="running", at=0), replace(step, at=after))
    )
    return Behaviour(progression, timeline, _flag(data, "cancelable", path))  # type: ignore[arg-type]


def _behaviour(data: Mapping[str, Any], path: Path_) -> Behaviour:
    progression = _choice(data, "progression", PROGRESSIONS, path, default="time")
    timeline = _timeline(data.get("timeline"), (*path, "timeline"), progression)
    for index, step in enumerate(timeline):
        if step.result is not None:
            reason = "a created task's result is what its method made (a snapshot, a clone): not scripted"
            raise _Invalid((*path, "timeline", index, "result"), reason)
    if timeline[-1].state not in TERMINAL:
        reason = f"the last step is {timeline[-1].state!r}; it must be success or error (the task ends)"
        raise _Invalid((*path, "timeline", len(timeline) - 1, "state"), reason)
    return Behaviour(progression, timeline, _flag(data, "cancelable", path))  # type: ignore[arg-type]


def _scripted_method(name: Any, path: Path_) -> str:
    """A vim25 task method (PowerOffVM_Task, CreateSnapshot_Task...) or the VIS operation that
    starts one (Power_Off_VM): every task method's tasks can be scripted."""
    if not isinstance(name, str):
        raise _Invalid(path, f"expected an operation name, got {_kind(name)}")
    try:
        return task_method(name)
    except KeyError as error:
        raise _Invalid(path, str(error.args[0])) from None


# -- field readers ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "a mapping" if isinstance(value, Mapping) else type(value).__name__)


def _mapping(value: Any, path: Path_, what: str = "a mapping") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(path, f"expected {what}, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _Invalid(path, f"keys must be strings, got {key!r}")
    return value


def _no_unknown(data: Mapping[str, Any], allowed: frozenset[str], path: Path_) -> None:
    """Every key of *data* that is not *allowed*, each a problem: with the allowed key it most
    resembles when one does, else with the list of allowed keys."""
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise _Invalid.of([_Invalid((*path, key), _unknown_field(key, allowed)) for key in unknown])


def _unknown_field(key: str, allowed: frozenset[str]) -> str:
    hint = _close_match(key, allowed) or f" (allowed: {', '.join(sorted(allowed))})"
    return f"unknown field {key!r}{hint}"


_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(data: Mapping[str, Any], key: str, path: Path_, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _Invalid((*path, key), "is required")
        return None
    if not isinstance(value, str):
        raise _Invalid((*path, key), f"expected a string, got {_kind(value)} {value!r} (quote it)")
    if required and not value:
        raise _Invalid((*path, key), "must not be empty")
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        # The value ends up in XML on both faces; refuse it here rather than fail every answer later.
        raise _Invalid((*path, key), f"contains {bad.group()!r}, a character XML cannot carry")
    return value


def _choice(
    data: Mapping[str, Any],
    key: str,
    allowed: Sequence[str],
    path: Path_,
    *,
    required: bool = False,
    default: str = "",
) -> str:
    value = _text(data, key, path, required=required)
    if value is None:
        return default
    if value not in allowed:
        raise _Invalid((*path, key), f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _flag_or_none(data: Mapping[str, Any], key: str, path: Path_) -> bool | None:
    return _flag(data, key, path) if data.get(key) is not None else None


def _datetime_text(data: Mapping[str, Any], key: str, path: Path_) -> str | None:
    moment = _datetime(data, key, path)
    return None if moment is None else str(XsDateTime.from_datetime(moment))


def _flag(data: Mapping[str, Any], key: str, path: Path_) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _Invalid((*path, key), f"expected true or false, got {_kind(value)} {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str, path: Path_, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid((*path, key), f"expected an integer, got {_kind(value)} {value!r}")
    if not low <= value <= high:
        raise _Invalid((*path, key), f"{value} is outside {low}..{high}")
    return value


def _number(data: Mapping[str, Any], key: str, path: Path_) -> float:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid((*path, key), f"expected a number, got {_kind(value)} {value!r}")
    if not 0 <= value <= MAX_AT:
        raise _Invalid((*path, key), f"{value} is outside 0..{MAX_AT:g}")
    return value


def _datetime(data: Mapping[str, Any], key: str, path: Path_) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = XsDateTime(value).datetime
        except ValueError:
            reason = f"{value!r} is not an xs:dateTime (like 2009-05-27T08:26:34.234375Z)"
            raise _Invalid((*path, key), reason) from None
    if not isinstance(value, datetime):
        raise _Invalid((*path, key), f"expected a date-time with a time zone, got {_kind(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _Invalid((*path, key), "needs a time zone (end it with Z for UTC)")
    return value
