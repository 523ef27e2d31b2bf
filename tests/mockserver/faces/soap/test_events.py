"""EventManager and EventHistoryCollector: one TaskEvent per task, filtered, paged newest first,
scrolled. Every answer is checked against the vim25 model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import wire as vim25
from tests.support.soap import (
    backend_of,
    call_fault,
    call_ok,
    contents,
    logged_in,
    make_app,
    object_spec,
    prop_spec,
    retrieve,
    xpath,
)
from vismock.mockserver.state import TaskSpec

ROOT = '<entity><entity type="Folder">group-d1</entity><recursion>all</recursion></entity>'


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield logged_in(test_client)


def _query(client: FlaskClient, event_filter: str) -> list[tuple[str, str, str]]:
    body = call_ok(client, "QueryEvents", "EventManager", "EventManager", f"<filter>{event_filter}</filter>")
    return [
        (
            event.get(f"{{{vim25.XSI}}}type"),
            event.findtext("{urn:vim25}key"),
            event.findtext("{urn:vim25}info/{urn:vim25}key"),
        )
        for event in xpath(body, "//v:returnval")
    ]


def test_every_task_has_its_task_event_newest_first(app: Flask, client: FlaskClient) -> None:
    task_ids = [spec.id for spec in backend_of(app).tasks.specs()]
    found = _query(client, ROOT)
    assert [task for _type, _key, task in found] == list(reversed(task_ids))
    assert {event_type for event_type, _key, _task in found} == {"TaskEvent"}
    assert [int(key) for _type, key, _task in found] == sorted(
        (int(key) for _t, key, _k in found), reverse=True
    )


def test_a_task_event_is_the_task_as_queued_placed_in_the_inventory(app: Flask, client: FlaskClient) -> None:
    backend_of(app).tasks.put(
        [
            TaskSpec(
                id="task-win1",
                name="PowerOffVM_Task",
                description_id="VirtualMachine.powerOff",
                entity_type="VirtualMachine",
                entity_id="vm-601",
                entity_name="win1",
            )
        ]
    )
    body = call_ok(
        client,
        "QueryEvents",
        "EventManager",
        "EventManager",
        "<filter>" + ROOT + "<maxCount>1</maxCount></filter>",
    )
    (event,) = xpath(body, "//v:returnval")

    def field(path: str) -> str | None:
        return event.findtext(path, namespaces={"v": "urn:vim25"})

    assert field("v:info/v:key") == "task-win1"
    assert field("v:info/v:state") == "queued"  # as it was when the event was logged
    assert field("v:createdTime") == field("v:info/v:queueTime")
    assert field("v:fullFormattedMessage") == "Task: VirtualMachine.powerOff"
    assert field("v:vm/v:name") == "win1" and field("v:vm/v:vm") == "vm-601"
    assert field("v:host/v:name") == "esx01.lab.local"
    assert field("v:computeResource/v:name") == "Cluster-A"
    assert field("v:datacenter/v:name") == "Datacenter"


def test_filters_by_entity_recursion_type_and_chain(app: Flask, client: FlaskClient) -> None:
    backend_of(app).tasks.put(
        [
            TaskSpec(
                id="task-host",
                name="RebootHost_Task",
                description_id="HostSystem.reboot",
                entity_type="HostSystem",
                entity_id="host-22",
                entity_name="esx02.lab.local",
                event_chain_id=4242,
            ),
            TaskSpec(
                id="task-legacy",
                name="PowerOnVM_Task",
                description_id="VirtualMachine.powerOn",
                entity_type="VirtualMachine",
                entity_id="vm-1100",
                entity_name="legacy-01",
            ),
        ]
    )

    def tasks(event_filter: str) -> list[str]:
        return [task for _type, _key, task in _query(client, event_filter)]

    by_host = '<entity><entity type="HostSystem">host-22</entity><recursion>{}</recursion></entity>'
    assert tasks(by_host.format("self")) == ["task-host"]
    assert tasks(by_host.format("all")) == ["task-legacy", "task-host"]  # the host and its VM
    assert tasks(by_host.format("children")) == ["task-legacy", "task-host"]
    assert tasks("<eventChainId>4242</eventChainId>") == ["task-host"]
    assert tasks("<eventTypeId>VmPoweredOnEvent</eventTypeId>") == []
    assert len(tasks("<eventTypeId>TaskEvent</eventTypeId>")) == len(backend_of(app).tasks.specs())
    assert (
        call_fault(
            client,
            "QueryEvents",
            "EventManager",
            "EventManager",
            '<filter><alarm type="Alarm">alarm-1</alarm></filter>',
        )
        == "InvalidArgument"
    )


def _collector(client: FlaskClient, event_filter: str = ROOT) -> str:
    body = call_ok(
        client, "CreateCollectorForEvents", "EventManager", "EventManager", f"<filter>{event_filter}</filter>"
    )
    return str(xpath(body, "//v:returnval/text()")[0])


def _latest(client: FlaskClient, collector: str) -> list[str]:
    body = retrieve(
        client,
        prop_spec("EventHistoryCollector", "latestPage") + object_spec("EventHistoryCollector", collector),
    )
    assert xpath(body, "//v:val/@xsi:type") == ["ArrayOfEvent"]
    return [str(key) for key in xpath(body, "//v:val/v:Event/v:info/v:key/text()")]


def test_the_latest_page_is_newest_first_and_sized(app: Flask, client: FlaskClient) -> None:
    collector = _collector(client)
    ids = [spec.id for spec in backend_of(app).tasks.specs()]
    assert len(ids) > 3
    assert _latest(client, collector) == list(reversed(ids))[:10]
    call_ok(client, "SetCollectorPageSize", "EventHistoryCollector", collector, "<maxCount>3</maxCount>")
    assert _latest(client, collector) == list(reversed(ids))[:3]
    assert (
        call_fault(
            client, "SetCollectorPageSize", "EventHistoryCollector", collector, "<maxCount>0</maxCount>"
        )
        == "InvalidArgument"
    )
    backend_of(app).tasks.put(
        [TaskSpec(id="task-new", name="PowerOnVM_Task", description_id="VirtualMachine.powerOn")]
    )
    assert _latest(client, collector)[0] == "task-new"
    call_ok(client, "DestroyCollector", "EventHistoryCollector", collector)
    assert (
        call_fault(client, "DestroyCollector", "EventHistoryCollector", collector) == "ManagedObjectNotFound"
    )


def test_an_empty_latest_page_is_still_typed(client: FlaskClient) -> None:
    collector = _collector(client, "<eventTypeId>VmPoweredOffEvent</eventTypeId>")
    assert _latest(client, collector) == []


def test_reading_next_and_previous_events(app: Flask, client: FlaskClient) -> None:
    ids = [spec.id for spec in backend_of(app).tasks.specs()]
    collector = _collector(client, ROOT + "<maxCount>2</maxCount>")

    def read(method: str, count: int) -> list[str]:
        body = call_ok(client, method, "EventHistoryCollector", collector, f"<maxCount>{count}</maxCount>")
        return [str(key) for key in xpath(body, "//v:returnval/v:info/v:key/text()")]

    assert read("ReadPreviousEvents", 3) == ids[-5:-2]  # before the latest page, oldest first
    assert read("ReadNextEvents", 2) == ids[-5:-3]
    call_ok(client, "RewindCollector", "EventHistoryCollector", collector)
    assert read("ReadNextEvents", 2) == ids[:2]
    call_ok(client, "ResetCollector", "EventHistoryCollector", collector)
    assert read("ReadNextEvents", 5) == ids[-2:]  # the latest page, and nothing after it
    assert read("ReadNextEvents", 5) == []


def test_event_descriptions_categorise_task_events(client: FlaskClient) -> None:
    # govc events reads description.eventInfo (a nested path) to print each event's category.
    body = retrieve(
        client,
        prop_spec("EventManager", "description.eventInfo") + object_spec("EventManager", "EventManager"),
    )
    assert xpath(body, "//v:val/@xsi:type") == ["ArrayOfEventDescriptionEventDetail"]
    info = contents(body)["EventManager:EventManager"]["description.eventInfo"]
    assert [
        (detail.findtext("{urn:vim25}key"), detail.findtext("{urn:vim25}category")) for detail in info
    ] == [("TaskEvent", "info")]
