"""VirtualMachine: the power methods (PowerOnVM_Task, PowerOffVM_Task, ResetVM_Task,
SuspendVM_Task) and the properties they change.

Each method creates a task through the power part of the state (:mod:`vismock.mockserver.state.power`)
and answers its reference, as vCenter does: the work happens in the task. Where each vim25 error
goes (docs/power.md):

* raised by the method (a SOAP fault, no task): ManagedObjectNotFound (no such VM), NotSupported
  (a template);
* reported in the task (it fails at once): TaskInProgress (another task runs on the VM, named in
  the fault), InvalidPowerState (the power state does not allow the method).

A VM's properties are read from the inventory with its power state *now* (derived from its latest
task), and a read says until when it holds (the task's next step on the mock's clock), so
remembered answers and WaitForUpdates see the state change exactly when the task succeeds.
"""

from __future__ import annotations

from lxml import etree

from vismock import power
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.entities import ENTITY_TYPES, load_entity
from vismock.mockserver.faces.soap.objects import Call, Handler
from vismock.mockserver.faces.soap.wire import MoRef, Value
from vismock.mockserver.state.models import Entity

virtual_machine = ENTITY_TYPES["VirtualMachine"]


def load_vm(call: Call, ref: MoRef, poll: bool) -> Entity:
    """The VM with its power now (``powerState``, ``bootTime``, ``recentTask`` among its props);
    a VM a task names but the inventory does not hold answers its name only."""
    entity = load_entity(call, ref, poll)
    if call.backend.inventory.find(entity.id) is None:
        return entity
    now = call.backend.power.of(entity.id)
    call.observation.holds_until(now.until_us)
    boot = None if now.boot_time is None else wire.format_datetime(now.boot_time)
    recent = tuple(call.backend.power.recent(entity.id))
    return entity.with_properties(powerState=now.state, bootTime=boot, recentTask=recent)


virtual_machine.load = load_vm


# -- the power methods -----------------------------------------------------------------------------


def _power_method(name: str) -> Handler:
    def start(call: Call) -> Value:
        started = call.backend.power.start(call.this.value, name, user=call.user)
        call.observation.task_ids = (started.task_id,)
        return wire.moref_value(MoRef("Task", started.task_id))

    start.__name__ = start.__qualname__ = name
    return virtual_machine.method(name)(start)


for _method in power.METHODS:
    _power_method(_method)


# -- properties ------------------------------------------------------------------------------------


def _power_state(vm: Entity) -> str:
    return str(vm.props.get("powerState", power.POWERED_ON))


def _fill_runtime(vm: Entity) -> wire.Fill:
    def fill(element: etree._Element) -> None:
        host = vm.props.get("host")
        if host is not None:
            wire.sub_moref(element, "host", MoRef("HostSystem", str(host)))
        wire.sub(element, "connectionState", "connected")
        wire.sub(element, "powerState", _power_state(vm))
        # vim25 requires these four (the model says so; a strict client reads them): a plain VM's.
        wire.sub(element, "faultToleranceState", "notConfigured")
        wire.sub(element, "toolsInstallerMounted", "false")
        boot = vm.props.get("bootTime")
        if boot is not None:
            wire.sub(element, "bootTime", str(boot))
        wire.sub(element, "numMksConnections", "0")
        wire.sub(element, "recordReplayState", "inactive")
        wire.sub(element, "onlineStandby", "false")
        wire.sub(element, "consolidationNeeded", "false")

    return fill


@virtual_machine.property("runtime", default=True)
def runtime(call: Call, ref: MoRef, vm: Entity) -> Value:
    return Value("VirtualMachineRuntimeInfo", _fill_runtime(vm))


@virtual_machine.property("runtime.powerState")
@virtual_machine.property("summary.runtime.powerState")
def power_state(call: Call, ref: MoRef, vm: Entity) -> Value:
    return wire.text_value("VirtualMachinePowerState", _power_state(vm))


@virtual_machine.property("runtime.host")
def runtime_host(call: Call, ref: MoRef, vm: Entity) -> Value | None:
    host = vm.props.get("host")
    return None if host is None else wire.moref_value(MoRef("HostSystem", str(host)))


@virtual_machine.property("runtime.connectionState")
def connection_state(call: Call, ref: MoRef, vm: Entity) -> Value:
    return wire.text_value("VirtualMachineConnectionState", "connected")


@virtual_machine.property("runtime.bootTime")
def boot_time(call: Call, ref: MoRef, vm: Entity) -> Value | None:
    boot = vm.props.get("bootTime")
    return None if boot is None else wire.text_value("xsd:dateTime", str(boot))


@virtual_machine.property("recentTask")
def recent_task(call: Call, ref: MoRef, vm: Entity) -> Value:
    return wire.moref_array([MoRef("Task", str(task_id)) for task_id in vm.props.get("recentTask", ())])


def _vm_path(call: Call, vm: Entity) -> str:
    """Where the VM's files are: ``[datastore1] win1/win1.vmx``."""
    stores = vm.props.get("datastore") or ()
    store = call.backend.inventory.find(str(stores[0])) if stores else None
    return f"[{store.name if store else 'datastore1'}] {vm.name}/{vm.name}.vmx"


def _fill_config_summary(call: Call, vm: Entity) -> wire.Fill:
    def fill(element: etree._Element) -> None:
        wire.sub(element, "name", vm.name)
        wire.sub(element, "template", wire.bool_text(bool(vm.props.get("template"))))
        wire.sub(element, "vmPathName", _vm_path(call, vm))

    return fill


@virtual_machine.property("summary")
def summary(call: Call, ref: MoRef, vm: Entity) -> Value:
    def fill(element: etree._Element) -> None:
        wire.sub_moref(element, "vm", MoRef("VirtualMachine", vm.id))
        _fill_runtime(vm)(wire.sub(element, "runtime"))
        # A VM without VMware Tools, as the mock's are: no IP address or host name to report.
        guest = wire.sub(element, "guest")
        wire.sub(guest, "toolsStatus", "toolsNotInstalled")
        wire.sub(guest, "toolsRunningStatus", "guestToolsNotRunning")
        _fill_config_summary(call, vm)(wire.sub(element, "config"))
        stats = wire.sub(element, "quickStats")
        wire.sub(stats, "guestHeartbeatStatus", "green" if _power_state(vm) == power.POWERED_ON else "gray")
        wire.sub(element, "overallStatus", "green")

    return Value("VirtualMachineSummary", fill)


@virtual_machine.property("summary.runtime")
def summary_runtime(call: Call, ref: MoRef, vm: Entity) -> Value:
    return Value("VirtualMachineRuntimeInfo", _fill_runtime(vm))


@virtual_machine.property("summary.config")
def summary_config(call: Call, ref: MoRef, vm: Entity) -> Value:
    return Value("VirtualMachineConfigSummary", _fill_config_summary(call, vm))


@virtual_machine.property("summary.config.name")
@virtual_machine.property("config.name")
def config_name(call: Call, ref: MoRef, vm: Entity) -> Value:
    return wire.text_value("xsd:string", vm.name)


@virtual_machine.property("summary.config.template")
@virtual_machine.property("config.template")
def template(call: Call, ref: MoRef, vm: Entity) -> Value:
    return wire.text_value("xsd:boolean", wire.bool_text(bool(vm.props.get("template"))))
