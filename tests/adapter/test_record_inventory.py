"""The inventory document the recorder writes (vismock.adapter.recording.inventory): no network.

The objects are what a walk of a vCenter hands over; the document must load as a scenario's
``inventory:`` (entities_from_document), and say what it leaves out.
"""

from __future__ import annotations

from typing import Any

from vismock.adapter.recording.inventory import Found, inventory_document
from vismock.mockserver.state.inventory import entities_from_document


def objects(*found: Found) -> dict[str, Found]:
    return {item.id: item for item in found}


def datacenter_tree(*extra: Found, vm_folder_children: tuple[str, ...] = ("vm-1",)) -> dict[str, Found]:
    """group-d1 > Folder "east" > datacenter-2 with a host folder holding a folder holding a cluster."""
    return objects(
        Found("Folder", "group-d1", "Datacenters", {"childEntity": ["group-e"]}),
        Found("Folder", "group-e", "east", {"childEntity": ["datacenter-2"]}),
        Found(
            "Datacenter",
            "datacenter-2",
            "DC/1",
            {
                "vmFolder": "group-v3",
                "hostFolder": "group-h4",
                "datastoreFolder": "group-s5",
                "networkFolder": "group-n6",
            },
        ),
        Found("Folder", "group-v3", "vm", {"childEntity": list(vm_folder_children)}),
        Found("Folder", "group-h4", "host", {"childEntity": ["group-h9"]}),
        Found("Folder", "group-h9", "racks", {"childEntity": ["domain-c1", "domain-s2"]}),
        Found("ClusterComputeResource", "domain-c1", "Prod", {"host": ["host-1"]}),
        Found("ComputeResource", "domain-s2", "esx2", {"host": ["host-2"]}),
        Found("HostSystem", "host-1", "esx1"),
        Found("HostSystem", "host-2", "esx2"),
        Found("Folder", "group-s5", "datastore", {"childEntity": ["ds-1", "ds-1", "pod-1"]}),
        Found("StoragePod", "pod-1", "pod", {"childEntity": ["ds-2"]}),
        Found("Datastore", "ds-1", "local"),
        Found("Datastore", "ds-2", "shared"),
        Found("Folder", "group-n6", "network", {"childEntity": ["network-1", "dvs-1"]}),
        Found("Network", "network-1", "VM Network"),
        Found("VmwareDistributedVirtualSwitch", "dvs-1", "DSwitch"),
        Found(
            "VirtualMachine", "vm-1", "web", {"powerState": "poweredOn", "host": "host-1", "template": False}
        ),
        *extra,
    )


def test_the_document_loads_and_flattens_what_the_format_cannot_hold() -> None:
    recorded = inventory_document(datacenter_tree(), "group-d1")
    (datacenter,) = recorded.document["datacenters"]
    assert datacenter["name"] == "DC%2f1"  # vCenter's escape: a name cannot hold '/'
    assert datacenter["datastores"] == [{"name": "local", "id": "ds-1"}, {"name": "shared", "id": "ds-2"}]
    assert datacenter["networks"] == [{"name": "VM Network", "id": "network-1"}]
    assert datacenter["clusters"] == [
        {
            "name": "Prod",
            "id": "domain-c1",
            "hosts": [
                {"name": "esx1", "id": "host-1", "vms": [{"name": "web", "id": "vm-1", "power": "poweredOn"}]}
            ],
        }
    ]
    assert datacenter["hosts"] == [{"name": "esx2", "id": "host-2"}]
    assert recorded.counts == {"datacenters": 1, "hosts": 2, "vms": 1}
    assert recorded.notes == (
        "not recorded (folders around datacenters; what they hold is kept): east",
        "not recorded (VmwareDistributedVirtualSwitch): DSwitch",
        "not recorded (host folders; what they hold is kept): racks",
    )
    entities = entities_from_document(recorded.document)
    assert {entity.id for entity in entities} >= {
        "datacenter-2",
        "domain-c1",
        "host-1",
        "host-2",
        "vm-1",
        "ds-2",
    }


def test_vm_folders_templates_and_vms_without_a_host() -> None:
    extra = (
        Found("Folder", "group-v7", "prod", {"childEntity": ["group-v8", "group-v10"]}),
        Found("Folder", "group-v8", "web", {"childEntity": ["vm-2", "vm-3"]}),
        Found("Folder", "group-v10", "empty", {"childEntity": []}),
        Found(
            "VirtualMachine", "vm-2", "gold", {"powerState": "poweredOff", "host": "host-2", "template": True}
        ),
        Found("VirtualMachine", "vm-3", "orphan", {"powerState": "poweredOff", "host": None}),
        Found("VirtualApp", "resgroup-v1", "app"),
    )
    recorded = inventory_document(
        datacenter_tree(*extra, vm_folder_children=("vm-1", "group-v7", "resgroup-v1")), "group-d1"
    )
    (datacenter,) = recorded.document["datacenters"]
    vms: list[dict[str, Any]] = datacenter["hosts"][0]["vms"]
    assert vms == [
        {"name": "gold", "id": "vm-2", "power": "poweredOff", "template": True, "folder": "prod/web"}
    ]
    assert "not recorded (empty VM folders): prod/empty" in recorded.notes
    assert "not recorded (VMs whose host is not in the inventory): orphan" in recorded.notes
    assert "not recorded (VirtualApp): app" in recorded.notes
    entities_from_document(recorded.document)


GIB = 1024**3


def test_each_vm_host_and_datastore_is_recorded_with_its_short_declaration() -> None:
    """What the server said of a VM's hardware and guest becomes the scenario's few words
    (docs/inventory.md); what the file cannot hold is noted, and the document loads."""
    details = {
        "template": False,
        "cpu": 4,
        "cores_per_socket": 2,
        "memory_mb": 8192,
        "disks_kb": [40 * 1024 * 1024, 1024],  # 40 GB, and 1 MB (rounded up to 1 GB)
        "nics": ["network-1", None],  # the second on a distributed port group
        "guest_os": "rhel9_64Guest",
        "annotation": "the web tier",
        "ip": "10.1.2.3",
        "hostname": "web.lab",
        "datastores": ["ds-2"],
    }
    odd = {**details, "cpu": 3, "guest_os": "rhel42_64Guest", "ip": "not an ip", "nics": [None]}
    extra = (
        Found("VirtualMachine", "vm-1", "web", {"powerState": "poweredOn", "host": "host-1", **details}),
        Found("VirtualMachine", "vm-2", "odd", {"powerState": "poweredOff", "host": "host-1", **odd}),
        Found("HostSystem", "host-1", "esx1", {"cpu_cores": 24, "memory_bytes": 512 * GIB}),
        Found("Datastore", "ds-2", "shared", {"capacity_bytes": 1536 * GIB + 1}),
    )
    recorded = inventory_document(datacenter_tree(*extra, vm_folder_children=("vm-1", "vm-2")), "group-d1")
    (datacenter,) = recorded.document["datacenters"]
    assert datacenter["datastores"][1] == {"name": "shared", "id": "ds-2", "capacity_gb": 1536}
    (host,) = datacenter["clusters"][0]["hosts"]
    assert (host["cpu_cores"], host["memory_gb"]) == (24, 512)
    web, odd_vm = host["vms"]
    assert web == {
        "name": "web",
        "id": "vm-1",
        "power": "poweredOn",
        "cpu": 4,
        "cores_per_socket": 2,
        "memory_mb": 8192,
        "disks": [40, 1],
        "nics": ["VM Network"],
        "guest_os": "rhel9_64Guest",
        "annotation": "the web tier",
        "hostname": "web.lab",
        "ip": "10.1.2.3",
        "datastore": "shared",
    }
    # 3 CPUs in sockets of 2 is no declaration vismock takes; nor an unknown guestId or IP; a VM
    # whose only NIC is on a port group keeps a NIC (the replay's: on the first network).
    assert odd_vm == {
        "name": "odd",
        "id": "vm-2",
        "power": "poweredOff",
        "cpu": 3,
        "memory_mb": 8192,
        "disks": [40, 1],
        "annotation": "the web tier",
        "hostname": "web.lab",
        "datastore": "shared",
    }
    assert "sizes not a whole number of GB (rounded): shared, web, odd" in recorded.notes
    assert "cores per socket that do not divide the CPUs left out: odd" in recorded.notes
    assert "guest IP addresses that are not one left out: odd" in recorded.notes
    assert (
        "NICs on networks the file cannot hold (distributed port groups) left out: web, odd" in recorded.notes
    )
    assert "guest OS 'rhel42_64Guest' unknown to vismock (the default is recorded): odd" in recorded.notes
    entities = {entity.id: entity for entity in entities_from_document(recorded.document)}
    assert (entities["vm-1"].props["cpu"], entities["vm-1"].props["cores_per_socket"]) == (4, 2)


def test_without_details_a_vm_is_recorded_as_before() -> None:
    """A server that did not say (no config served): name, power state, folder only."""
    recorded = inventory_document(datacenter_tree(), "group-d1")
    (datacenter,) = recorded.document["datacenters"]
    assert datacenter["clusters"][0]["hosts"][0]["vms"] == [
        {"name": "web", "id": "vm-1", "power": "poweredOn"}
    ]
