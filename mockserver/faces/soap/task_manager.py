"""TaskManager: ``recentTask``, every task the mock holds."""

from __future__ import annotations

from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.service_instance import TASK_MANAGER
from vismock.mockserver.faces.soap.wire import MoRef, Value

task_manager = managed_type("TaskManager", singleton=TASK_MANAGER.value)


@task_manager.property("recentTask", default=True)
def recent_task(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.moref_array([MoRef("Task", spec.id) for spec in call.backend.tasks.specs()])
