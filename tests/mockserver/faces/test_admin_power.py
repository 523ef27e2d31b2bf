"""The admin API's inventory writes, operation behaviours and overrides (power operations)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

import vismock.codec as codec
from vismock.mockserver.state import Backend


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def power_off(client: FlaskClient, vm: str = "win1") -> dict[str, Any]:
    body = codec.encode(
        {
            "operation-type": "Basic_Vm",
            "operation-name": "Power_Off_VM",
            "parameters": {"virtual-machine": vm},
        }
    )
    return codec.decode(client.post("/adapter", data=body, content_type="text/xml").data)


def test_the_inventory_shows_each_vms_power_now(client: FlaskClient, backend: Backend) -> None:
    task_id = power_off(client)["PowerOffVM_TaskResponse"]["Task"]
    win1 = ok(client.get("/_vismock/inventory/vm-601"))
    assert (win1["powerState"], win1["runningTask"], win1["recentTask"]) == ("poweredOn", task_id, [task_id])
    backend.advance(2)
    listed = {entity["id"]: entity for entity in ok(client.get("/_vismock/inventory"))["entities"]}
    assert (listed["vm-601"]["powerState"], listed["vm-601"]["runningTask"]) == ("poweredOff", None)


def test_patch_sets_a_power_state_and_refuses_while_busy(client: FlaskClient) -> None:
    shown = ok(client.patch("/_vismock/inventory/vm-1005", json={"powerState": "poweredOn"}))
    assert shown["powerState"] == "poweredOn" and shown["bootTime"].endswith("Z")
    task_id = power_off(client)["PowerOffVM_TaskResponse"]["Task"]
    busy = ok(client.patch("/_vismock/inventory/vm-601", json={"powerState": "suspended"}), 409)
    assert busy["fault"] == "TaskInProgress" and task_id in busy["error"]
    assert (
        "template"
        in ok(client.patch("/_vismock/inventory/vm-900", json={"powerState": "poweredOn"}), 400)["error"]
    )
    assert ok(client.patch("/_vismock/inventory/vm-404", json={"powerState": "poweredOn"}), 404)["error"]
    assert (
        "unknown field 'power'"
        in ok(client.patch("/_vismock/inventory/vm-601", json={"power": "x"}), 400)["error"]
    )


def test_put_replaces_the_inventory_until_reset(client: FlaskClient) -> None:
    document = {
        "datacenters": [{"name": "DC9", "hosts": [{"name": "esx9", "vms": [{"name": "solo", "id": "vm-9"}]}]}]
    }
    entities = ok(client.put("/_vismock/inventory", json=document))["entities"]
    assert [e["name"] for e in entities if e["type"] == "VirtualMachine"] == ["solo"]
    assert "PowerOffVM_TaskResponse" in power_off(client, "solo")
    assert power_off(client, "win1")["metadata"]["fault"] == "ManagedObjectNotFound"
    bad = ok(
        client.put("/_vismock/inventory", json={"datacenters": [{"name": "x", "hosts": [{"vms": []}]}]}), 400
    )
    assert bad["error"] == "field datacenters[0].hosts[0].name: is required"
    ok(client.post("/_vismock/reset", content_type="application/json"))
    assert ok(client.get("/_vismock/inventory/vm-601"))["name"] == "win1"


def test_operations_are_set_one_or_all(client: FlaskClient, backend: Backend) -> None:
    assert ok(client.get("/_vismock/operations")) == {"operations": {}}
    instant = {"timeline": [{"state": "success", "at": 0}]}
    shown = ok(client.put("/_vismock/operations/Power_Off_VM", json=instant))["operations"]
    assert list(shown) == ["PowerOffVM_Task"] and shown["PowerOffVM_Task"]["timeline"] == [
        {"state": "success", "at": 0}
    ]
    power_off(client)
    assert backend.inventory.power("vm-601").state == "poweredOff"  # at once
    ok(client.put("/_vismock/operations", json={"default": instant}))
    assert list(ok(client.get("/_vismock/operations"))["operations"]) == ["default"]
    bad = ok(client.put("/_vismock/operations", json={"Power_Off": instant}), 400)
    assert bad["error"].startswith("admin API: Power_Off: 'Power_Off' is not a power operation")


def test_overrides_are_added_listed_consumed_and_deleted(client: FlaskClient, backend: Backend) -> None:
    scripted = {
        "operation": "Power_Off_VM",
        "vm": "win1",
        "fault": "InvalidState",
        "after": 2,
        "progression": "polls",
    }
    (added,) = ok(client.post("/_vismock/overrides", json=scripted), 201)["overrides"]
    assert (added["operation"], added["vm"], added["times"], added["progression"]) == (
        "PowerOffVM_Task",
        "win1",
        1,
        "polls",
    )
    assert added["timeline"][-1] == {
        "state": "error",
        "at": 2,
        "fault": "InvalidState",
        "message": "The operation is not allowed in the current state.",
    }
    assert ok(client.get("/_vismock/overrides"))["overrides"] == [added]
    task_id = power_off(client)["PowerOffVM_TaskResponse"]["Task"]
    assert [backend.tasks.info(task_id)["state"] for _ in range(3)] == ["running", "running", "error"]
    assert ok(client.get("/_vismock/overrides"))["overrides"] == []
    (second,) = ok(client.post("/_vismock/overrides", json=[{"fault": "Timedout", "times": None}]), 201)[
        "overrides"
    ]
    assert ok(client.delete(f"/_vismock/overrides/{second['id']}"))["deleted"] == second["id"]
    assert ok(client.delete(f"/_vismock/overrides/{second['id']}"), 404)
    bad = ok(client.post("/_vismock/overrides", json={"vm": "win1"}), 400)
    assert "needs a timeline, or a fault" in bad["error"]


@pytest.mark.parametrize("path", ["/_vismock/journal?entity=vm-601", "/_vismock/journal/count?entity=vm-601"])
def test_the_journal_filters_by_entity(client: FlaskClient, path: str) -> None:
    power_off(client)
    power_off(client, "files-01")
    found = ok(client.get(path))
    if "entries" in found:
        assert [(e["operation"], e["entity"]) for e in found["entries"]] == [("Power_Off_VM", "vm-601")]
    else:
        assert found["count"] == 1
