"""vim25 faults as exceptions: the one module of them, shared by both faces of the mock and the adapter.

Each carries the vim25 fault type name (``ManagedObjectNotFound``) and a message
in vCenter's words; the adapter face renders them in ``metadata/fault`` and
``metadata/error``, the SOAP face as a SOAP fault with a ``<{type}Fault>`` detail.
"""

from __future__ import annotations

from vismock.errors import VismockError


class VimFault(VismockError):
    """A vim25 fault. ``fault_type`` is its vim25 type name."""

    fault_type = "SystemError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ManagedObjectNotFound(VimFault):
    fault_type = "ManagedObjectNotFound"

    def __init__(self, mo_type: str, mo_id: str) -> None:
        super().__init__(
            f"The object 'vim.{mo_type}:{mo_id}' has already been deleted or has not been completely created"
        )
        self.mo_type = mo_type
        self.mo_id = mo_id


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


def fault_named(fault_type: str, message: str) -> VimFault:
    """A fault of any vim25 type by name (an injected fault, a task's error): its message kept."""
    fault = VimFault(message)
    fault.fault_type = fault_type
    return fault
