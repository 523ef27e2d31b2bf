"""Rules of a canned task's lifecycle (docs/tasks.md), pinned through a client's eyes: the admin
API over HTTP, the adapter face's envelopes and raw SOAP envelopes. No test here reads the state's
objects, so a rewrite of the state layer is held to these rules, not to its own code
(tests/mockserver/RULES.md maps each rule to its tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.client import T0, TaskView, Vcenter


def at(seconds: float) -> datetime:
    """T0 (where the tests freeze the clock) plus *seconds*."""
    return T0 + timedelta(seconds=seconds)


CLONE = {"name": "CloneVM_Task", "descriptionId": "VirtualMachine.clone"}
TIMED = (
    {"state": "queued", "at": 0},
    {"state": "running", "at": 2, "progress": 0},
    {"state": "running", "at": 5, "progress": 50},
    {"state": "success", "at": 9, "progress": 100, "result": "vm-9"},
)


def both_faces(vcenter: Vcenter, task_id: str) -> tuple[TaskView, TaskView]:
    """The task read once on each face (two polls)."""
    return vcenter.task(task_id), vcenter.soap().task(task_id)


# -- progression by time --------------------------------------------------------------------------


def test_a_task_is_queued_until_its_first_step_is_reached(vcenter: Vcenter) -> None:
    vcenter.add_task("task-q", {"state": "running", "at": 3, "progress": 10}, {"state": "success", "at": 6})
    vcenter.advance(2.999)
    for view in both_faces(vcenter, "task-q"):
        assert (view.state, view.progress, view.start_time) == ("queued", None, None)
        assert view.queue_time == T0
    vcenter.advance(0.001)
    assert vcenter.task("task-q").state == "running"


def test_time_steps_are_reached_when_the_clock_passes_their_offset(vcenter: Vcenter) -> None:
    vcenter.add_task("task-t", *TIMED, **CLONE)
    seen = []
    for moment in (0, 1.999999, 2, 4.9, 5, 8.999999, 9, 10_000):
        vcenter.freeze(at(moment))
        view = vcenter.task("task-t")
        seen.append((view.state, view.progress))
    assert seen == [
        ("queued", None),
        ("queued", None),
        ("running", 0),
        ("running", 0),
        ("running", 50),
        ("running", 50),
        ("success", 100),
        ("success", 100),
    ]


def test_start_and_complete_times_are_the_queue_time_plus_their_steps_offsets(vcenter: Vcenter) -> None:
    vcenter.add_task("task-t", *TIMED, **CLONE)
    vcenter.advance(6)
    running = vcenter.task("task-t")
    assert (running.start_time, running.complete_time, running.result) == (at(2), None, None)
    vcenter.advance(60)
    for done in both_faces(vcenter, "task-t"):
        assert (done.state, done.result) == ("success", "vm-9")
        assert (done.queue_time, done.start_time, done.complete_time) == (T0, at(2), at(9))


def test_an_error_step_shows_its_fault_and_message_and_system_error_by_default(vcenter: Vcenter) -> None:
    vcenter.add_task(
        "task-e",
        {"state": "running", "at": 0},
        {"state": "error", "at": 1, "fault": "FileFault", "message": "full"},
    )
    vcenter.add_task("task-plain", {"state": "error", "at": 0})
    vcenter.advance(1)
    for view in both_faces(vcenter, "task-e"):
        assert (view.state, view.fault, view.message, view.cancelled) == ("error", "FileFault", "full", False)
    for view in both_faces(vcenter, "task-plain"):
        assert (view.state, view.fault) == ("error", "SystemError")


def test_a_fixed_queue_time_is_kept(vcenter: Vcenter) -> None:
    vcenter.add_task("task-fixed", {"state": "success", "at": 4}, queueTime="2029-06-01T12:00:00.5Z")
    view = vcenter.soap().task("task-fixed")
    assert view.queue_time is not None and view.queue_time.isoformat() == "2029-06-01T12:00:00.500000+00:00"
    assert view.complete_time == view.queue_time + timedelta(seconds=4)


def test_both_faces_show_the_same_task_info(vcenter: Vcenter) -> None:
    vcenter.add_task(
        "task-same",
        *TIMED,
        **CLONE,
        reason={"user": "bmc"},
        cancelable=True,
        eventChainId=42,
        entity={"type": "VirtualMachine", "id": "vm-9", "name": "nine"},
    )
    for seconds in (0, 3, 6, 60):
        vcenter.freeze(at(seconds))
        adapter, soap = both_faces(vcenter, "task-same")
        assert adapter == soap
        assert (soap.entity, soap.entity_name, soap.user, soap.event_chain_id) == (
            "VirtualMachine:vm-9",
            "nine",
            "bmc",
            42,
        )


# -- progression by polls ----------------------------------------------------------------------------


POLLED = ({"state": "queued", "at": 0}, {"state": "running", "at": 1}, {"state": "success", "at": 4})


def test_by_polls_each_read_shows_what_the_earlier_reads_reached(vcenter: Vcenter) -> None:
    vcenter.add_task("task-p", *POLLED, progression="polls")
    soap = vcenter.soap()
    # Reads alternate between the faces: a poll is a poll wherever it comes from.
    states = [(vcenter.task if n % 2 else soap.task)("task-p").state for n in range(6)]
    assert states == ["queued", "running", "running", "running", "success", "success"]


def test_a_peek_is_not_a_poll(vcenter: Vcenter) -> None:
    vcenter.add_task("task-p", *POLLED, progression="polls")
    for _ in range(10):
        vcenter.peek("task-p")
        vcenter.ok("GET", "tasks")
    assert vcenter.task("task-p").state == "queued"  # the first client read
    assert vcenter.task("task-p").state == "running"


def test_by_polls_start_and_complete_are_when_a_read_first_showed_them(vcenter: Vcenter) -> None:
    vcenter.add_task("task-p", *POLLED, progression="polls")
    vcenter.task("task-p")
    vcenter.advance(7)
    running = vcenter.task("task-p")  # the second read: running, seen first now
    assert (running.state, running.start_time) == ("running", at(7))
    vcenter.task("task-p")
    vcenter.advance(3)
    vcenter.task("task-p")
    vcenter.advance(5)
    done = vcenter.task("task-p")  # the fifth read: success, at 15 s
    assert (done.state, done.start_time, done.complete_time) == ("success", at(7), at(15))
    vcenter.advance(100)
    later = vcenter.soap().task("task-p")
    assert (later.start_time, later.complete_time) == (at(7), at(15))


def test_a_polls_task_ignores_the_clock(vcenter: Vcenter) -> None:
    vcenter.add_task("task-p", *POLLED, progression="polls")
    vcenter.advance(3600)
    assert vcenter.task("task-p").state == "queued"


# -- progression by hand --------------------------------------------------------------------------------


MANUAL = ({"state": "queued"}, {"state": "running", "progress": 50}, {"state": "success", "result": "vm-2"})


def test_a_manual_task_stays_queued_until_advanced(vcenter: Vcenter) -> None:
    vcenter.add_task("task-m", *MANUAL, progression="manual")
    vcenter.advance(3600)
    for _ in range(3):
        assert vcenter.task("task-m").state == "queued"
    vcenter.advance(10)
    advanced = vcenter.advance_task("task-m")
    assert (advanced.state, advanced.progress, advanced.start_time) == ("running", 50, at(3610))
    vcenter.advance(5)
    vcenter.advance_task("task-m", 5)  # never past the last step
    for view in both_faces(vcenter, "task-m"):
        assert (view.state, view.result, view.start_time, view.complete_time) == (
            "success",
            "vm-2",
            at(3610),
            at(3615),
        )


def test_a_manual_task_whose_first_step_runs_has_started_when_loaded(vcenter: Vcenter) -> None:
    vcenter.advance(4)
    vcenter.add_task(
        "task-m", {"state": "running", "progress": 5}, {"state": "success"}, progression="manual"
    )
    view = vcenter.task("task-m")
    assert (view.state, view.progress, view.start_time) == ("running", 5, at(4))


def test_only_a_manual_task_can_be_advanced(vcenter: Vcenter) -> None:
    vcenter.add_task("task-t", *TIMED)
    status, message = vcenter.refused("POST", "tasks/task-t/advance", {"steps": 1})
    assert status == 409 and "manual" in message
    vcenter.add_task("task-m", *MANUAL, progression="manual")
    assert vcenter.refused("POST", "tasks/task-m/advance", {"steps": 0})[0] == 400
    assert vcenter.refused("POST", "tasks/task-404/advance", {"steps": 1})[0] == 404
    assert vcenter.task("task-m").state == "queued"


# -- cancel ---------------------------------------------------------------------------------------------


def test_cancel_freezes_the_task_where_it_was(vcenter: Vcenter) -> None:
    vcenter.add_task("task-c", *TIMED, **CLONE, cancelable=True)
    soap = vcenter.soap()
    vcenter.advance(6)  # running at 50 %
    assert soap.cancel("task-c") is None
    expected = ("error", True, "RequestCanceled", "The task was canceled by a user.", 50, None)
    for seconds in (0, 3, 3600):  # later steps (90 %, success at 9 s) never come
        vcenter.advance(seconds)
        for view in (*both_faces(vcenter, "task-c"), vcenter.peek("task-c")):
            assert (
                view.state,
                view.cancelled,
                view.fault,
                view.message,
                view.progress,
                view.result,
            ) == expected
            assert (view.start_time, view.complete_time) == (at(2), at(6))


def test_a_cancelled_polls_task_stays_where_it_was(vcenter: Vcenter) -> None:
    steps = (
        {"state": "running", "at": 0, "progress": 10},
        {"state": "running", "at": 2, "progress": 70},
        {"state": "success", "at": 3},
    )
    vcenter.add_task("task-cp", *steps, progression="polls", cancelable=True)
    vcenter.task("task-cp")
    assert vcenter.soap().cancel("task-cp") is None
    views = [vcenter.task("task-cp") for _ in range(4)]
    assert {(view.state, view.cancelled, view.progress) for view in views} == {("error", True, 10)}


def test_a_cancelled_manual_task_no_longer_advances(vcenter: Vcenter) -> None:
    vcenter.add_task("task-cm", *MANUAL, progression="manual", cancelable=True)
    vcenter.advance_task("task-cm")
    vcenter.advance(1)
    assert vcenter.soap().cancel("task-cm") is None
    vcenter.advance_task("task-cm")
    view = vcenter.task("task-cm")
    assert (view.state, view.cancelled, view.progress, view.result) == ("error", True, 50, None)
    assert view.complete_time == at(1)


def test_a_queued_task_can_be_cancelled_before_it_starts(vcenter: Vcenter) -> None:
    vcenter.add_task("task-cq", *TIMED, cancelable=True)
    assert vcenter.soap().cancel("task-cq") is None
    vcenter.advance(60)
    view = vcenter.task("task-cq")
    assert (view.state, view.cancelled, view.start_time, view.complete_time) == ("error", True, None, T0)


def test_cancel_of_a_finished_task_is_invalid_state(vcenter: Vcenter) -> None:
    vcenter.add_task("task-f", {"state": "success", "at": 1}, cancelable=True)
    soap = vcenter.soap()
    vcenter.advance(1)
    fault = soap.cancel("task-f")
    assert fault is not None and fault.type == "InvalidState"
    assert vcenter.task("task-f").state == "success"  # unchanged
    vcenter.add_task("task-c", *TIMED, cancelable=True)
    assert soap.cancel("task-c") is None
    again = soap.cancel("task-c")  # a cancelled task has finished too
    assert again is not None and again.type == "InvalidState"


def test_cancel_of_a_task_that_is_not_cancelable_is_not_supported(vcenter: Vcenter) -> None:
    vcenter.add_task("task-n", *TIMED)  # cancelable defaults to false
    vcenter.advance(3)
    fault = vcenter.soap().cancel("task-n")
    assert fault is not None and fault.type == "NotSupported"
    view = vcenter.task("task-n")
    assert (view.state, view.cancelled, view.progress) == ("running", False, 0)


def test_cancel_of_an_unknown_task_is_managed_object_not_found(vcenter: Vcenter) -> None:
    fault = vcenter.soap().cancel("task-404")
    assert fault is not None and fault.type == "ManagedObjectNotFound"


# -- adding, replacing, restarting, deleting ------------------------------------------------------------


def test_a_task_added_is_served_at_once_on_both_faces(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    vcenter.add_task("task-new", {"state": "success"})
    assert soap.task("task-new").state == vcenter.task("task-new").state == "success"


def test_replacing_a_task_restarts_its_lifecycle_in_its_place(vcenter: Vcenter) -> None:
    order = vcenter.task_ids()
    vcenter.add_task(order[0], *POLLED, progression="polls")
    for _ in range(5):
        vcenter.task(order[0])
    vcenter.advance(10)
    vcenter.add_task(order[0], *POLLED, progression="polls")
    view = vcenter.task(order[0])
    assert (view.state, view.queue_time) == ("queued", at(10))
    assert vcenter.task_ids() == order  # replaced where it stood


def test_restart_starts_the_lifecycle_over(vcenter: Vcenter) -> None:
    vcenter.add_task("task-r", *TIMED)
    vcenter.advance(30)
    assert vcenter.task("task-r").state == "success"
    restarted = TaskView.from_admin(vcenter.ok("POST", "tasks/task-r/restart")["info"])
    assert (restarted.state, restarted.queue_time) == ("queued", at(30))
    assert vcenter.refused("POST", "tasks/task-404/restart")[0] == 404


def test_a_deleted_task_is_not_found_on_either_face(vcenter: Vcenter) -> None:
    vcenter.add_task("task-d", {"state": "success"})
    assert vcenter.ok("DELETE", "tasks/task-d") == {"deleted": "task-d"}
    answer = vcenter.status("task-d")
    assert (answer.status, answer.fault) == ("error", "ManagedObjectNotFound")
    fault = vcenter.soap().fault("Fetch", "Task", "task-d", "<prop>info</prop>")
    assert fault.type == "ManagedObjectNotFound"
    assert vcenter.refused("DELETE", "tasks/task-d")[0] == 404


# -- reading several tasks at once; unknown tasks -------------------------------------------------------


def test_several_tasks_answer_one_returnval_each_in_request_order(vcenter: Vcenter) -> None:
    vcenter.add_task("task-a", {"state": "success"})
    vcenter.add_task("task-b", {"state": "running"})
    answer = vcenter.status("task-b", "task-a", "task-b")
    assert answer.status == "success"
    assert [(view.key, view.state) for view in answer.tasks] == [
        ("task-b", "running"),
        ("task-a", "success"),
        ("task-b", "running"),
    ]
    assert [view.key for view in vcenter.soap().tasks("task-b", "task-a")] == ["task-b", "task-a"]


def test_one_unknown_task_fails_the_whole_request_naming_it(vcenter: Vcenter) -> None:
    vcenter.add_task("task-a", {"state": "success"})
    answer = vcenter.status("task-a", "task-404")
    assert (answer.http_status, answer.status, answer.fault, answer.tasks) == (
        200,
        "error",
        "ManagedObjectNotFound",
        [],
    )
    assert answer.error is not None and "task-404" in answer.error
    fault = vcenter.soap().fault("Fetch", "Task", "task-404", "<prop>info</prop>")
    assert fault.type == "ManagedObjectNotFound"
    assert fault.fields.get("obj") == "task-404"


# -- duplicate task ids ---------------------------------------------------------------------------------


def test_duplicate_task_ids_in_one_admin_request_are_refused_and_nothing_is_added(vcenter: Vcenter) -> None:
    before = vcenter.task_ids()
    task = {"id": "task-dup", "name": "PowerOnVM_Task"}
    status, message = vcenter.refused("POST", "tasks", [task, {**task, "name": "PowerOffVM_Task"}])
    assert status == 400 and "duplicate task id 'task-dup'" in message
    assert vcenter.task_ids() == before
