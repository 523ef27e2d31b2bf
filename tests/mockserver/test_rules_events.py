"""Rules of the events derived from tasks (docs/soap.md "Events"): one TaskEvent per task, newest
first, as the task was when queued, placed where its entity sits; through QueryEvents."""

from __future__ import annotations

from lxml import etree

from tests.support.client import NS, Soap, Vcenter

EVERYTHING = '<entity><entity type="Folder">group-d1</entity><recursion>all</recursion></entity>'


def events(soap: Soap, event_filter: str = EVERYTHING) -> list[etree._Element]:
    answer = soap.ok("QueryEvents", "EventManager", "EventManager", f"<filter>{event_filter}</filter>")
    return list(answer.iterfind("v:returnval", NS))


def text(event: etree._Element, path: str) -> str | None:
    return event.findtext(path, namespaces=NS)


def test_every_task_has_one_task_event_newest_first(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    loaded = vcenter.task_ids()
    found = events(soap)
    assert [text(event, "v:info/v:key") for event in found] == list(reversed(loaded))
    assert {event.get("{http://www.w3.org/2001/XMLSchema-instance}type") for event in found} == {"TaskEvent"}
    keys = [int(text(event, "v:key") or 0) for event in found]
    assert keys == sorted(keys, reverse=True)


def test_a_new_task_s_event_is_the_newest_and_shows_the_task_as_queued(vcenter: Vcenter) -> None:
    vcenter.ok(
        "PUT", "operations/default", {"timeline": [{"state": "queued"}, {"state": "success", "at": 1}]}
    )
    soap = vcenter.soap("vismock")
    task = soap.power("vm-601", "PowerOffVM_Task")
    vcenter.advance(5)
    newest = events(soap, EVERYTHING + "<maxCount>1</maxCount>")[0]
    assert (text(newest, "v:info/v:key"), text(newest, "v:info/v:state")) == (task, "queued")
    assert text(newest, "v:createdTime") == text(newest, "v:info/v:queueTime") == "2030-01-01T00:00:00Z"
    assert text(newest, "v:userName") == "vismock"
    assert text(newest, "v:fullFormattedMessage") == "Task: VirtualMachine.powerOff"
    assert (text(newest, "v:vm/v:vm"), text(newest, "v:vm/v:name")) == ("vm-601", "win1")
    assert text(newest, "v:host/v:name") == "esx01.lab.local"
    assert text(newest, "v:datacenter/v:name") == "Datacenter"


def test_a_replaced_task_keeps_its_place_and_a_deleted_one_has_no_event(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    order = [text(event, "v:info/v:key") for event in events(soap)]
    vcenter.add_task(order[-1] or "", {"state": "success"}, description="replaced")
    vcenter.ok("DELETE", f"tasks/{order[0]}")
    after = events(soap)
    assert [text(event, "v:info/v:key") for event in after] == order[1:]
    assert text(after[-1], "v:fullFormattedMessage") == "Task: replaced"


def test_an_entity_filter_selects_the_events_about_it(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    mine = soap.power("vm-601", "PowerOffVM_Task")
    soap.power("vm-525", "PowerOffVM_Task")
    about_win1 = '<entity><entity type="VirtualMachine">vm-601</entity><recursion>self</recursion></entity>'
    assert [text(event, "v:info/v:key") for event in events(soap, about_win1)] == [mine]
