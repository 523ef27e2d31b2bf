"""vim25 faults as exceptions: the one module of them, shared by both faces of the mock and the adapter.

Each carries the vim25 fault type name (``ManagedObjectNotFound``) and a message
in vCenter's words; the adapter face renders them in ``metadata/fault`` and
``metadata/error``, the SOAP face as a SOAP fault with a ``<{type}Fault>`` detail.
"""

from __future__ import annotations

from typing import ClassVar

from vismock.errors import VismockError


class VimFault(VismockError):
    """A vim25 fault. ``fault_type`` is its vim25 type name."""

    fault_type = "SystemError"
    given_fields: tuple[tuple[str, str], ...] = ()  # a fault made by name (fault_named) may carry them

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> tuple[tuple[str, str], ...]:
        """The fault's own vim25 fields, in schema order, as (name, text) pairs: what a task's error
        keeps of it (``existingState``...) so that the SOAP face can send it whole."""
        return self.given_fields


class ManagedObjectNotFound(VimFault):
    fault_type = "ManagedObjectNotFound"

    def __init__(self, mo_type: str, mo_id: str, message: str | None = None) -> None:
        gone = (
            f"The object 'vim.{mo_type}:{mo_id}' has already been deleted or has not been completely created"
        )
        super().__init__(message or gone)
        self.mo_type = mo_type
        self.mo_id = mo_id


class VirtualMachineNotFound(ManagedObjectNotFound):
    """No virtual machine has the name an operation was given (the adapter names VMs by name)."""

    def __init__(self, name: str) -> None:
        super().__init__("VirtualMachine", name, f"There is no virtual machine named {name!r}")
        self.name = name


class TaskNotFound(ManagedObjectNotFound):
    def __init__(self, task_id: str) -> None:
        super().__init__("Task", task_id)
        self.task_id = task_id


class InvalidLogin(VimFault):
    fault_type = "InvalidLogin"

    def __init__(
        self, message: str = "Cannot complete login due to an incorrect user name or password."
    ) -> None:
        super().__init__(message)


class NotAuthenticated(VimFault):
    fault_type = "NotAuthenticated"

    def __init__(self, message: str = "The session is not authenticated.") -> None:
        super().__init__(message)


class InvalidState(VimFault):
    fault_type = "InvalidState"


class NotSupported(VimFault):
    fault_type = "NotSupported"


class InvalidPowerState(InvalidState):
    """The VM's power state does not allow the operation (vCenter's message names the state)."""

    fault_type = "InvalidPowerState"
    STATE_WORDS: ClassVar[dict[str, str]] = {
        "poweredOn": "Powered on",
        "poweredOff": "Powered off",
        "suspended": "Suspended",
    }

    def __init__(self, requested_state: str | None, existing_state: str) -> None:
        words = self.STATE_WORDS.get(existing_state, existing_state)
        super().__init__(f"The attempted operation cannot be performed in the current state ({words}).")
        self.requested_state = requested_state
        self.existing_state = existing_state

    def fields(self) -> tuple[tuple[str, str], ...]:
        requested = () if self.requested_state is None else (("requestedState", self.requested_state),)
        return (*requested, ("existingState", self.existing_state))


class TaskInProgress(VimFault):
    """The entity is busy with another task (*task_id*)."""

    fault_type = "TaskInProgress"

    def __init__(self, task_id: str, message: str = "Another task is already in progress.") -> None:
        super().__init__(message)
        self.task_id = task_id

    def fields(self) -> tuple[tuple[str, str], ...]:
        return (("task", self.task_id),)


class InvalidRequest(VimFault):
    fault_type = "InvalidRequest"


class MethodNotFound(VimFault):
    fault_type = "MethodNotFound"

    def __init__(self, method: str) -> None:
        super().__init__(f"Method {method!r} is not implemented by vismock")
        self.method = method


class RequestCanceled(VimFault):
    fault_type = "RequestCanceled"

    def __init__(self, message: str = "The task was canceled by a user.") -> None:
        super().__init__(message)


class HostUnreachable(VimFault):
    """The vCenter at soap-url could not be reached (adapter side)."""

    fault_type = "HostCommunication"


class RequestTimedOut(VimFault):
    fault_type = "RequestTimeout"


class InvalidProperty(VimFault):
    fault_type = "InvalidProperty"

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message or f"Property {name!r} is not served by vismock")
        self.name = name


class InvalidCollectorVersion(VimFault):
    fault_type = "InvalidCollectorVersion"

    def __init__(self, message: str = "The collector version is not valid for this session.") -> None:
        super().__init__(message)


class InvalidArgument(VimFault):
    fault_type = "InvalidArgument"

    def __init__(self, message: str, invalid_property: str | None = None) -> None:
        super().__init__(message)
        self.invalid_property = invalid_property


def fault_named(fault_type: str, message: str, fields: tuple[tuple[str, str], ...] = ()) -> VimFault:
    """A fault of any vim25 type by name (an injected fault, a task's error): its message and
    fields (vim25 names, schema order) kept."""
    fault = VimFault(message)
    fault.fault_type = fault_type
    fault.given_fields = fields
    return fault
