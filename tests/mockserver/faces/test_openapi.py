"""The admin API's OpenAPI document against the real app.

The document is valid OpenAPI 3.1; every ``/_vismock`` route of the app is documented and every
documented path and method is a route; every documented example request is sent to a real app
(state set up so it can succeed) and answered with the documented status and a body matching the
documented schema; every documented example matches its own schema; error answers match the
error schema; docs/admin-api.md is the current rendering.
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support import JSON, ROOT
from vismock.mockserver.app import create_app
from vismock.mockserver.openapi import document
from vismock.mockserver.state.taskfile import load_builtin_tasks
from vismock.schemas import entity_types

DOC_URI = "urn:vismock:admin-openapi"
METHODS = ("get", "put", "post", "delete", "patch")
WRITES = ("put", "post", "patch")  # they need Content-Type: application/json (faces/guard.py)
SEED_REQUEST = (ROOT / "tests" / "data" / "seed" / "request.xml").read_bytes()
POWER_OFF_REQUEST = (ROOT / "tests" / "data" / "basic-vm" / "power-off-request.xml").read_bytes()
# Routes that are not part of the JSON API: the dashboard (an HTML page and its files), which the
# ui blueprint adds under /_vismock/ui.
NOT_IN_THE_API = ("ui.",)

DOCUMENT = document()
OPERATIONS = [
    (path, method, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]


def _validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at *pointer* inside the document, its $refs resolved in it."""
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _response_pointer(path: str, method: str, status: str) -> tuple[str, dict[str, Any]]:
    """The JSON pointer to a documented response's schema, and the response (refs followed)."""
    response = DOCUMENT["paths"][path][method]["responses"][status]
    pointer = f"/paths/{_escape(path)}/{method}/responses/{status}"
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
        response = _resolve(response["$ref"])
    return f"{pointer}/content/application~1json/schema", response


def _resolve(ref: str) -> Any:
    node: Any = DOCUMENT
    for token in ref.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [_resolve(p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])]


def _errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]


# -- the document itself ------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    validate_spec(DOCUMENT)


def test_operation_ids_are_unique_and_every_operation_has_a_summary() -> None:
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(ids) == len(set(ids))
    assert all(operation.get("summary") for _, _, operation in OPERATIONS)


def test_the_entity_types_are_the_schemas() -> None:
    assert DOCUMENT["components"]["schemas"]["EntityType"]["enum"] == list(entity_types())
    info_properties = DOCUMENT["components"]["schemas"]["TaskInfo"]["properties"]
    assert set(entity_types()) <= set(info_properties)


def test_every_example_matches_its_own_schema() -> None:
    checked = 0
    for path, method, operation in OPERATIONS:
        for status in operation["responses"]:
            pointer, response = _response_pointer(path, method, status)
            example = response["content"]["application/json"]["example"]
            assert not _errors(_validator(pointer), example), (method, path, status)
            checked += 1
        body = operation.get("requestBody")
        if body is not None:
            pointer = f"/paths/{_escape(path)}/{method}/requestBody/content/application~1json/schema"
            example = body["content"]["application/json"]["example"]
            assert not _errors(_validator(pointer), example), (method, path, "request")
            checked += 1
    assert checked > 2 * len(OPERATIONS)


def test_the_schemas_refuse_what_the_api_refuses() -> None:
    """The schemas are not just 'object': they catch the mistakes the server catches."""
    spec = _validator("/components/schemas/TaskSpec")
    assert _errors(spec, {"id": "task-1", "name": "PowerOnVM_Task", "colour": "blue"})
    assert _errors(spec, {"name": "PowerOnVM_Task"})  # no id
    assert _errors(spec, {"id": "task-1", "name": "X", "timeline": [{"state": "runing"}]})
    assert _errors(spec, {"id": "task-1", "name": "X", "entity": {"type": "Teapot"}})
    assert not _errors(spec, {"id": "task-1", "name": "X", "reason": "system"})
    rule = _validator("/components/schemas/FaultRuleInput")
    assert _errors(rule, {"action": "explode"})
    assert _errors(rule, {"action": "delay", "probability": 2})
    assert not _errors(rule, {"action": "drop", "times": None, "face": "soap"})


# -- the document against the routes ---------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3")})


def _routes(app: Flask) -> set[tuple[str, str]]:
    """(path in OpenAPI form, method) for every /_vismock route of the app."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/_vismock") or rule.endpoint.startswith(NOT_IN_THE_API):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((path, method.lower()))
    return routes


def test_every_route_is_documented_and_every_documented_operation_is_a_route(app: Flask) -> None:
    routes = _routes(app)
    documented = {(path, method) for path, method, _ in OPERATIONS}
    assert routes - documented == set(), "routes missing from mockserver/data/openapi.yaml"
    assert documented - routes == set(), "documented operations the app does not have"
    assert len(routes) >= 20


def test_path_parameters_are_the_routes(app: Flask) -> None:
    """Each documented path parameter is the route's variable, integer where the route says int."""
    converters = {}
    for rule in app.url_map.iter_rules():
        for name, converter in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", rule.rule):
            converters[(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule), converter)] = name or "string"
    for path, _, operation in OPERATIONS:
        parameters = {p["name"]: p for p in _parameters(operation) if p["in"] == "path"}
        assert set(parameters) == set(re.findall(r"{([a-z_]+)}", path)), path
        for name, parameter in parameters.items():
            expected = "integer" if converters[(path, name)] == "int" else "string"
            assert parameter["schema"]["type"] == expected, (path, name)


# -- every example request against a real app ---------------------------------------------------------------


def _adapter_request(client: FlaskClient) -> None:
    """A read of task-525, then Power_Off_VM on win1 (task-3001, the journal examples' entry):
    the filters must pick the second out."""
    for request in (SEED_REQUEST, POWER_OFF_REQUEST):
        answer = client.post("/adapter", data=request, headers={"Content-Type": "text/xml"})
        assert answer.status_code == 200


def _add_documented_rule(client: FlaskClient) -> None:
    body = DOCUMENT["paths"]["/_vismock/faults"]["post"]["requestBody"]["content"]["application/json"]
    assert client.post("/_vismock/faults", json=body["example"]).status_code == 201


def _add_documented_override(client: FlaskClient) -> None:
    body = DOCUMENT["paths"]["/_vismock/overrides"]["post"]["requestBody"]["content"]["application/json"]
    assert client.post("/_vismock/overrides", json=body["example"]).status_code == 201


def _set_documented_operations(client: FlaskClient) -> None:
    body = DOCUMENT["paths"]["/_vismock/operations"]["put"]["requestBody"]["content"]["application/json"]
    assert client.put("/_vismock/operations", json=body["example"]).status_code == 200


# What each example needs to exist before it is sent (a fresh app has the built-in scenario only).
SETUP: dict[str, Callable[[FlaskClient], None]] = {
    "getJournal": _adapter_request,
    "countRequests": _adapter_request,
    "listFaults": _add_documented_rule,
    "deleteFault": _add_documented_rule,
    "listOperations": _set_documented_operations,
    "listOverrides": _add_documented_override,
    "deleteOverride": _add_documented_override,
}
# Examples whose documented answer is exactly what the server answers (no times, pids or counters
# that change from run to run).
EXACT = {
    "getTask",
    "putTasks",
    "putTask",
    "deleteTask",
    "reset",
    "clearJournal",
    "countRequests",
    "listFaults",
    "addFaults",
    "clearFaults",
    "deleteFault",
    "getInventoryEntity",
    "reload",
    "replaceInventory",
    "setPowerState",
    "listOperations",
    "setOperations",
    "setOperation",
    "listOverrides",
    "addOverrides",
    "clearOverrides",
    "deleteOverride",
}


def test_setup_and_exact_name_real_operations() -> None:
    ids = {operation["operationId"] for _, _, operation in OPERATIONS}
    assert set(SETUP) <= ids
    assert ids >= EXACT


def _example_request(path: str, method: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    url = path
    query = {}
    for parameter in _parameters(operation):
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
        elif parameter["in"] == "query":
            query[parameter["name"]] = parameter["example"]
    kwargs: dict[str, Any] = {"query_string": query}
    body = operation.get("requestBody")
    if body is not None:
        kwargs["json"] = body["content"]["application/json"]["example"]
    elif method in WRITES:
        kwargs["content_type"] = JSON  # as documented: even without a body
    return url, kwargs


def _each(operations: list[tuple[str, str, dict[str, Any]]]) -> pytest.MarkDecorator:
    """A test run once per documented operation (path, method, operation), named by its id."""
    ids = [operation["operationId"] for _, _, operation in operations]
    return pytest.mark.parametrize(("path", "method", "operation"), operations, ids=ids)


@_each(OPERATIONS)
def test_the_example_request_is_accepted_and_answered_as_documented(
    app: Flask, path: str, method: str, operation: dict[str, Any]
) -> None:
    client = app.test_client()
    setup = SETUP.get(operation["operationId"])
    if setup is not None:
        setup(client)
    url, kwargs = _example_request(path, method, operation)
    answer = client.open(url, method=method.upper(), **kwargs)
    success = [status for status in operation["responses"] if status.startswith("2")]
    assert len(success) == 1, "one documented success status per operation"
    assert str(answer.status_code) == success[0], answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    pointer, response = _response_pointer(path, method, success[0])
    assert not _errors(_validator(pointer), body), json.dumps(body)[:2000]
    if operation["operationId"] in EXACT:
        assert body == response["content"]["application/json"]["example"]


def test_the_served_document_is_the_packaged_one(app: Flask) -> None:
    answer = app.test_client().get("/_vismock/openapi.json")
    assert answer.status_code == 200
    assert answer.get_json() == DOCUMENT


def test_the_document_is_guarded_like_the_rest_of_the_admin_api(tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_ADMIN_TOKEN": "s3cret"})
    client = app.test_client()
    assert client.get("/_vismock/openapi.json").status_code == 401
    authorised = client.get("/_vismock/openapi.json", headers={"Authorization": "Bearer s3cret"})
    assert authorised.status_code == 200
    remote = client.get(
        "/_vismock/openapi.json", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={"Authorization": "x"}
    )
    assert remote.status_code == 401


SUCCESS = {"state": "success"}

ERROR_CASES = [
    ("getTask", "GET", "/_vismock/tasks/task-404", {}, 404),
    ("deleteTask", "DELETE", "/_vismock/tasks/task-404", {}, 404),
    (
        "putTasks",
        "POST",
        "/_vismock/tasks",
        {"data": b'{"id": "task-9",', "content_type": "application/json"},
        400,
    ),
    ("putTasks", "POST", "/_vismock/tasks", {"json": {"id": "task-9", "name": "X", "colour": "blue"}}, 400),
    ("putTask", "PUT", "/_vismock/tasks/task-9", {"json": {"id": "task-8", "name": "PowerOnVM_Task"}}, 400),
    ("advanceTask", "POST", "/_vismock/tasks/task-1001/advance", {"content_type": JSON}, 409),
    ("advanceTask", "POST", "/_vismock/tasks/task-1003/advance", {"json": {"steps": 0}}, 400),
    ("restartTask", "POST", "/_vismock/tasks/task-404/restart", {"content_type": JSON}, 404),
    ("getJournal", "GET", "/_vismock/journal", {"query_string": {"colour": "blue"}}, 400),
    ("countRequests", "GET", "/_vismock/journal/count", {"query_string": {"face": "web"}}, 400),
    ("addFaults", "POST", "/_vismock/faults", {"json": {"action": "explode"}}, 400),
    ("deleteFault", "DELETE", "/_vismock/faults/99", {}, 404),
    ("getInventoryEntity", "GET", "/_vismock/inventory/vm-404", {}, 404),
    ("freezeClock", "POST", "/_vismock/clock/freeze", {"json": {"at": "yesterday"}}, 400),
    ("advanceClock", "POST", "/_vismock/clock/advance", {"json": {"seconds": -1}}, 400),
    ("replaceInventory", "PUT", "/_vismock/inventory", {"json": {"datacentres": []}}, 400),
    ("setPowerState", "PATCH", "/_vismock/inventory/vm-900", {"json": {"powerState": "poweredOn"}}, 400),
    ("setPowerState", "PATCH", "/_vismock/inventory/vm-404", {"json": {"powerState": "poweredOn"}}, 404),
    ("setOperations", "PUT", "/_vismock/operations", {"json": {"Power_Off": {"timeline": []}}}, 400),
    # An operation the catalog does not have (Power_Off_VM is one), with a good timeline.
    ("setOperation", "PUT", "/_vismock/operations/Power_Off", {"json": {"timeline": [SUCCESS]}}, 400),
    ("addOverrides", "POST", "/_vismock/overrides", {"json": {"vm": "win1"}}, 400),
    ("deleteOverride", "DELETE", "/_vismock/overrides/99", {}, 404),
    (
        "putTasks",
        "POST",
        "/_vismock/tasks",
        {"data": b"[" * 2 * 1024 * 1024, "content_type": "application/json"},
        413,
    ),
]


@pytest.fixture
def operations_by_id() -> Iterator[dict[str, tuple[str, str]]]:
    yield {operation["operationId"]: (path, method) for path, method, operation in OPERATIONS}


@pytest.mark.parametrize(("operation_id", "method", "url", "kwargs", "status"), ERROR_CASES)
def test_error_answers_are_documented_and_match_the_error_schema(
    app: Flask,
    operations_by_id: dict[str, tuple[str, str]],
    operation_id: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    path, documented_method = operations_by_id[operation_id]
    assert documented_method == method.lower()
    answer = app.test_client().open(url, method=method, **kwargs)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert str(status) in DOCUMENT["paths"][path][documented_method]["responses"]
    pointer, _ = _response_pointer(path, documented_method, str(status))
    assert not _errors(_validator(pointer), answer.get_json())


def test_behaviours_and_overrides_of_any_task_method_are_documented(app: Flask) -> None:
    """Not only the power methods: a snapshot's and a clone's tasks are scripted the same way."""
    client = app.test_client()
    sent = [
        ("/_vismock/operations", "put", "/_vismock/operations", 200,
         {"RevertToSnapshot_Task": {"timeline": [{"state": "success", "at": 1}]}}),
        ("/_vismock/operations/{operation}", "put", "/_vismock/operations/Create_VM_Snapshot", 200,
         {"timeline": [{"state": "success", "at": 0}]}),
        ("/_vismock/overrides", "post", "/_vismock/overrides", 201,
         {"operation": "Clone_VM", "vm": "win1", "fault": "InvalidState"}),
    ]  # fmt: skip
    for path, method, url, status, body in sent:
        request = f"/paths/{_escape(path)}/{method}/requestBody/content/application~1json/schema"
        assert not _errors(_validator(request), body)
        answer = client.open(url, method=method.upper(), json=body)
        assert answer.status_code == status, answer.get_data(as_text=True)
        pointer, _ = _response_pointer(path, method, str(status))
        assert not _errors(_validator(pointer), answer.get_json())
    operations = client.get("/_vismock/operations").get_json()["operations"]
    assert {"CreateSnapshot_Task", "RevertToSnapshot_Task"} <= set(operations)
    assert client.get("/_vismock/overrides").get_json()["overrides"][0]["operation"] == "CloneVM_Task"


def test_forbidden_and_unauthorised_answers_match_the_error_schema(tmp_path: Path, app: Flask) -> None:
    pointer = "/components/responses/Forbidden/content/application~1json/schema"
    remote = app.test_client().get("/_vismock/tasks", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403
    assert not _errors(_validator(pointer), remote.get_json())
    guarded = create_app({"VISMOCK_DB": str(tmp_path / "other.sqlite3"), "VISMOCK_ADMIN_TOKEN": "t"})
    refused = guarded.test_client().get("/_vismock/clock")
    assert refused.status_code == 401
    assert not _errors(_validator(pointer.replace("Forbidden", "Unauthorized")), refused.get_json())
    for web_page in ({"Host": "evil.example:8080"}, {"Origin": "http://evil.example"}):
        foreign = app.test_client().post("/_vismock/reset", content_type=JSON, headers=web_page)
        assert foreign.status_code == 403
        assert not _errors(_validator(pointer), foreign.get_json())


WRITE_OPERATIONS = [(path, method, operation) for path, method, operation in OPERATIONS if method in WRITES]


@_each(WRITE_OPERATIONS)
def test_every_write_sent_as_a_web_page_can_send_it_answers_the_documented_415(
    app: Flask, path: str, method: str, operation: dict[str, Any]
) -> None:
    """The documented example, sent as text/plain (its JSON unchanged), is refused, as documented."""
    url, kwargs = _example_request(path, method, operation)
    kwargs.pop("content_type", None)
    body = json.dumps(kwargs.pop("json")) if "json" in kwargs else ""
    answer = app.test_client().open(
        url, method=method.upper(), data=body, content_type="text/plain", **kwargs
    )
    assert answer.status_code == 415, answer.get_data(as_text=True)
    pointer, _ = _response_pointer(path, method, "415")
    assert not _errors(_validator(pointer), answer.get_json())
    assert "'Content-Type: application/json'" in answer.get_json()["error"]


# -- the rendered documentation ---------------------------------------------------------------------------


def test_docs_admin_api_md_is_the_current_rendering() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "render_admin_api.py"))
    rendered = script["render"](DOCUMENT)
    current = (ROOT / "docs" / "admin-api.md").read_text(encoding="utf-8")
    assert current == rendered, "docs/admin-api.md is out of date: run python scripts/render_admin_api.py"
    for _, _, operation in OPERATIONS:
        assert operation["summary"] in rendered


def test_reload_refusals_match_their_documented_schemas(tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text("tasks:\n  - id: task-1\n    name: PowerOnVM_Task\n")
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_TASKS": str(tasks_file)})
    tasks_file.write_text("tasks:\n  - id: task-1\n    name: PowerOnVM_Task\n    colour: blue\n")
    broken = app.test_client().post("/_vismock/reload", content_type=JSON)
    assert broken.status_code == 400
    assert not _errors(_validator("/components/schemas/FileError"), broken.get_json())
    assert broken.get_json()["line"] == 4
    in_code = create_app(
        {"VISMOCK_DB": str(tmp_path / "other.sqlite3"), "VISMOCK_TASK_SPECS": load_builtin_tasks()}
    )
    refused = in_code.test_client().post("/_vismock/reload", content_type=JSON)
    assert refused.status_code == 409
    assert "409" in DOCUMENT["paths"]["/_vismock/reload"]["post"]["responses"]
    assert not _errors(_validator("/components/schemas/Error"), refused.get_json())
