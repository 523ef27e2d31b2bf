"""Helpers of the ``vismock record`` tests: run the command, and read tasks from both faces of a
served vismock (its SOAP face through pyVmomi, its adapter face with a Retrieve_Task_Status
envelope), as dicts of the codec's TaskInfo form."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from vismock.adapter.vcenter import Settings, connect
from vismock.cli import main
from vismock.codec import decode
from vismock.mockserver.state.taskfile import Scenario, load_file

USER, PASSWORD = "vismock", "vismock"
PASSWORD_ENV = "VISMOCK_TEST_RECORD_PASSWORD"


def record(
    capsys: pytest.CaptureFixture[str], soap_url: str, output: Path, *options: str, user: str = USER
) -> tuple[int, str]:
    """``vismock record --soap-url URL --user USER -o OUTPUT OPTIONS`` in process: (status, stderr).
    The password comes from the environment variable PASSWORD_ENV (set by the caller)."""
    connection = ["--soap-url", soap_url, "--user", user, "--password-env", PASSWORD_ENV]
    status = main(["record", *connection, "-o", str(output), *options])
    return status, capsys.readouterr().err


def loaded(path: Path) -> Scenario:
    """The recording as ``vismock serve --tasks`` loads it (fails the test if it would refuse it)."""
    return load_file(path)


def soap_infos(
    soap_url: str, task_ids: Sequence[str], user: str = USER, password: str = PASSWORD
) -> dict[str, dict[str, Any]]:
    """Each task's TaskInfo read over SOAP with pyVmomi (``vim.Task(id).info``)."""
    with connect(Settings(soap_url=soap_url, user=user, password=password, timeout=10)) as vcenter:
        return {task_id: vcenter.task_info(task_id) for task_id in task_ids}


def adapter_infos(base_url: str, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each task's TaskInfo as the adapter face answers Retrieve_Task_Status (one request)."""
    objects = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
    body = (
        "<vmware-infrastructure-request><operation-type>Monitor_Vm</operation-type>"
        "<operation-name>Retrieve_Task_Status</operation-name><soap-url></soap-url><transport></transport>"
        f"<user-name>{USER}</user-name><password>{PASSWORD}</password>"
        f"<parameters><spec-set>{objects}</spec-set></parameters></vmware-infrastructure-request>"
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/adapter", data=body, headers={"Content-Type": "text/xml"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        response = decode(answer.read())
    assert response["metadata"]["status"] == "success", response["metadata"]
    returnvals = response["RetrieveTaskStatusResponse"]["returnval"]
    return {entry["Task"]: dict(entry["propSet"]["TaskInfo"]) for entry in returnvals}


def admin(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base_url}/_vismock{path}", timeout=10) as answer:
        return json.loads(answer.read())


def post_admin(base_url: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(
        f"{base_url}/_vismock{path}", data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())
