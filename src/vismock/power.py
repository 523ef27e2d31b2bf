"""vim25's power operations on a VirtualMachine, as rules: which power states allow each method,
the state it leaves, and the fault (with vCenter's words) when it cannot run.

One table for everything that decides about power: the mock's state (a created task succeeds or
fails by it), the adapter's Basic_Vm operations (they check a VM the same way before starting a
task, on the mock and on any vCenter). Sources, in ``docs/power.md``: the vSphere API reference's
"Raises" lists and the field reports gathered in the project's research notes.

vCenter's rules are followed where the reference simulator (govmomi's vcsim 0.24.2) is more
permissive (it suspends a powered-off VM and resets a suspended one): a mock that lets a client
do what vCenter refuses would hide the client's bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from vismock.faults import InvalidPowerState, NotSupported, TaskInProgress, VimFault

POWERED_ON, POWERED_OFF, SUSPENDED = "poweredOn", "poweredOff", "suspended"
POWER_STATES = (POWERED_ON, POWERED_OFF, SUSPENDED)
TEMPLATE_MESSAGE = "The operation is not supported on the object."
# vCenter's localizedMessage of faults a scripted failure may name without a message of its own.
FAULT_MESSAGES = {
    "InvalidState": "The operation is not allowed in the current state.",
    "NotSupported": TEMPLATE_MESSAGE,
    "TaskInProgress": "Another task is already in progress.",
    "RequestCanceled": "The task was canceled by a user.",
    "Timedout": "Operation timed out.",
}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PowerMethod:
    """One vim25 power method of VirtualMachine."""

    name: str  # the wire name, TaskInfo.name: "PowerOffVM_Task"
    allowed: frozenset[str]  # the power states it runs from
    target: str  # the power state it leaves on success
    # InvalidPowerState.requestedState when refused: "the power state required to allow the
    # operation". Where more than one state would do (power on: off or suspended), vCenter's value
    # is not documented; the method's target is sent, as the reference simulator does.
    requested: str


METHODS: dict[str, PowerMethod] = {
    method.name: method
    for method in (
        # "If the virtual machine is suspended, this method resumes execution from the suspend point."
        PowerMethod("PowerOnVM_Task", frozenset({POWERED_OFF, SUSPENDED}), POWERED_ON, POWERED_ON),
        # A hard power-off; vSphere 5 and later power a suspended VM off too.
        PowerMethod("PowerOffVM_Task", frozenset({POWERED_ON, SUSPENDED}), POWERED_OFF, POWERED_OFF),
        # "InvalidPowerState: if the power state is not poweredOn."
        PowerMethod("SuspendVM_Task", frozenset({POWERED_ON}), SUSPENDED, POWERED_ON),
        # "InvalidPowerState: if the power state is suspended or poweredOff." (API reference, latest)
        PowerMethod("ResetVM_Task", frozenset({POWERED_ON}), POWERED_ON, POWERED_ON),
    )
}


def method(name: str) -> PowerMethod:
    """The power method *name* (``PowerOffVM_Task``) or the VIS operation running it
    (``Power_Off_VM``); KeyError naming the known ones otherwise."""
    found = METHODS.get(name) or METHODS.get(vis_operations().get(name, ""))
    if found is None:
        known = ", ".join([*METHODS, *vis_operations()])
        raise KeyError(f"{name!r} is not a power operation (known: {known})")
    return found


def vis_operations() -> dict[str, str]:
    """The VIS operations of the catalog that start a power method: ``{"Power_Off_VM":
    "PowerOffVM_Task", ...}``."""
    from vismock.schemas import task_operations

    return {operation: method for operation, method in task_operations().items() if method in METHODS}


def state_refusal(name: str, power_state: str) -> InvalidPowerState | None:
    """InvalidPowerState when *power_state* does not allow method *name*, else None."""
    power = method(name)
    if power_state in power.allowed:
        return None
    return InvalidPowerState(power.requested, power_state)


def refusal(name: str, *, power_state: str, template: bool, busy_with: str | None) -> VimFault | None:
    """Why method *name* cannot run on a VM now, or None: a template is NotSupported, a VM busy
    with another task is TaskInProgress (naming it), then the power state is checked."""
    if template:
        return NotSupported(TEMPLATE_MESSAGE)
    if busy_with is not None:
        return TaskInProgress(busy_with)
    return state_refusal(name, power_state)


def after(name: str, power_state: str) -> str:
    """The power state method *name* leaves when it succeeds from *power_state*."""
    power = method(name)
    return power.target if power_state in power.allowed else power_state


def boot_time_after(name: str, power_state: str, boot_time: T | None, finished: T) -> T | None:
    """``runtime.bootTime`` after method *name* succeeded at *finished* from *power_state*: "updated
    when the virtual machine is powered on from the poweredOff state, and is cleared when the
    virtual machine is powered off ... not updated when a virtual machine is resumed from a
    suspended state" (vim.vm.RuntimeInfo); a reset powers off, then on."""
    power = method(name)
    if power.target == POWERED_OFF:
        return None
    if power.name == "ResetVM_Task" or (power.target == POWERED_ON and power_state == POWERED_OFF):
        return finished
    return boot_time
