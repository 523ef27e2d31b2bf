"""Dynamic mode: an unknown task id reads as a generated, schema-valid TaskInfo, the same for the same id."""

from __future__ import annotations

import ast
import json
import random
import re
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import vismock.codec as codec
from tests.support import DATA as TEST_DATA
from tests.support import wire
from tests.support.served import served
from tests.support.soap import assert_valid, call_xml, logged_in, make_app, post
from vismock.codec import Codec, XsDateTime
from vismock.faults import TaskNotFound
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend, dynamic
from vismock.mockserver.state.dynamic import RegexSampler, dynamic_task_info, seed_for
from vismock.mockserver.vim25 import model, taskinfo, xml
from vismock.mockserver.vim25.check import envelope_errors
from vismock.schemas import schema_directory, task_methods

DATA = TEST_DATA / "dynamic"
SEEDS = json.loads((DATA / "seeds.json").read_text())["seeds"]
PATTERNS = [
    line for line in (DATA / "patterns.txt").read_text().splitlines() if line and not line.startswith("#")
]
ID_ALPHABET = string.ascii_letters + string.digits + "-_./:é中<&>"  # task ids are \S+


def random_ids(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ID_ALPHABET, k=rng.randint(1, 24))) for _ in range(count)]


def request_for(task_ids: list[str]) -> bytes:
    request = {
        "operation-type": "Monitor_Vm",
        "operation-name": "Retrieve_Task_Status",
        "parameters": {"spec-set": {"object-set": [{"task": task_id} for task_id in task_ids]}},
    }
    return codec.encode(request)


def infos_of(body: bytes) -> list[dict[str, Any]]:
    returnvals = codec.decode(body)["RetrieveTaskStatusResponse"]["returnval"]
    return [returnval["propSet"]["TaskInfo"] for returnval in returnvals]


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[tuple[Backend, Backend]]:
    """Two independent dynamic Backends, each over its own database."""
    first = Backend(tmp_path / "one.sqlite3", dynamic=True)
    second = Backend(tmp_path / "two.sqlite3", dynamic=True)
    yield first, second
    first.close()
    second.close()


# -- the seed and the generator ------------------------------------------------------------------


@pytest.mark.parametrize("task_id", list(SEEDS))
def test_the_seed_is_sha256_of_the_id(task_id: str) -> None:
    assert seed_for(task_id) == SEEDS[task_id]


def test_the_same_id_gives_the_same_task_info_in_two_backends(backends: tuple[Backend, Backend]) -> None:
    first, second = backends
    for task_id in random_ids(50):
        assert first.tasks.info(task_id) == second.tasks.info(task_id) == dynamic_task_info(task_id)
        assert first.tasks.info(task_id, poll=False)["key"] == task_id


def test_the_same_id_gives_the_same_task_info_in_another_process() -> None:
    """A fresh interpreter with another hash seed: nothing depends on Python's salted hash()."""
    ids = random_ids(20)
    script = (
        "import json, sys; from vismock.mockserver.state.dynamic import dynamic_task_info as d;"
        "print(json.dumps([d(i) for i in json.loads(sys.stdin.read())]))"
    )
    for hash_seed in ("1", "2"):
        completed = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(ids),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        assert json.loads(completed.stdout) == [dynamic_task_info(task_id) for task_id in ids]


def test_different_ids_give_different_task_infos() -> None:
    infos = [dynamic_task_info(task_id) for task_id in random_ids(50)]
    without_ids = {json.dumps({k: v for k, v in info.items() if k not in ("key", "Task")}) for info in infos}
    assert len(without_ids) == len(infos)


def test_callers_get_a_copy_they_may_change() -> None:
    dynamic_task_info("task-copy")["state"] = "changed"
    assert dynamic_task_info("task-copy")["state"] != "changed"


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_sampler_produces_full_matches(pattern: str) -> None:
    compiled = re.compile(pattern)
    sampler = RegexSampler(random.Random(pattern))
    samples = [sampler.sample(compiled) for _ in range(200)]
    assert all(compiled.fullmatch(text) for text in samples), [
        s for s in samples if not compiled.fullmatch(s)
    ]


def test_the_module_does_not_import_hypothesis() -> None:
    """The server imports it: dynamic mode must not need the testing extra."""
    tree = ast.parse(Path(dynamic.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "hypothesis" for name in imported)


NO_HYPOTHESIS = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "hypothesis":
            raise ImportError("hypothesis is not installed here")

sys.meta_path.insert(0, Refuse())
from vismock.mockserver.state import Backend

print(Backend(dynamic=True).tasks.info("task-1")["key"])
"""


def test_dynamic_mode_works_without_hypothesis_installed() -> None:
    completed = subprocess.run([sys.executable, "-c", NO_HYPOTHESIS], capture_output=True, text=True)
    assert completed.stdout.strip() == "task-1", completed.stderr


# -- valid and consistent --------------------------------------------------------------------------


def test_500_random_ids_give_valid_envelopes_on_the_adapter_face() -> None:
    app = make_app(VISMOCK_DYNAMIC=True)
    client = app.test_client()
    ids = random_ids(500, seed=11)
    for start in range(0, len(ids), 50):
        batch = ids[start : start + 50]
        response = client.post("/adapter", data=request_for(batch), content_type="text/xml")
        assert response.status_code == 200
        assert list(codec.iter_errors(response.data)) == []
        infos = infos_of(response.data)
        assert [info["key"] for info in infos] == [info["Task"] for info in infos] == batch
        assert infos == [dynamic_task_info(task_id) for task_id in batch]


def fetched_info(info: dict[str, Any]) -> bytes:
    """The SOAP face's answer to a Fetch of a task's ``info`` holding *info* (as vim25 renders it)."""
    return xml.response_envelope("Fetch", xml.render_typed("returnval", taskinfo.to_vim25(info), "TaskInfo"))


@pytest.mark.parametrize("task_id", random_ids(500, seed=12))
def test_generated_task_infos_obey_the_vim25_rules(task_id: str) -> None:
    info = dynamic_task_info(task_id)
    state = info["state"]
    times = [info.get(name) for name in ("queueTime", "startTime", "completeTime")]
    assert all(isinstance(time, XsDateTime) for time in times if time is not None)
    present = [time.datetime for time in times if time is not None]
    assert present == sorted(present)
    assert ("startTime" in info) == (state != "queued")
    assert ("completeTime" in info) == (state in ("success", "error"))
    assert ("error" in info) == (state == "error")
    assert "result" not in info or state == "success"
    assert "progress" not in info or (state != "queued" and 0 <= info["progress"] <= 100)
    assert not info["cancelled"] or (info["cancelable"] and info["error"]["fault"] == "RequestCanceled")
    # As vim25 sees it: a fault type of vim25 (the checker reads the whole answer by the model), the
    # entity named when its name is.
    assert envelope_errors(fetched_info(info)) == []
    vim = taskinfo.to_vim25(info)
    assert vim.error is None or vim.error.fault.type == info["error"]["fault"] in model().fault_types()
    assert vim.entityName is None or vim.entity is not None
    # Named as vCenter names tasks: a real vim25 task method, its descriptionId, an entity of its type.
    method = task_methods()[info["name"]]
    assert info["descriptionId"] == method.description_id
    assert vim.entity is None or vim.entity.type == method.type


def test_every_state_and_reason_turns_up() -> None:
    """The walk really explores the choices and enumerations."""
    infos = [dynamic_task_info(task_id) for task_id in random_ids(300, seed=13)]
    assert {info["state"] for info in infos} == {"queued", "running", "success", "error"}
    reasons = {name for info in infos for name in info if name.startswith("TaskReason")}
    assert reasons == {"TaskReasonUser", "TaskReasonAlarm", "TaskReasonSchedule", "TaskReasonSystem"}


def test_pyvmomi_resolves_every_generated_task_name_as_a_method() -> None:
    from pyVmomi import VmomiSupport

    names = {dynamic_task_info(task_id)["name"] for task_id in random_ids(200, seed=14)}
    assert len(names) > 20  # many methods turn up, not one
    for name in names:
        assert VmomiSupport.GetWsdlMethod("urn:vim25", name) is not None  # type: ignore[no-untyped-call]


def test_the_soap_face_serves_the_same_task_info() -> None:
    client = logged_in(make_app(VISMOCK_DYNAMIC=True).test_client())
    for task_id in random_ids(30, seed=14):
        escaped = task_id.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        response = post(client, call_xml("Fetch", "Task", escaped, "<prop>info.state</prop>"))
        assert response.status_code == 200, response.data
        assert_valid(response.data)
        assert f">{dynamic_task_info(task_id)['state']}</returnval>".encode() in response.data


def test_a_property_filter_can_watch_a_generated_task() -> None:
    # pyVmomi's WaitForTask starts with CreateFilter on the task: a generated id must be accepted.
    client = logged_in(make_app(VISMOCK_DYNAMIC=True).test_client())
    spec = (
        "<spec><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>"
        '<objectSet><obj type="Task">task-generated-7</obj></objectSet></spec>'
        "<partialUpdates>false</partialUpdates>"
    )
    response = post(client, call_xml("CreateFilter", "PropertyCollector", "propertyCollector", spec))
    assert response.status_code == 200, response.data
    assert_valid(response.data)


def test_a_new_schema_element_is_generated_without_code_change(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(schema_directory(), folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    xsd = folder / "vim25-adapter.xsd"
    anchor = '<xs:element name="eventChainId" type="xs:int"/>'
    extra = '<xs:element name="vismockLevel"><xs:simpleType><xs:restriction base="xs:int">'
    extra += '<xs:minInclusive value="3"/><xs:maxInclusive value="7"/></xs:restriction></xs:simpleType>'
    extra += '</xs:element><xs:element name="vismockCode" type="xs:string" minOccurs="0" maxOccurs="2"/>'
    xsd.write_text(xsd.read_text().replace(anchor, anchor + extra))
    extended = Codec(schema_dir=folder)
    infos = [dynamic_task_info(task_id, codec=extended) for task_id in random_ids(40, seed=15)]
    assert all(3 <= info["vismockLevel"] <= 7 for info in infos)
    assert any("vismockCode" in info for info in infos)
    for info in infos:
        returnval = {"Task": info["Task"], "propSet": {"name": "info", "TaskInfo": info}}
        response = {
            "metadata": {"status": "success"},
            "RetrieveTaskStatusResponse": {"returnval": [returnval]},
        }
        assert extended.is_valid(extended.encode(response))


# -- off by default ------------------------------------------------------------------------------------


def test_off_by_default_in_the_backend() -> None:
    backend = Backend()
    try:
        assert backend.dynamic is False
        with pytest.raises(TaskNotFound):
            backend.tasks.info("task-unknown")
    finally:
        backend.close()


def test_off_by_default_on_both_faces() -> None:
    app: Flask = make_app()
    client = app.test_client()
    response = client.post("/adapter", data=request_for(["task-unknown"]), content_type="text/xml")
    metadata = codec.decode(response.data)["metadata"]
    assert (response.status_code, metadata["status"], metadata["fault"]) == (
        200,
        "error",
        "ManagedObjectNotFound",
    )
    logged_in(client)
    fault = post(client, call_xml("Fetch", "Task", "task-unknown", "<prop>info</prop>"))
    assert fault.status_code == 500 and wire.fault_type_of(fault.data) == "ManagedObjectNotFound"


def test_stored_tasks_win_over_generated_ones() -> None:
    app = make_app(VISMOCK_DYNAMIC=True)
    backend: Backend = services_of(app).backend
    stored = backend.tasks.specs()[0]
    assert backend.tasks.info(stored.id, poll=False)["name"] == stored.name


# -- vismock serve --dynamic and the pytest fixture option --------------------------------------------------


def test_vismock_serve_dynamic_answers_the_same_task_infos(tmp_path: Path) -> None:
    ids = random_ids(20, seed=16)
    with served("--dynamic", "--server", "waitress", "--db", str(tmp_path / "state.sqlite3")) as mock:
        status, body = mock.call("POST", "/adapter", request_for(ids))
    assert status == 200
    assert infos_of(body) == [dynamic_task_info(task_id) for task_id in ids]


def test_vismock_serve_without_dynamic_says_not_found(tmp_path: Path) -> None:
    with served("--server", "waitress", "--db", str(tmp_path / "state.sqlite3")) as mock:
        status, body = mock.call("POST", "/adapter", request_for(["task-unknown"]))
    assert status == 200 and codec.decode(body)["metadata"]["fault"] == "ManagedObjectNotFound"


class TestFixtureOption:
    """Overriding ``vismock_dynamic`` (here for this class only) serves generated tasks."""

    @pytest.fixture
    def vismock_dynamic(self) -> bool:
        return True

    def test_the_fixture_server_generates_unknown_tasks(self, vismock_server: VismockServer) -> None:
        assert vismock_server.backend.dynamic
        info = vismock_server.task_info("task-from-fixture")
        assert info == dynamic_task_info("task-from-fixture")
        assert isinstance(XsDateTime(info["queueTime"]).datetime, datetime)


def test_the_default_fixture_server_is_not_dynamic(vismock_server: VismockServer) -> None:
    with pytest.raises(TaskNotFound):
        vismock_server.task_info("task-from-fixture")
