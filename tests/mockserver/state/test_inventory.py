"""The inventory: declared in the scenario file (errors with file:line), stored, reset, served."""

from __future__ import annotations

from pathlib import Path

import pytest

from vismock.mockserver.state import Backend, taskfile
from vismock.mockserver.state.backend import EntityNotFound
from vismock.mockserver.state.inventory import ROOT_FOLDER_ID
from vismock.mockserver.state.taskfile import TaskFileError
from vismock.mockserver.vim25.values import MoRef

SCENARIO = """\
tasks: []
inventory:
  datacenters:
    - name: DC0
      clusters:
        - name: C1
          hosts:
            - name: esx-a
              vms:
                - {name: web, power: poweredOff, folder: prod/front}
                - {name: gold, template: true, power: poweredOff}
      hosts:
        - name: esx-b
          id: host-77
          vms: [{name: db, id: vm-5}]
"""


def test_the_scenario_file_declares_a_vcenter_shaped_inventory() -> None:
    entities = {entity.id: entity for entity in taskfile.parse_yaml(SCENARIO, "s.yaml").inventory or ()}
    by_name = {entity.name: entity for entity in entities.values()}
    root = entities[ROOT_FOLDER_ID]
    assert (root.type, root.name, root.parent) == ("Folder", "Datacenters", None)
    datacenter = by_name["DC0"]
    assert datacenter.parent == ROOT_FOLDER_ID
    folders = {entities[datacenter.props[key]].name: key for key in ("vmFolder", "hostFolder")}
    assert folders == {"vm": "vmFolder", "host": "hostFolder"}
    web = by_name["web"]
    assert (web.type, web.props["powerState"], web.props["template"]) == (
        "VirtualMachine",
        "poweredOff",
        False,
    )
    assert entities[web.parent].name == "front" and entities[entities[web.parent].parent].name == "prod"
    assert by_name["gold"].props["template"] is True
    assert by_name["db"].id == "vm-5" and by_name["db"].props["powerState"] == "poweredOn"  # the default
    assert by_name["db"].props["host"] == "host-77"
    cluster = by_name["C1"]
    assert cluster.type == "ClusterComputeResource" and entities[cluster.props["host"][0]].name == "esx-a"
    standalone = entities[entities["host-77"].parent]  # a standalone host sits in its ComputeResource
    assert (standalone.type, standalone.name, standalone.props["host"]) == (
        "ComputeResource",
        "esx-b",
        ("host-77",),
    )
    assert {entity.type for entity in entities.values()} >= {"Datastore", "Network", "ResourcePool"}


@pytest.mark.parametrize(
    ("vm", "field", "reason"),
    [
        ("{name: x, power: running}", "power", "'running' is not one of poweredOn, poweredOff, suspended"),
        ("{name: x, template: true}", "power", "a template is powered off"),
        ("{name: x, colour: red}", "colour", "unknown field 'colour'"),
        ("{power: poweredOn}", "name", "is required"),
        ("{name: a/b}", "name", "cannot hold '/'"),
    ],
)
def test_a_bad_vm_is_refused_with_file_line_and_field(vm: str, field: str, reason: str) -> None:
    text = SCENARIO.replace("{name: db, id: vm-5}", vm)
    with pytest.raises(TaskFileError) as raised:
        taskfile.parse_yaml(text, "s.yaml")
    assert raised.value.line == 15
    assert raised.value.field == f"inventory.datacenters[0].hosts[0].vms[0].{field}"
    assert reason in raised.value.reason


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(TaskFileError, match="duplicate id 'vm-5'"):
        taskfile.parse_yaml(SCENARIO.replace("{name: gold,", "{name: gold, id: vm-5,"), "s.yaml")


def test_the_built_in_inventory_has_the_seed_vm_and_bmc_s_win1() -> None:
    inventory = taskfile.load_builtin().inventory or []
    vms = {entity.name: entity for entity in inventory if entity.type == "VirtualMachine"}
    assert {"TestDev", "win1"} <= set(vms)
    assert vms["TestDev"].id == "vm-525"  # the VM of the seed request's task-525
    assert {vm.props["powerState"] for vm in vms.values()} == {"poweredOn", "poweredOff", "suspended"}
    assert any(vm.props["template"] for vm in vms.values())


def test_the_inventory_is_stored_updated_reset_and_found_by_path(tmp_path: Path) -> None:
    scenario = taskfile.parse_yaml(SCENARIO, "s.yaml")
    backend = Backend(tmp_path / "s.sqlite3", tasks=scenario.tasks, inventory=scenario.inventory or ())
    (web,) = backend.inventory.named("web", "VirtualMachine")
    assert backend.inventory.object(web.id).path() == "/DC0/vm/prod/front/web"
    find = "SearchIndex", "FindByInventoryPath"
    assert backend.invoke(*find, inventoryPath="/DC0/vm/prod/front/web") == MoRef("VirtualMachine", web.id)
    assert backend.invoke(*find, inventoryPath="/DC0/vm/nowhere") is None
    backend.inventory.set_power_state(web.id, "poweredOn")
    assert backend.inventory.get(web.id).props["powerState"] == "poweredOn"
    backend.close()
    backend = Backend(tmp_path / "s.sqlite3", tasks=scenario.tasks, inventory=scenario.inventory or ())
    assert backend.inventory.get(web.id).props["powerState"] == "poweredOn"  # stored
    backend.reset()
    assert backend.inventory.get(web.id).props["powerState"] == "poweredOff"
    with pytest.raises(EntityNotFound):
        backend.inventory.get("vm-nope")
    backend.close()


def test_a_state_file_loaded_with_another_inventory_serves_the_new_one(tmp_path: Path) -> None:
    first = taskfile.parse_yaml(SCENARIO, "s.yaml")
    Backend(tmp_path / "s.sqlite3", inventory=first.inventory or ()).close()
    again = Backend(tmp_path / "s.sqlite3", inventory=first.inventory or ())
    assert again.load_notice is None  # the same inventory: a restart keeps the live state
    again.close()
    other = taskfile.parse_yaml(SCENARIO.replace("name: web", "name: web-2"), "s.yaml")
    reopened = Backend(tmp_path / "s.sqlite3", inventory=other.inventory or ())
    assert reopened.inventory.named("web-2") and not reopened.inventory.named("web")
    assert "held another inventory" in (reopened.load_notice or "")
    reopened.close()
