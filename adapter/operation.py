"""Monitor_Vm / Retrieve_Task_Status as a function of a request dict and a task source.

The mock's adapter face calls it with its own store as the source; the
command-line operation calls it with a vCenter reached over SOAP. Both
therefore answer the same envelope for the same task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from vismock.faults import VimFault


class TaskSource(Protocol):
    """Where TaskInfo comes from: the mock's store, or a vCenter over SOAP."""

    def task_info(self, task_id: str) -> dict[str, Any]:
        """The task's TaskInfo in vismock.codec's dict form; raises a VimFault."""
        ...


def requested_tasks(request: Mapping[str, Any]) -> list[str]:
    """The task ids of a decoded Retrieve_Task_Status request, in request order."""
    object_sets = request["parameters"]["spec-set"]["object-set"]
    return [str(entry["task"]) for entry in object_sets]


def success_response(infos: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    returnvals = [
        {"Task": info["Task"], "propSet": {"name": "info", "TaskInfo": dict(info)}} for info in infos
    ]
    return {"metadata": {"status": "success"}, "RetrieveTaskStatusResponse": {"returnval": returnvals}}


def error_response(
    message: str,
    fault: str | None = None,
    details: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An error envelope; *details* are ``{"path", "line", "reason"}`` dicts."""
    metadata: dict[str, Any] = {"status": "error", "error": message}
    if fault:
        metadata["fault"] = fault
    detail_list = [dict(detail) for detail in details]
    if detail_list:
        metadata["error-detail"] = detail_list
    return {"metadata": metadata}


def retrieve_task_status(request: Mapping[str, Any], source: TaskSource) -> dict[str, Any]:
    """The response envelope (as a dict) for a decoded request.

    Every requested task is read in order; if any read fails the whole request
    fails with that fault (as vCenter's RetrieveProperties does), its message
    naming the task.
    """
    try:
        infos = [source.task_info(task_id) for task_id in requested_tasks(request)]
    except VimFault as fault:
        return error_response(fault.message, fault.fault_type)
    return success_response(infos)
