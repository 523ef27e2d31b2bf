"""The SOAP face driven by the real client, pyVmomi, over a real socket."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pyVim.connect import SmartConnect
from pyVim.task import WaitForTask, WaitForTasks
from pyVmomi import SoapStubAdapter, vim, vmodl

from tests.support.soap import T0, USER, LiveServer, clock_moves_later

PropertyCollector = vmodl.query.PropertyCollector


def task(si: Any, task_id: str) -> Any:
    return vim.Task(task_id, si._stub)


def advance_later(live: LiveServer, *seconds: float) -> threading.Thread:
    """Advance the mock's clock by each of *seconds* in turn, each once the waiter blocks again."""
    return clock_moves_later(live.backend, *seconds)


def test_smart_connect_reads_the_service_content(si: Any) -> None:
    about = si.content.about
    assert about.apiType == "VirtualCenter"
    assert si.content.propertyCollector._moId == "propertyCollector"
    assert si.content.sessionManager.currentSession.userName == USER


@pytest.mark.parametrize(
    ("task_id", "state", "reason_type"),
    [
        ("task-ok", "queued", vim.TaskReasonUser),
        ("task-fail", "running", vim.TaskReasonUser),
        ("task-running", "running", vim.TaskReasonAlarm),
        ("task-done", "success", vim.TaskReasonSchedule),
        ("task-error", "error", vim.TaskReasonSystem),
    ],
)
def test_task_info_in_every_state_and_reason(
    si: Any, live: LiveServer, task_id: str, state: str, reason_type: Any
) -> None:
    info = task(si, task_id).info
    spec = live.backend.tasks.get(task_id)
    assert info.key == task_id and info.task._moId == task_id
    assert info.state == state
    assert isinstance(info.reason, reason_type)
    assert info.name.info.wsdlName == spec.name  # a real vim25 method name, resolved by pyVmomi
    assert info.descriptionId == spec.description_id
    assert (type(info.entity)._wsdlName, info.entity._moId) == (spec.entity_type, spec.entity_id)
    assert info.queueTime == T0


def test_task_info_details(si: Any) -> None:
    done = task(si, "task-done").info
    # A CreateSnapshot_Task's result is the snapshot, typed as the method declares it.
    assert isinstance(done.result, vim.vm.Snapshot) and done.result._moId == "snapshot-14"
    assert done.progress == 100
    assert done.description.message == "Create a snapshot of db-01"
    assert done.reason.scheduledTask._moId == "scheduledtask-7"
    alarm = task(si, "task-running").info.reason
    assert isinstance(alarm.alarm, vim.alarm.Alarm) and isinstance(alarm.entity, vim.HostSystem)
    error = task(si, "task-error").info.error
    assert isinstance(error, vim.fault.FileFault)
    assert error.msg == "Insufficient disk space on datastore 'datastore1'."


def test_wait_for_task_to_success_through_the_running_state(si: Any, live: LiveServer) -> None:
    # queued -> running (pyVim then reads the VM's runtime.question) -> success.
    advance_later(live, 5, 5)
    assert WaitForTask(task(si, "task-ok")) == "success"


def test_wait_for_task_to_error(si: Any, live: LiveServer) -> None:
    advance_later(live, 10)
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(task(si, "task-fail"))


def test_wait_for_task_on_a_task_that_moves_with_polls(si: Any) -> None:
    assert WaitForTask(task(si, "task-polls")) == "success"


def test_wait_for_tasks_on_several(si: Any, live: LiveServer) -> None:
    tasks = [task(si, name) for name in ("task-ok", "task-queued", "task-done")]
    results: list[Any] = []
    advance_later(live, 5, 3600)
    WaitForTasks(tasks, results=results)
    typed = sorted((type(result).__name__, result._moId) for result in results if result is not None)
    assert typed == [("vim.VirtualMachine", "vm-13"), ("vim.vm.Snapshot", "snapshot-14")]
    assert {one.info.state for one in tasks} == {"success"}


def test_retrieve_contents_of_task_info(si: Any) -> None:
    spec = PropertyCollector.FilterSpec(
        objectSet=[PropertyCollector.ObjectSpec(obj=task(si, name)) for name in ("task-done", "task-error")],
        propSet=[PropertyCollector.PropertySpec(type=vim.Task, pathSet=["info"])],
    )
    contents = si.content.propertyCollector.RetrieveContents([spec])
    assert [content.obj._moId for content in contents] == ["task-done", "task-error"]
    assert [content.propSet[0].val.state for content in contents] == ["success", "error"]


def test_retrieve_properties_ex_pages(si: Any) -> None:
    collector = si.content.propertyCollector
    names = ["task-ok", "task-done", "task-error"]
    spec = PropertyCollector.FilterSpec(
        objectSet=[PropertyCollector.ObjectSpec(obj=task(si, name)) for name in names],
        propSet=[PropertyCollector.PropertySpec(type=vim.Task, pathSet=["info.state"])],
    )
    result = collector.RetrievePropertiesEx([spec], PropertyCollector.RetrieveOptions(maxObjects=2))
    seen = [content.obj._moId for content in result.objects]
    while result.token:
        result = collector.ContinueRetrievePropertiesEx(result.token)
        seen += [content.obj._moId for content in result.objects]
    assert seen == names


def test_wait_for_updates_ex_times_out_with_none(si: Any) -> None:
    collector = si.content.propertyCollector
    spec = PropertyCollector.FilterSpec(
        objectSet=[PropertyCollector.ObjectSpec(obj=task(si, "task-queued"))],
        propSet=[PropertyCollector.PropertySpec(type=vim.Task, pathSet=["info.state"])],
    )
    property_filter = collector.CreateFilter(spec, True)
    options = PropertyCollector.WaitOptions(maxWaitSeconds=0)
    first = collector.WaitForUpdatesEx("", options)
    assert first.filterSet[0].objectSet[0].changeSet[0].val == "queued"
    assert collector.WaitForUpdatesEx(first.version, options) is None
    property_filter.Destroy()


def test_cancel_task(si: Any) -> None:
    long_task = task(si, "task-long")
    long_task.CancelTask()
    info = long_task.info
    assert (info.state, info.cancelled) == ("error", True)
    assert isinstance(info.error, vmodl.fault.RequestCanceled)
    with pytest.raises(vmodl.fault.RequestCanceled):
        WaitForTask(long_task)
    with pytest.raises(vim.fault.InvalidState):
        long_task.CancelTask()
    with pytest.raises(vmodl.fault.NotSupported):
        task(si, "task-done").CancelTask()


def test_recent_tasks(si: Any, live: LiveServer) -> None:
    recent = si.content.taskManager.recentTask
    assert [one._moId for one in recent] == [spec.id for spec in live.backend.tasks.specs()]


def test_wrong_password_raises_invalid_login(live: LiveServer) -> None:
    with pytest.raises(vim.fault.InvalidLogin):
        SmartConnect(protocol="http", host=live.host, port=live.port, user=USER, pwd="wrong")


def test_unknown_task_raises_managed_object_not_found(si: Any) -> None:
    with pytest.raises(vmodl.fault.ManagedObjectNotFound) as raised:
        _ = task(si, "task-99999").info
    assert raised.value.obj._moId == "task-99999"


def test_a_call_without_a_session_raises_not_authenticated(live: LiveServer) -> None:
    stub = SoapStubAdapter(url=f"{live.url}/sdk", version="vim.version.v8_0_3_0")
    with pytest.raises(vim.fault.NotAuthenticated):
        _ = vim.Task("task-ok", stub).info


def test_an_unserved_method_raises_method_not_found(si: Any) -> None:
    with pytest.raises(vmodl.fault.MethodNotFound):
        si.content.searchIndex.FindByInventoryPath("Datacenter/vm/win1").UpgradeTools_Task()
