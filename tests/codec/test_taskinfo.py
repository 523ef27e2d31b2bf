"""One TaskInfo model, from the XSD: a field of vim25's TaskInfo added to the adapter's schema is
carried by the task file, the lifecycle, both faces and the vCenter client, with no code edit.

The mock keeps a task's info as vim25's TaskInfo (the model generated from pyVmomi), so the field
must be vim25's too: the test adds it to both data files, the XSD and the model, as a newer vSphere
release and its pyVmomi would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from vismock.codec.taskinfo import task_info_model

NEW_FIELD = '      <xs:element name="vismockNote" type="xs:string" minOccurs="0"/>\n'
PACKAGE_DIRS = {"codec": "codec", "mockserver": "mockserver", "adapter": "adapter", "testing": "testing"}

CARRY = r"""
import sys, types
from datetime import datetime, timezone
import vismock.schemas
assert vismock.schemas.schema_directory().is_relative_to(sys.argv[1]), vismock.schemas.schema_directory()
from vismock.mockserver.app import create_app
from vismock.adapter.vcenter import task_info_dict

task_file = sys.argv[2]
app = create_app({"VISMOCK_TASKS": task_file, "VISMOCK_DB": sys.argv[3]})
client = app.test_client()
request = open(sys.argv[4], "rb").read().replace(b"task-525", b"task-noted")
adapter = client.post("/adapter", data=request, content_type="text/xml").data
assert b"<vismockNote>carried</vismockNote>" in adapter, adapter

envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
            '<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>')
login = ('<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
         '<userName>vismock</userName><password>vismock</password></Login>')
assert client.post("/sdk", data=envelope.format(login)).status_code == 200
for prop in ("info", "info.vismockNote"):
    fetch = f'<Fetch xmlns="urn:vim25"><_this type="Task">task-noted</_this><prop>{prop}</prop></Fetch>'
    soap = client.post("/sdk", data=envelope.format(fetch)).data
    assert b"<vismockNote>carried</vismockNote>" in soap or b">carried</returnval>" in soap, soap

def typed(name, **fields):
    return type(name, (), {"_wsdlName": name, **fields})()

info = types.SimpleNamespace(
    key="task-noted", task=typed("Task", _moId="task-noted"), descriptionId="VirtualMachine.powerOn",
    state="success", cancelled=False, cancelable=False, reason=typed("TaskReasonSystem"),
    queueTime=datetime(2030, 1, 1, tzinfo=timezone.utc), eventChainId=1, vismockNote="carried",
)
assert task_info_dict(info)["vismockNote"] == "carried", task_info_dict(info)
print("carried")
"""


def test_the_shipped_model_is_the_xsd_s_sequence() -> None:
    names = [slot.name for slot in task_info_model().slots]
    assert names[:5] == ["key", "Task", "description", "name", "descriptionId"]
    assert "ManagedEntity" in names and "TaskReason" in names and names[-1] == "activationId"
    assert task_info_model().by_vim25_name("entity").name == "ManagedEntity"


@pytest.mark.slow
def test_a_field_added_to_the_xsd_is_carried_everywhere_without_another_edit(tmp_path: Path) -> None:
    layout = tmp_path / "layout" / "vismock"
    layout.mkdir(parents=True)
    for item in (ROOT / "src" / "vismock").glob("*.py"):
        (layout / item.name).symlink_to(item)
    for package, folder in PACKAGE_DIRS.items():
        (layout / package).symlink_to(ROOT / folder, target_is_directory=True)
    schemas = layout / "schemas"
    shutil.copytree(ROOT / "schemas", schemas, ignore=shutil.ignore_patterns("__pycache__"))
    xsd = schemas / "vim25-adapter.xsd"
    text = xsd.read_text()
    anchor = '      <xs:element name="activationId" type="xs:string" minOccurs="0"/>\n'
    assert anchor in text
    xsd.write_text(text.replace(anchor, anchor + NEW_FIELD))
    vim25 = schemas / "vim25" / "model.json"
    model = json.loads(vim25.read_text())
    model["data"]["TaskInfo"][1].append(["vismockNote", "string", False, True, "9.0", False])
    vim25.write_text(json.dumps(model))
    task_file = tmp_path / "tasks.yaml"
    task_file.write_text("tasks:\n  - {id: task-noted, name: PowerOnVM_Task, vismockNote: carried}\n")
    result = subprocess.run(
        [sys.executable, "-c", CARRY, str(schemas), str(task_file), str(tmp_path / "s.sqlite3"),
         str(ROOT / "tests" / "data" / "seed" / "request.xml")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(layout.parent), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "carried"
