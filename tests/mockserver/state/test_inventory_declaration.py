"""A VM declared in a few words (cpu, memory, disks, NICs, guest OS, IP, datastore) becomes a VM as
vCenter shapes it; a bad declaration is refused naming file, line and field."""

from __future__ import annotations

import pytest

from vismock.mockserver.state import Backend, taskfile
from vismock.mockserver.state.taskfile import TaskFileError

SCENARIO = """\
tasks: []
inventory:
  datacenters:
    - name: DC0
      datastores: [{name: fast, capacity_gb: 100}, {name: slow}]
      networks: [{name: prod}, {name: backup}]
      hosts:
        - name: esx-a
          cpu_cores: 8
          memory_gb: 64
          vms:
            - name: web
              id: vm-7
              cpu: 4
              cores_per_socket: 2
              memory_mb: 8192
              disks: [40, 10]
              nics: [prod, backup]
              guest_os: rhel9_64Guest
              ip: 10.1.2.3
              hostname: web.example
              annotation: the web server
              datastore: slow
            - {name: bare, id: vm-8, power: poweredOff}
"""


@pytest.fixture
def backend() -> Backend:
    scenario = taskfile.parse_yaml(SCENARIO, "s.yaml")
    return Backend(tasks=scenario.tasks, inventory=scenario.inventory or ())


def test_the_declared_hardware_is_the_vm_configuration(backend: Backend) -> None:
    web = backend.inventory.vm("vm-7")
    assert web.read("config.hardware.numCPU") == 4
    assert web.read("config.hardware.numCoresPerSocket") == 2
    assert web.read("config.hardware.memoryMB") == 8192
    assert web.read("config.guestId") == "rhel9_64Guest"
    assert web.read("config.guestFullName") == "Red Hat Enterprise Linux 9 (64-bit)"
    assert web.read("config.annotation") == "the web server"
    devices = web.read("config.hardware.device")
    disks = [d for d in devices if d.type == "VirtualDisk"]
    assert [d.capacityInKB for d in disks] == [40 * 1024**2, 10 * 1024**2]
    assert [d.backing.fileName for d in disks] == ["[slow] web/web.vmdk", "[slow] web/web_1.vmdk"]
    slow = backend.inventory.named("slow", "Datastore")[0].id
    assert {d.backing.datastore.value for d in disks} == {slow} and web.get("datastore")[0].value == slow
    nics = [d for d in devices if d.type == "VirtualVmxnet3"]
    assert [n.backing.deviceName for n in nics] == ["prod", "backup"]
    assert len({n.macAddress for n in nics}) == 2 and all(n.macAddress.startswith("00:50:56:") for n in nics)
    assert {d.type for d in devices} >= {"ParaVirtualSCSIController", "VirtualCdrom", "VirtualIDEController"}


def test_one_source_for_each_fact(backend: Backend) -> None:
    web = backend.inventory.vm("vm-7")
    summary = web.read("summary")
    assert (summary.config.numCpu, summary.config.memorySizeMB) == (4, 8192)
    assert (summary.config.numVirtualDisks, summary.config.numEthernetCards) == (2, 2)
    assert summary.config.vmPathName == web.read("config.files.vmPathName") == "[slow] web/web.vmx"
    assert summary.runtime == web.read("runtime")
    assert summary.storage.committed == web.read("storage.perDatastoreUsage")[0].committed
    store = backend.inventory.object(web.get("datastore")[0].value)
    layout = web.read("layoutEx")
    assert sum(f.size for f in layout.file) == summary.storage.committed
    assert store.read("summary.freeSpace") == store.read("summary.capacity") - summary.storage.committed


def test_the_guest_reports_its_address_only_while_it_runs(backend: Backend) -> None:
    web = backend.inventory.vm("vm-7")
    assert (web.read("guest.ipAddress"), web.read("guest.hostName")) == ("10.1.2.3", "web.example")
    assert web.read("guest.toolsRunningStatus") == "guestToolsRunning"
    assert web.read("summary.guest.ipAddress") == "10.1.2.3"
    backend.inventory.set_power_state("vm-7", "poweredOff")
    assert web.read("guest.ipAddress") is None and web.read("summary.guest.ipAddress") is None
    assert web.read("guest.toolsRunningStatus") == "guestToolsNotRunning"
    assert web.read("summary.quickStats.guestHeartbeatStatus") == "gray"


def test_uuids_are_derived_from_the_id_and_stable(backend: Backend) -> None:
    again = Backend(inventory=taskfile.parse_yaml(SCENARIO, "s.yaml").inventory or ())
    assert backend.inventory.identity("vm-7") == again.inventory.identity("vm-7")
    assert backend.inventory.identity("vm-7") != backend.inventory.identity("vm-8")


def test_an_undeclared_vm_gets_consistent_defaults(backend: Backend) -> None:
    bare = backend.inventory.vm("vm-8")
    assert bare.read("config.hardware.numCPU") == 1 and bare.read("config.hardware.memoryMB") == 1024
    fast = backend.inventory.named("fast", "Datastore")[0]
    assert bare.get("datastore")[0].value == fast.id  # the datacenter's first
    assert bare.read("config.files.vmPathName") == "[fast] bare/bare.vmx"
    assert bare.read("guest.ipAddress") is None


def test_hosts_and_datastores_are_declared_briefly_too(backend: Backend) -> None:
    host = backend.inventory.named("esx-a", "HostSystem")[0]
    summary = backend.inventory.object(host.id).read("summary")
    assert summary.hardware.numCpuCores == 8 and summary.hardware.memorySize == 64 * 1024**3
    assert summary.config.name == "esx-a"
    fast = backend.inventory.object(backend.inventory.named("fast", "Datastore")[0].id)
    assert fast.read("summary.capacity") == 100 * 1024**3
    assert {mount.key.value for mount in fast.read("host")} == {host.id}


def test_the_admin_api_view_shows_the_declaration_back(backend: Backend) -> None:
    shown = backend.inventory.get("vm-7").props
    assert (shown["cpu"], shown["memory_mb"], shown["disks_gb"]) == (4, 8192, (40, 10))
    assert (shown["guest_os"], shown["ip"], shown["hostname"]) == ("rhel9_64Guest", "10.1.2.3", "web.example")


@pytest.mark.parametrize(
    ("line", "replacement", "field", "reason"),
    [
        ("              cpu: 4", "              cpu: four", "cpu", "whole number"),
        ("              cpu: 4", "              cpu: 3", "cores_per_socket", "sockets of 2"),
        ("              disks: [40, 10]", "              disks: [40, 0]", "disks[1]", "disk size"),
        ("              nics: [prod, backup]", "              nics: [prod, dmz]", "nics[1]", "'dmz'"),
        ("              guest_os: rhel9_64Guest", "              guest_os: rhel99", "guest_os", "guestId"),
        ("              ip: 10.1.2.3", "              ip: 10.1.2", "ip", "not an IPv4"),
        ("              datastore: slow", "              datastore: nas", "datastore", "fast, slow"),
        ("              memory_mb: 8192", "              memory: 8192", "memory", "unknown field"),
    ],
)
def test_a_bad_declaration_names_file_line_and_field(
    line: str, replacement: str, field: str, reason: str
) -> None:
    assert line in SCENARIO
    changed = SCENARIO.replace(line, replacement)
    with pytest.raises(TaskFileError) as raised:
        taskfile.parse_yaml(changed, "s.yaml")
    message = str(raised.value)
    key = field.split("[")[0] + ":"
    expected = next(n for n, text in enumerate(changed.splitlines(), 1) if text.strip().startswith(key))
    assert message.startswith(f"s.yaml:{expected}: "), message
    assert field in message and reason in message, message
