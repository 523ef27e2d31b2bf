"""TaskManager: ``recentTask``: the tasks of the task file and the admin API, and the newest tasks
operations created (vCenter keeps "the last 200 completed")."""

from __future__ import annotations

from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.service_instance import TASK_MANAGER
from vismock.mockserver.faces.soap.wire import MoRef, Value

task_manager = managed_type("TaskManager", singleton=TASK_MANAGER.value)


@task_manager.property("recentTask", default=True)
def recent_task(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.moref_array([MoRef("Task", task_id) for task_id in call.backend.power.recent_task_ids()])
