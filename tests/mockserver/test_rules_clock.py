"""Rules of the mock's clock (docs/tasks.md "The clock", docs/mock.md "The clock"), through the
admin API over HTTP, the SOAP face's CurrentTime and the tasks both faces show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.client import T0, Vcenter


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


STEPS = ({"state": "queued"}, {"state": "running", "at": 5, "progress": 20}, {"state": "success", "at": 60})


def test_freeze_stops_the_clock_where_asked_and_every_face_reads_it(vcenter: Vcenter) -> None:
    assert vcenter.freeze("2031-02-03T04:05:06.5Z") == datetime(2031, 2, 3, 4, 5, 6, 500000, tzinfo=UTC)
    clock = vcenter.ok("GET", "clock")
    assert (vcenter.now(), clock["frozen"]) == (datetime(2031, 2, 3, 4, 5, 6, 500000, tzinfo=UTC), True)
    assert vcenter.soap().current_time() == datetime(2031, 2, 3, 4, 5, 6, 500000, tzinfo=UTC)
    assert vcenter.now() == vcenter.now()  # frozen: it does not move


def test_advance_moves_a_frozen_clock_forward(vcenter: Vcenter) -> None:
    assert vcenter.advance(90.5) == at(90.5)
    assert vcenter.advance(0) == at(90.5)
    assert vcenter.soap().current_time() == at(90.5)


def test_the_clock_never_moves_backwards_by_advance(vcenter: Vcenter) -> None:
    for body in ({"seconds": -1}, {"seconds": "soon"}, {}):
        status, message = vcenter.refused("POST", "clock/advance", body)
        assert status == 400 and "seconds" in message
    assert vcenter.now() == T0


def test_an_advance_is_at_most_a_century_and_the_clock_stays_before_year_9000(vcenter: Vcenter) -> None:
    century = 100 * 365 * 86_400
    assert vcenter.refused("POST", "clock/advance", {"seconds": century + 1})[0] == 400
    assert vcenter.now() == T0
    vcenter.freeze("8999-01-01T00:00:00Z")
    assert vcenter.refused("POST", "clock/advance", {"seconds": 365 * 86_400})[0] == 400
    assert vcenter.now() == datetime(8999, 1, 1, tzinfo=UTC)  # the refused advance left no trace


@pytest.mark.parametrize(
    "at_text", ["2030-01-01T00:00:00", "9999-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "tomorrow"]
)
def test_freeze_refuses_a_time_without_a_zone_or_outside_1970_to_8999(vcenter: Vcenter, at_text: str) -> None:
    assert vcenter.refused("POST", "clock/freeze", {"at": at_text})[0] == 400
    assert vcenter.now() == T0


def test_resume_runs_on_from_where_the_clock_stands(vcenter: Vcenter) -> None:
    vcenter.advance(30)
    resumed = vcenter.resume()
    assert at(30) <= resumed < at(31)
    assert vcenter.ok("GET", "clock")["frozen"] is False
    later = vcenter.now()
    assert at(30) <= later < at(90)  # running again, from 00:00:30, never back to real time
    advanced = vcenter.advance(3600)  # advance works on a running clock too
    assert advanced >= later + timedelta(seconds=3600)
    assert vcenter.freeze(None) >= advanced  # freeze without a time: where it stands


def test_reset_makes_the_clock_real_again(vcenter: Vcenter) -> None:
    vcenter.reset()
    clock = vcenter.ok("GET", "clock")
    assert clock["frozen"] is False
    assert abs(vcenter.now() - datetime.now(UTC)) < timedelta(seconds=60)


def test_freezing_before_a_task_that_has_run_shows_what_it_was_then(vcenter: Vcenter) -> None:
    vcenter.add_task("task-early", *STEPS)  # queued at T0
    vcenter.advance(90)
    assert vcenter.task("task-early").state == "success"
    vcenter.freeze(at(10))  # back in time, after its queueTime: the state it had at 00:00:10
    view = vcenter.soap().task("task-early")
    assert (view.state, view.progress, view.queue_time, view.start_time, view.complete_time) == (
        "running",
        20,
        T0,
        at(5),
        None,
    )


def test_freezing_before_a_task_was_queued_starts_it_over_then(vcenter: Vcenter) -> None:
    vcenter.advance(30)
    vcenter.add_task("task-late", *STEPS)  # queued at 00:00:30
    vcenter.advance(40)
    vcenter.freeze(at(20))
    view = vcenter.task("task-late")
    assert (view.state, view.queue_time, view.start_time) == ("queued", at(20), None)
    vcenter.advance(5)
    assert vcenter.task("task-late").start_time == at(25)


@pytest.mark.parametrize(
    ("progression", "steps"),
    [
        ("polls", ({"state": "running", "at": 0}, {"state": "success", "at": 1})),
        ("manual", ({"state": "queued"}, {"state": "running"}, {"state": "success"})),
    ],
)
def test_a_task_that_recorded_anything_after_the_new_now_starts_over(
    vcenter: Vcenter, progression: str, steps: tuple[dict[str, object], ...]
) -> None:
    vcenter.add_task("task-x", *steps, progression=progression)
    vcenter.advance(50)
    if progression == "manual":
        vcenter.advance_task("task-x", 2)
    else:
        vcenter.task("task-x")
        vcenter.task("task-x")
    assert vcenter.peek("task-x").state == "success"  # finished at 00:00:50
    vcenter.freeze(at(20))
    view = vcenter.peek("task-x")
    assert view.queue_time == at(20)
    assert view.state == steps[0]["state"]
    assert all(moment <= at(20) for moment in view.times())


def test_a_cancelled_task_cancelled_after_the_new_now_starts_over(vcenter: Vcenter) -> None:
    vcenter.add_task("task-c", *STEPS, cancelable=True)
    vcenter.advance(10)
    assert vcenter.soap().cancel("task-c") is None
    vcenter.freeze(at(7))
    view = vcenter.task("task-c")
    assert (view.cancelled, view.queue_time) == (False, at(7))


def test_no_task_info_ever_shows_a_time_after_now(vcenter: Vcenter) -> None:
    timeline = ({"state": "queued"}, {"state": "running", "at": 3}, {"state": "success", "at": 12})
    for number in range(4):
        vcenter.add_task(f"task-{number}", *timeline)
        vcenter.advance(5)
    soap = vcenter.soap()
    for back in (17, 9, 4, 0):
        now = vcenter.freeze(at(back))
        for number in range(4):
            for view in (vcenter.task(f"task-{number}"), soap.task(f"task-{number}")):
                assert all(moment <= now for moment in view.times()), (back, view)


def test_time_tasks_follow_a_running_clock(vcenter: Vcenter) -> None:
    vcenter.add_task("task-run", {"state": "running", "at": 0}, {"state": "success", "at": 0.2})
    vcenter.resume()
    vcenter.advance(0.2)  # the clock runs: at least 0.2 s later already
    assert vcenter.task("task-run").state == "success"
