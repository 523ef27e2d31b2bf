"""Monitor_Vm / Retrieve_Task_Status: the TaskInfo of each task named, in request order.

Every requested task is read in order; if any read fails the whole request fails with that fault
(as vCenter's RetrieveProperties does), its message naming the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vismock.adapter.operations import VCenter


def task_ids(request: Mapping[str, Any]) -> list[str]:
    """The task ids of a decoded request, in request order."""
    object_sets = request["parameters"]["spec-set"]["object-set"]
    return [str(entry["task"]) for entry in object_sets]


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    return returnvals(vcenter.task_info(task_id) for task_id in task_ids(request))


def returnvals(infos: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``RetrieveTaskStatusResponse``'s content: one returnval per TaskInfo."""
    return {
        "returnval": [
            {"Task": info["Task"], "propSet": {"name": "info", "TaskInfo": dict(info)}} for info in infos
        ]
    }
