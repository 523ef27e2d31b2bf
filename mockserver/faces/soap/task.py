"""Task: its ``info`` (and every ``info.<field>``, from the TaskInfo model) and CancelTask."""

from __future__ import annotations

from vismock.codec.taskinfo import task_info_model
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, PropertyReader, managed_type
from vismock.mockserver.faces.soap.wire import MoRef, Value
from vismock.mockserver.state.tasks import TaskRead


def load_task(call: Call, ref: MoRef, poll: bool) -> TaskRead:
    """The task's TaskInfo now (TaskNotFound for an unknown task, unless dynamic mode makes one)."""
    read = call.backend.tasks.read(ref.value, poll=poll)
    call.observation.holds_until(read.until_us)
    return read


task = managed_type("Task", load=load_task)


@task.property("info", default=True)
def info(call: Call, ref: MoRef, loaded: TaskRead) -> Value:
    return wire.task_info_value(loaded.info, loaded.fault_fields)


def _field_reader(vim25_name: str) -> PropertyReader:
    def read(call: Call, ref: MoRef, loaded: TaskRead) -> Value | None:
        return wire.task_info_field(loaded.info, vim25_name, loaded.fault_fields)

    return read


for _slot in task_info_model().slots:
    task.property(f"info.{_slot.vim25_name}")(_field_reader(_slot.vim25_name))


@task.method("CancelTask")
def cancel_task(call: Call) -> None:
    call.backend.tasks.cancel(call.this.value)
