"""The admin API (JSON, mounted under ``/_vismock/``): tasks, inventory, power operations and their
overrides, journal, verification, faults, clock.

Access: with ``VISMOCK_ADMIN_TOKEN`` configured, every admin request needs
``Authorization: Bearer <token>`` (from any address); without it, only loopback
clients (127.0.0.0/8, ::1) are answered. Web pages are kept out by :mod:`.guard`: every POST,
PUT and PATCH needs ``Content-Type: application/json``, a foreign ``Origin`` is refused, and so
is, without a token, a ``Host`` that does not name this server. Errors are JSON ``{"error": ...}``
with a 4xx status naming what is wrong; reads of the journal are not journaled, changes are.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, get_args, get_type_hints

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from vismock.errors import VismockError
from vismock.faults import VimFault
from vismock.mockserver.faces import guard
from vismock.mockserver.faces.common import Observation
from vismock.mockserver.services import Services, services_of
from vismock.mockserver.state import Backend, FaultRule, JournalEntry, TaskSpec, taskfile
from vismock.mockserver.state.inventory import InventoryError, entities_from_document
from vismock.mockserver.state.inventory import to_json as inventory_json
from vismock.mockserver.state.models import Entity, Face

log = logging.getLogger("vismock.mockserver")

admin_blueprint = Blueprint("admin", __name__)

FACES = frozenset(get_args(Face))
MAX_COUNT = 2**31 - 1  # counts and limits: an xs:int (and no one needs more)
JOURNAL_FILTERS = ("task", "outcome", "face", "operation", "entity")
UNJOURNALED = frozenset({"admin.reset", "admin.clear_journal"})  # they start a fresh journal


class AdminError(Exception):
    """A request the admin API refuses: *status* and a message saying what and where."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# -- access, errors, journaling


@admin_blueprint.before_request
def _guard() -> Response | None:
    if request.endpoint == "admin.health":
        return None  # liveness for any client, token or not: it tells nothing about the state
    token: str | None = current_app.config.get("VISMOCK_ADMIN_TOKEN")
    if token:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return _error("admin API: missing or wrong token (send 'Authorization: Bearer <token>')", 401)
    elif not _is_loopback(request.remote_addr):
        return _error("admin API answers loopback clients only; start the server with --admin-token", 403)
    refused = guard.refusal(request, _services().settings.allowed_hosts, check_host=not token)
    if refused is not None:  # what a web page could send: see faces/guard.py
        return _error(refused.message, refused.status)
    if request.method != "GET" and request.endpoint not in UNJOURNALED:
        g.observation = Observation(
            face="admin", operation=f"{request.method} {request.path}", generation=_backend().generation()
        )
    return None


@admin_blueprint.before_request
def _refuse_oversize_chunked_body() -> None:
    """A chunked body (no Content-Length) over the cap gets 413 too, not silently cut at the cap.

    werkzeug limits such a stream to MAX_CONTENT_LENGTH without complaint; reading one byte past
    the cached body raises RequestEntityTooLarge when there was more.
    """
    if request.content_length is None and request.method in ("POST", "PUT", "PATCH"):
        request.get_data(cache=True)
        request.stream.read(1)


@admin_blueprint.after_request
def _journal(response: Response) -> Response:
    """A change through the admin API is journaled as its response leaves."""
    observation: Observation | None = g.pop("observation", None)
    if observation is not None:
        g.access_entry = entry = observation.entry(response.status_code)  # the access log's line too
        _services().journal.record(entry)
    return response


@admin_blueprint.errorhandler(AdminError)
def _admin_error(error: AdminError) -> Response:
    return _error(error.message, error.status)


@admin_blueprint.errorhandler(VismockError)
def _vismock_error(error: VismockError) -> Response:
    status = 404 if getattr(error, "fault_type", None) == "ManagedObjectNotFound" else 400
    if isinstance(error, VimFault) and status == 400:
        return _error(error.message, 409, fault=error.fault_type)
    return _error(str(error), status)


@admin_blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return http_error_json(error)


def http_error_json(error: HTTPException) -> Response:
    """An HTTP error (also 404/405 from routing, before the blueprint is reached) as JSON."""
    if error.code == 413:  # say the limit, as the other faces do
        limit = services_of(current_app).settings.max_content_length
        return _error(f"request body is larger than the limit of {limit} bytes", 413)
    return _error(error.description or error.name, error.code or 400)


@admin_blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    log.exception("admin API: unexpected error on %s %s", request.method, request.path)
    return _error(f"internal error in the admin API: {type(error).__name__}", 500)


def _error(message: str, status: int, **extra: Any) -> Response:
    observation: Observation | None = g.get("observation")
    if observation is not None:
        observation.outcome = "invalid" if status < 500 else "SystemError"  # as the faces journal a 5xx
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


@admin_blueprint.get("/health")
def health() -> Response:
    """Liveness, and the id of the server process that answered (tests of a replaced server
    process use it).

    Answered without the admin token (load balancers and readiness probes have none), so it says
    nothing about the mock's state: its status and the answering process only.
    """
    return jsonify({"status": "ok", "pid": os.getpid()})


@admin_blueprint.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 document (``mockserver/data/openapi.yaml``), as JSON."""
    from vismock.mockserver.openapi import document

    return jsonify(document())


# -- tasks


@admin_blueprint.get("/tasks")
def list_tasks() -> Response:
    backend = _backend()
    return jsonify(
        {
            "tasks": [
                task_to_json(spec, backend.tasks.info(spec.id, poll=False)) for spec in backend.tasks.specs()
            ]
        }
    )


@admin_blueprint.get("/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    backend = _backend()
    return jsonify(task_to_json(backend.tasks.get(task_id), backend.tasks.info(task_id, poll=False)))


@admin_blueprint.post("/tasks")
def put_tasks() -> Response:
    """Add or replace tasks: one task object, a list of them, or ``{"tasks": [...]}``."""
    specs = taskfile.specs_from_dicts(_json_body(), source="admin API")
    _backend().tasks.put(specs)
    _observed_tasks([spec.id for spec in specs])
    return _json({"tasks": [spec.id for spec in specs]}, 201)


@admin_blueprint.put("/tasks/<task_id>")
def put_task(task_id: str) -> Response:
    body = _json_body()
    if not isinstance(body, Mapping):
        raise AdminError("the body must be one task (a JSON object)")
    if "id" in body and body["id"] != task_id:
        raise AdminError(f"field 'id': {body['id']!r} does not match the URL's task id {task_id!r}")
    specs = [taskfile.spec_from_dict({"id": task_id, **body}, source="admin API")]
    _backend().tasks.put(specs)
    _observed_tasks([task_id])
    return _json({"tasks": [task_id]}, 200)


@admin_blueprint.delete("/tasks/<task_id>")
def delete_task(task_id: str) -> Response:
    backend = _backend()
    backend.tasks.get(task_id)  # 404 for an unknown task
    backend.tasks.delete(task_id)
    _observed_tasks([task_id])
    return _json({"deleted": task_id}, 200)


@admin_blueprint.post("/tasks/<task_id>/advance")
def advance_task(task_id: str) -> Response:
    body = _json_body(default={})
    steps = _field(body, "steps", int, 1)
    if steps < 1:
        raise AdminError("field 'steps': must be at least 1")
    _observed_tasks([task_id])
    info = _backend().tasks.advance(task_id, steps)
    return _json({"id": task_id, "info": info}, 200)


@admin_blueprint.post("/tasks/<task_id>/restart")
def restart_task(task_id: str) -> Response:
    """Start one task's lifecycle over (queued now, or at its fixed queueTime)."""
    _observed_tasks([task_id])
    backend = _backend()
    backend.tasks.restart(task_id)
    return _json(task_to_json(backend.tasks.get(task_id), backend.tasks.info(task_id, poll=False)), 200)


@admin_blueprint.post("/reset")
def reset() -> Response:
    _backend().reset()
    return _json({"reset": True}, 200)


@admin_blueprint.post("/reload")
def reload() -> Response:
    """Read the task file again: a file that does not load changes nothing (400, file and line)."""
    from vismock.mockserver.reload import ReloadRefused, reload_scenario

    in_code = bool(current_app.config.get("VISMOCK_TASK_SPECS"))
    try:
        reloaded = reload_scenario(_services(), specs_given=in_code)
    except taskfile.TaskFileError as error:
        return _error(str(error), 400, file=error.source, line=error.line)
    except ReloadRefused as error:
        return _error(str(error), 409)
    return _json(reloaded.to_json(), 200)


# -- inventory


@admin_blueprint.get("/inventory")
def inventory() -> Response:
    """Every entity of the inventory: id, type, name, parent and its properties (power state...)."""
    entities = _backend().inventory.all().values()
    return jsonify({"entities": [entity_json(entity) for entity in entities]})


@admin_blueprint.get("/inventory/<entity_id>")
def inventory_entity(entity_id: str) -> Response:
    return jsonify(entity_json(_backend().inventory.get(entity_id)))


def entity_json(entity: Entity) -> dict[str, Any]:
    """An entity as the admin API shows it; a VM with its power now (state, boot time, the task
    running on it), its recent tasks, its uuids and its snapshots (tree order, the current one
    marked)."""
    shown = inventory_json(entity)
    if entity.type == "VirtualMachine":
        inventory = _backend().inventory
        now = inventory.power(entity.id)
        shown["powerState"] = now.state
        shown["bootTime"] = _plain(now.boot_time)
        shown["runningTask"] = now.running
        shown["recentTask"] = list(now.recent)
        shown.update(inventory.identity(entity.id))
        shown["snapshots"] = [_plain(node) for node in inventory.snapshots(entity.id)]
    return shown


# -- inventory writes, what operations' tasks do, overrides (power operations)


@admin_blueprint.put("/inventory")
def replace_inventory() -> Response:
    """Serve another inventory, given as the scenario file's ``inventory:`` (``{"datacenters":
    [...]}``); reset returns to the loaded one."""
    try:
        entities = entities_from_document(_json_body(), ())
    except InventoryError as error:
        raise AdminError(f"field {taskfile.format_path(error.path) or '(body)'}: {error.reason}") from None
    _backend().replace_inventory(entities)
    return _json({"entities": [entity_json(entity) for entity in _backend().inventory.all().values()]}, 200)


@admin_blueprint.patch("/inventory/<entity_id>")
def set_power_state(entity_id: str) -> Response:
    """``{"powerState": "poweredOff"}``: a VM's power state, as if it had always been so
    (409 TaskInProgress while a task runs on it)."""
    state = _field(_json_body(), "powerState", str, None)
    if state is None:
        raise AdminError("field 'powerState': required (poweredOn, poweredOff or suspended)")
    _observed_entity(entity_id)
    _backend().inventory.set_power_state(entity_id, state)
    return _json(entity_json(_backend().inventory.get(entity_id)), 200)


@admin_blueprint.get("/operations")
def operations() -> Response:
    """How the tasks of each power operation behave (``default``: those without their own)."""
    behaviours = _backend().operations.behaviours()
    return jsonify({"operations": {key: taskfile.behaviour_to_dict(b) for key, b in behaviours.items()}})


@admin_blueprint.put("/operations")
def set_operations() -> Response:
    """Replace them all: the scenario file's ``operations:`` as JSON (``{}``: vismock's default)."""
    behaviours = taskfile.behaviours_from_dict(_json_body(), source="admin API")
    _backend().operations.set_behaviours(behaviours, replace_all=True)
    return operations()


@admin_blueprint.put("/operations/<operation>")
def set_operation(operation: str) -> Response:
    """One operation's behaviour (``default``, a power method or its VIS operation)."""
    behaviours = taskfile.behaviours_from_dict({operation: _json_body()}, source="admin API")
    _backend().operations.set_behaviours(behaviours)
    return operations()


@admin_blueprint.get("/overrides")
def list_overrides() -> Response:
    return jsonify({"overrides": [taskfile.override_to_dict(o) for o in _backend().operations.overrides()]})


@admin_blueprint.post("/overrides")
def add_overrides() -> Response:
    """One override (the scenario file's ``overrides:`` item, as JSON) or a list of them."""
    overrides = taskfile.overrides_from_dicts(_json_body(), source="admin API")
    stored = [_backend().operations.add_override(override) for override in overrides]
    return _json({"overrides": [taskfile.override_to_dict(o) for o in stored]}, 201)


@admin_blueprint.delete("/overrides")
def clear_overrides() -> Response:
    _backend().operations.clear_overrides()
    return _json({"cleared": True}, 200)


@admin_blueprint.delete("/overrides/<int:override_id>")
def delete_override(override_id: int) -> Response:
    if not _backend().operations.delete_override(override_id):
        raise AdminError(f"no override with id {override_id}", 404)
    return _json({"deleted": override_id}, 200)


# -- journal and verification


@admin_blueprint.get("/journal")
def journal() -> Response:
    limit = request.args.get("limit")
    entries = _backend().journal.entries(
        **_journal_filters(), limit=_positive_int("limit", limit) if limit else None
    )
    return jsonify({"entries": [entry_to_json(entry) for entry in entries]})


@admin_blueprint.delete("/journal")
def clear_journal() -> Response:
    _backend().journal.clear()
    return _json({"cleared": True}, 200)


@admin_blueprint.get("/journal/count")
def count() -> Response:
    filters = _journal_filters()
    return jsonify({"count": _backend().journal.count(**filters)})


def _journal_filters() -> dict[str, Any]:
    unknown = sorted(set(request.args) - {*JOURNAL_FILTERS, "limit"})
    if unknown:
        raise AdminError(f"unknown filter {unknown[0]!r}; known: {', '.join(JOURNAL_FILTERS)}, limit")
    filters: dict[str, Any] = {name: request.args.get(name) or None for name in JOURNAL_FILTERS}
    if filters["face"] is not None and filters["face"] not in FACES:
        raise AdminError(f"filter 'face': {filters['face']!r} is not one of {', '.join(sorted(FACES))}")
    return filters


# -- fault rules


@admin_blueprint.get("/faults")
def list_faults() -> Response:
    return jsonify({"faults": [fault_rule_to_json(rule) for rule in _backend().faults.rules()]})


@admin_blueprint.post("/faults")
def add_faults() -> Response:
    """One rule object or a list of them."""
    body = _json_body()
    rules: list[FaultRule] = [
        fault_rule_from_json(item, f"faults[{index}]") for index, item in _indexed(body)
    ]
    stored = [_backend().faults.add(rule) for rule in rules]
    return _json({"faults": [fault_rule_to_json(rule) for rule in stored]}, 201)


@admin_blueprint.delete("/faults")
def clear_faults() -> Response:
    _backend().faults.clear()
    return _json({"cleared": True}, 200)


@admin_blueprint.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> Response:
    if not _backend().faults.delete(rule_id):
        raise AdminError(f"no fault rule with id {rule_id}", 404)
    return _json({"deleted": rule_id}, 200)


def _indexed(body: Any) -> list[tuple[int, Any]]:
    return list(enumerate(body if isinstance(body, list) else [body]))


# -- clock


@admin_blueprint.get("/clock")
def clock() -> Response:
    return _clock_json()


@admin_blueprint.post("/clock/freeze")
def freeze() -> Response:
    body = _json_body(default={})
    at = _field(body, "at", str, None)
    _backend().freeze(_parse_time(at) if at else None)
    return _clock_json()


@admin_blueprint.post("/clock/advance")
def advance() -> Response:
    body = _json_body()
    seconds = _field(body, "seconds", float, None)
    if seconds is None or seconds < 0:
        raise AdminError("field 'seconds': required, a number of seconds >= 0 (the clock only moves forward)")
    _backend().advance(seconds)
    return _clock_json()


@admin_blueprint.post("/clock/resume")
def resume() -> Response:
    _backend().resume()
    return _clock_json()


def _clock_json() -> Response:
    """``{"now": ISO time, "frozen": bool, "offset_seconds": float}``."""
    return jsonify(_plain(_backend().clock.describe()))


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AdminError(f"field 'at': {text!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise AdminError(f"field 'at': {text!r} has no time zone (add Z or +00:00)")
    return parsed


# -- helpers


def _services() -> Services:
    return services_of(current_app)


def _backend() -> Backend:
    return _services().backend


def _observed_entity(entity_id: str) -> None:
    observation: Observation | None = g.get("observation")
    if observation is not None:
        observation.entity = entity_id


def _observed_tasks(task_ids: list[str]) -> None:
    observation: Observation | None = g.get("observation")
    if observation is not None:
        observation.task_ids = tuple(task_ids)


def _json(data: Any, status: int) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


def _json_body(default: Any = None) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if default is not None:
            return default
        raise AdminError("the request body is empty; send JSON")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise AdminError("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise AdminError(
            f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise AdminError("the JSON is nested too deeply") from None


def _field(body: Any, name: str, kind: Callable[[Any], Any], default: Any) -> Any:
    if not isinstance(body, Mapping):
        raise AdminError("the body must be a JSON object")
    unknown = sorted(set(body) - {name})
    if unknown:
        raise AdminError(f"unknown field {unknown[0]!r}; expected {name!r}")
    if name not in body or body[name] is None:
        return default
    value = body[name]
    valid = (
        isinstance(value, str)
        if kind is str
        else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if kind is int and isinstance(value, float):
        valid = value.is_integer()
    if not valid:
        raise AdminError(f"field {name!r}: {value!r} is not a {'string' if kind is str else 'number'}")
    return kind(value)


def _positive_int(name: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise AdminError(f"filter {name!r}: {text!r} is not an integer from 1 to {MAX_COUNT}")
    return int(text)


# -- JSON forms

FAULT_ACTIONS = frozenset(get_args(get_type_hints(FaultRule)["action"]))
RULE_FIELDS: dict[str, tuple[type, ...]] = {
    "action": (str,),
    "task": (str,),
    "operation": (str,),
    "face": (str,),
    "times": (int,),
    "probability": (int, float),
    "delay_seconds": (int, float),
    "http_status": (int,),
    "fault": (str,),
    "message": (str,),
}


def task_to_json(spec: TaskSpec, info: Mapping[str, Any]) -> dict[str, Any]:
    """A task as the admin API shows it: its definition (task-file form) and its TaskInfo now."""
    return {"id": spec.id, "spec": taskfile.spec_to_dict(spec), "info": _plain(info)}


def fault_rule_to_json(rule: FaultRule) -> dict[str, Any]:
    return {name: _plain(value) for name, value in dataclasses.asdict(rule).items()}


def fault_rule_from_json(item: Any, where: str) -> FaultRule:
    if not isinstance(item, Mapping):
        raise AdminError(f"{where}: expected a JSON object")
    for name, value in item.items():
        if name not in RULE_FIELDS:
            raise AdminError(f"{where}: unknown field {name!r}; known: {', '.join(RULE_FIELDS)}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, RULE_FIELDS[name])):
            raise AdminError(f"{where}: field {name!r}: {value!r} has the wrong type")
    _check_rule_values(item, where)
    return FaultRule(**item)


def _check_rule_values(item: Mapping[str, Any], where: str) -> None:
    if item.get("action") not in FAULT_ACTIONS:
        raise AdminError(f"{where}: field 'action': must be one of {', '.join(sorted(FAULT_ACTIONS))}")
    if item.get("face") is not None and item["face"] not in FACES:
        raise AdminError(f"{where}: field 'face': must be one of {', '.join(sorted(FACES))}")
    if item.get("times") is not None and not 1 <= item["times"] <= MAX_COUNT:
        raise AdminError(f"{where}: field 'times': must be 1 to {MAX_COUNT} (or null for unlimited)")
    if not 0.0 <= float(item.get("probability", 1.0)) <= 1.0:
        raise AdminError(f"{where}: field 'probability': must be between 0 and 1")
    if float(item.get("delay_seconds", 0.0)) < 0:
        raise AdminError(f"{where}: field 'delay_seconds': must not be negative")
    if not 100 <= int(item.get("http_status", 500)) <= 599:
        raise AdminError(f"{where}: field 'http_status': must be an HTTP status (100-599)")


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 (Z), tuples as lists, nested mappings converted."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def entry_to_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "time": entry.time.isoformat().replace("+00:00", "Z"),
        "face": entry.face,
        "operation": entry.operation,
        "task_ids": list(entry.task_ids),
        "user": entry.user,
        "outcome": entry.outcome,
        "http_status": entry.http_status,
        "entity": entry.entity,
        "latency_ms": entry.latency_ms,
    }
