"""The PropertyCollector as govmomi uses it: TraversalSpecs through the inventory (the six shapes
of govc's ls, find and vm lookups), subtype matching, nested paths, missingSet, collectors of a
session's own and their waits. Every answer is checked against the vim25 model."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import wire as vim25
from tests.support.soap import (
    assert_valid,
    backend_of,
    call_fault,
    call_ok,
    contents,
    logged_in,
    make_app,
    object_spec,
    pending_waits,
    post,
    prop_spec,
    retrieve,
    selection,
    traversal,
    xpath,
)


@pytest.fixture
def app_config() -> dict[str, object]:
    """create_app keys for ``app`` (a test parametrizes it to change them)."""
    return {}


@pytest.fixture
def app(app_config: dict[str, object]) -> Flask:
    return make_app(**app_config)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield logged_in(test_client)


# -- the inventory, the way govmomi walks it ---------------------------------------------------------

ANCESTORS = (
    prop_spec("ManagedEntity", "name", "parent")
    + prop_spec("VirtualMachine", "parentVApp")
    + object_spec(
        "VirtualMachine",
        "vm-1001",
        traversal("ManagedEntity", "parent", selection("traverseParent"), name="traverseParent")
        + traversal("VirtualMachine", "parentVApp", selection("traverseParent")),
    )
)


def test_ancestors_follow_parent_to_the_root(client: FlaskClient) -> None:
    found = contents(retrieve(client, ANCESTORS))
    assert [props["name"] for props in found.values()] == [
        "web-01",
        "prod",
        "vm",
        "Datacenter",
        "Datacenters",
    ]
    refs = list(found)
    for child, parent in itertools.pairwise(refs):
        assert found[child]["parent"] == parent  # each one the parent of the one before
    # The root folder has no parent: not a nil value, not in missingSet, simply absent.
    assert found["Folder:group-d1"] == {"name": "Datacenters"}
    assert "parentVApp" not in found["VirtualMachine:vm-1001"]  # unset: never in a vApp


def test_folder_children_are_matched_by_subtype(app: Flask, client: FlaskClient) -> None:
    (host_folder,) = [
        entity
        for entity in backend_of(app).inventory.all().values()
        if entity.name == "host" and entity.parent == "datacenter-2"
    ]
    spec = (
        prop_spec("Folder", "name", "childType")
        + prop_spec("ComputeResource", "name", "resourcePool")
        + prop_spec("DistributedVirtualSwitch", "name")
        + object_spec("Folder", host_folder.id, traversal("Folder", "childEntity"), skip=True)
    )
    found = contents(retrieve(client, spec))
    # A cluster is a ComputeResource; the standalone host sits in a ComputeResource of its name.
    assert found["ClusterComputeResource:domain-c7"]["name"] == "Cluster-A"
    assert found["ClusterComputeResource:domain-c7"]["resourcePool"].startswith("ResourcePool:")
    assert {key.split(":")[0] for key in found} == {"ClusterComputeResource", "ComputeResource"}
    assert f"Folder:{host_folder.id}" not in found  # skipped


def test_datacenter_folders_and_compute_resource_children(client: FlaskClient) -> None:
    folders = "".join(traversal("Datacenter", path) for path in ("vmFolder", "hostFolder", "datastoreFolder"))
    found = contents(
        retrieve(
            client,
            prop_spec("Folder", "name", "childType")
            + object_spec("Datacenter", "datacenter-2", folders, skip=True),
        )
    )
    assert sorted(props["name"] for props in found.values()) == ["datastore", "host", "vm"]
    vm_folder = next(props for props in found.values() if props["name"] == "vm")
    assert vm_folder["childType"] == ["Folder", "VirtualMachine", "VirtualApp"]
    hosts = traversal("ComputeResource", "host") + traversal("ComputeResource", "resourcePool")
    children = contents(
        retrieve(
            client,
            prop_spec("HostSystem", "name")
            + prop_spec("ResourcePool", "name")
            + object_spec("ClusterComputeResource", "domain-c7", hosts, skip=True),
        )
    )
    assert sorted(props["name"] for props in children.values()) == [
        "Resources",
        "esx01.lab.local",
        "esx03.lab.local",
    ]


def test_a_self_naming_traversal_through_a_cycle_ends(client: FlaskClient) -> None:
    # childEntity then parent then childEntity again: each object once, and the walk ends.
    loop = traversal(
        "ManagedEntity", "parent", traversal("Folder", "childEntity", selection("up")), name="up"
    )
    found = contents(
        retrieve(client, prop_spec("ManagedEntity", "name") + object_spec("Datacenter", "datacenter-2", loop))
    )
    assert list(found) == ["Datacenter:datacenter-2", "Folder:group-d1"]


def test_an_unknown_selection_name_is_invalid_argument(client: FlaskClient) -> None:
    spec = prop_spec("ManagedEntity", "name") + object_spec("Folder", "group-d1", selection("nowhere"))
    assert (
        call_fault(
            client,
            "RetrieveProperties",
            "PropertyCollector",
            "propertyCollector",
            f"<specSet>{spec}</specSet>",
        )
        == "InvalidArgument"
    )


# -- properties: nested, not served, invalid --------------------------------------------------------


def test_nested_paths_are_read_from_their_property(client: FlaskClient) -> None:
    found = contents(
        retrieve(
            client,
            prop_spec(
                "VirtualMachine", "runtime.host", "runtime.powerState", "guest.ipAddress", "guest.toolsStatus"
            )
            + object_spec("VirtualMachine", "vm-601"),
        )
    )["VirtualMachine:vm-601"]
    assert found == {
        "runtime.host": "HostSystem:host-21",
        "runtime.powerState": "poweredOn",
        "guest.ipAddress": "10.20.30.41",
        "guest.toolsStatus": "toolsOk",
    }


def test_a_vim25_property_the_mock_has_no_value_for_is_unset(client: FlaskClient) -> None:
    # vCenter leaves out of propSet what is unset; no missingSet (that is for a fault reading it).
    body = retrieve(
        client,
        prop_spec("VirtualMachine", "name", "environmentBrowser") + object_spec("VirtualMachine", "vm-601"),
    )
    assert contents(body)["VirtualMachine:vm-601"] == {"name": "win1"}
    assert xpath(body, "//v:missingSet") == []


@pytest.mark.parametrize("path", ["nonsense", "runtime.nonsense", "parent.name", "name.length"])
def test_a_property_vim25_does_not_define_is_invalid_property(client: FlaskClient, path: str) -> None:
    spec = prop_spec("VirtualMachine", path) + object_spec("VirtualMachine", "vm-601")
    assert (
        call_fault(
            client,
            "RetrieveProperties",
            "PropertyCollector",
            "propertyCollector",
            f"<specSet>{spec}</specSet>",
        )
        == "InvalidProperty"
    )


def test_fetch_of_an_unset_property_answers_no_value(client: FlaskClient) -> None:
    body = call_ok(client, "Fetch", "VirtualMachine", "vm-601", "<prop>environmentBrowser</prop>")
    assert xpath(body, "//v:FetchResponse/*") == []


# -- collectors of a session's own ------------------------------------------------------------------


def _create_collector(client: FlaskClient) -> str:
    body = call_ok(client, "CreatePropertyCollector", "PropertyCollector", "propertyCollector")
    assert xpath(body, "//v:returnval/@type") == ["PropertyCollector"]
    return str(xpath(body, "//v:returnval/text()")[0])


def _filter(client: FlaskClient, collector: str, task: str) -> str:
    spec = f'<spec>{prop_spec("Task", "info")}<objectSet><obj type="Task">{task}</obj></objectSet></spec>'
    body = call_ok(
        client,
        "CreateFilter",
        "PropertyCollector",
        collector,
        spec + "<partialUpdates>false</partialUpdates>",
    )
    return str(xpath(body, "//v:returnval/text()")[0])


def _wait(client: FlaskClient, collector: str, version: str = "", max_wait: int | None = 0) -> bytes:
    options = "" if max_wait is None else f"<options><maxWaitSeconds>{max_wait}</maxWaitSeconds></options>"
    return call_ok(
        client, "WaitForUpdatesEx", "PropertyCollector", collector, f"<version>{version}</version>{options}"
    )


def test_the_task_waiter_s_collector_sees_only_its_own_filters(client: FlaskClient) -> None:
    # govmomi's Task.WaitForResult: CreatePropertyCollector, CreateFilter, WaitForUpdatesEx, Destroy.
    _filter(client, "propertyCollector", "task-done")
    collector = _create_collector(client)
    assert collector.startswith("session[")
    filter_id = _filter(client, collector, "task-ok")
    first = _wait(client, collector)
    assert xpath(first, "//v:filterSet/v:filter/text()") == [filter_id]
    assert xpath(first, "//v:objectSet/v:obj/text()") == ["task-ok"]
    assert xpath(first, "//v:changeSet/v:val/@xsi:type") == ["TaskInfo"]
    listed = contents(
        retrieve(
            client, prop_spec("PropertyCollector", "filter") + object_spec("PropertyCollector", collector)
        )
    )
    assert listed[f"PropertyCollector:{collector}"]["filter"] == [f"PropertyFilter:{filter_id}"]
    call_ok(client, "DestroyPropertyCollector", "PropertyCollector", collector)
    assert call_fault(client, "WaitForUpdatesEx", "PropertyCollector", collector) == "ManagedObjectNotFound"
    assert call_fault(client, "DestroyPropertyFilter", "PropertyFilter", filter_id) == "ManagedObjectNotFound"


def test_a_collector_belongs_to_its_session(app: Flask, client: FlaskClient) -> None:
    collector = _create_collector(client)
    with app.test_client() as other:
        logged_in(other)
        assert (
            call_fault(other, "WaitForUpdatesEx", "PropertyCollector", collector) == "ManagedObjectNotFound"
        )
        version = str(xpath(_wait(client, collector), "//v:version/text()")[0])
        assert (
            call_fault(
                other,
                "WaitForUpdatesEx",
                "PropertyCollector",
                "propertyCollector",
                f"<version>{version}</version>",
            )
            == "InvalidCollectorVersion"
        )


def test_the_service_collector_cannot_be_destroyed(client: FlaskClient) -> None:
    assert (
        call_fault(client, "DestroyPropertyCollector", "PropertyCollector", "propertyCollector")
        == "InvalidArgument"
    )


# A wait without maxWaitSeconds that nothing ends holds its worker this long (the app's default is 300 s):
# a test whose cancel went astray fails at its deadline instead of holding a thread for five minutes.
SHORT_MAX_WAIT = 20.0


def _wait_in_another_thread(
    app: Flask, cookie: str, collector: str, version: str
) -> tuple[threading.Thread, list[bytes]]:
    """WaitForUpdatesEx without maxWaitSeconds on *collector*, from another client of the same session;
    the answer lands in the list."""
    answers: list[bytes] = []

    def run() -> None:
        with app.test_client() as same_session:
            same_session.set_cookie("vmware_soap_session", cookie)
            answers.append(
                post(
                    same_session, vim25_call("WaitForUpdatesEx", collector, f"<version>{version}</version>")
                ).data
            )

    waiter = threading.Thread(target=run, daemon=True)
    waiter.start()
    return waiter, answers


def _until_the_wait_is_pending(app: Flask, cookie: str, collector: str, waiter: threading.Thread) -> None:
    """Until the waiter's WaitForUpdatesEx is pending (what Cancel and Logout end): the only wait
    of this app."""
    deadline = time.monotonic() + 10
    while not pending_waits(backend_of(app)):
        assert waiter.is_alive(), "the wait ended before it was pending"
        assert time.monotonic() < deadline, "the wait never became pending"
        time.sleep(0.01)


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("vmware_soap_session")
    assert cookie is not None
    return cookie.value


@pytest.mark.parametrize("app_config", [{"VISMOCK_SOAP_MAX_WAIT": SHORT_MAX_WAIT}])
def test_wait_without_options_blocks_until_the_task_changes(app: Flask, client: FlaskClient) -> None:
    collector = _create_collector(client)
    _filter(client, collector, "task-ok")
    version = str(xpath(_wait(client, collector), "//v:version/text()")[0])
    cookie = _session_cookie(client)
    waiter, answers = _wait_in_another_thread(app, cookie, collector, version)  # no maxWaitSeconds
    _until_the_wait_is_pending(app, cookie, collector, waiter)
    assert answers == []  # pending: nothing changed yet
    backend_of(app).advance(5)
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert_valid(answers[0])
    assert xpath(answers[0], "//v:objectSet/v:kind/text()") == ["modify"]
    assert xpath(answers[0], "//v:changeSet/v:val/v:state/text()") == ["running"]


@pytest.mark.parametrize("app_config", [{"VISMOCK_SOAP_MAX_WAIT": SHORT_MAX_WAIT}])
def test_cancel_wait_for_updates_ends_the_pending_wait(app: Flask, client: FlaskClient) -> None:
    collector = _create_collector(client)
    _filter(client, collector, "task-queued")
    version = str(xpath(_wait(client, collector), "//v:version/text()")[0])
    cookie = _session_cookie(client)
    waiter, canceled = _wait_in_another_thread(app, cookie, collector, version)
    _until_the_wait_is_pending(app, cookie, collector, waiter)
    call_ok(client, "CancelWaitForUpdates", "PropertyCollector", collector)
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert vim25.fault_type_of(canceled[0]) == "RequestCanceled"
    # Nothing pending: canceling does nothing, and the next wait is not canceled.
    call_ok(client, "CancelWaitForUpdates", "PropertyCollector", collector)
    assert xpath(_wait(client, collector, version), "//v:returnval") == []


def test_each_session_has_its_own_filters_on_the_service_collector(app: Flask, client: FlaskClient) -> None:
    mine = _filter(client, "propertyCollector", "task-ok")
    with app.test_client() as other:
        logged_in(other)
        theirs = _filter(other, "propertyCollector", "task-done")
        service = "PropertyCollector:propertyCollector"
        read = prop_spec("PropertyCollector", "filter") + object_spec(*service.split(":"))
        for session, filter_id, task_id in ((client, mine, "task-ok"), (other, theirs, "task-done")):
            listed = contents(retrieve(session, read))[service]["filter"]
            assert listed == [f"PropertyFilter:{filter_id}"]
            update = _wait(session, "propertyCollector")
            assert xpath(update, "//v:filterSet/v:filter/text()") == [filter_id]
            assert xpath(update, "//v:objectSet/v:obj/text()") == [task_id]


@pytest.mark.parametrize("app_config", [{"VISMOCK_SOAP_MAX_WAIT": SHORT_MAX_WAIT}])
def test_cancel_and_logout_end_only_the_session_s_waits_on_the_service_collector(
    app: Flask, client: FlaskClient
) -> None:
    with app.test_client() as other:
        logged_in(other)
        waiters = []
        for session in (client, other):
            _filter(session, "propertyCollector", "task-queued")
            version = str(xpath(_wait(session, "propertyCollector"), "//v:version/text()")[0])
            cookie = _session_cookie(session)
            waiter, answers = _wait_in_another_thread(app, cookie, "propertyCollector", version)
            deadline = time.monotonic() + 10
            while len(pending_waits(backend_of(app))) < len(waiters) + 1:
                assert waiter.is_alive() and time.monotonic() < deadline, "the wait never became pending"
                time.sleep(0.01)
            waiters.append((waiter, answers))
        call_ok(client, "CancelWaitForUpdates", "PropertyCollector", "propertyCollector")
        (mine, my_answers), (theirs, their_answers) = waiters
        mine.join(timeout=10)
        assert vim25.fault_type_of(my_answers[0]) == "RequestCanceled"
        assert theirs.is_alive() and len(pending_waits(backend_of(app))) == 1  # the other session's waits on
        call_ok(other, "Logout", "SessionManager", "SessionManager")
        theirs.join(timeout=10)
        assert not theirs.is_alive()
        assert vim25.fault_type_of(their_answers[0]) == "RequestCanceled"


def vim25_call(method: str, collector: str, args: str) -> bytes:
    from tests.support.soap import call_xml

    return call_xml(method, "PropertyCollector", collector, args)


def test_a_filter_through_a_list_view_follows_the_view(client: FlaskClient) -> None:
    # govc tasks: a filter on a ListView with a TraversalSpec over its view, and TaskManager.recentTask.
    view = str(
        xpath(call_ok(client, "CreateListView", "ViewManager", "ViewManager"), "//v:returnval/text()")[0]
    )
    collector = _create_collector(client)
    spec = (
        prop_spec("Task", "info")
        + prop_spec("TaskManager", "recentTask")
        + f'<objectSet><obj type="ListView">{view}</obj>{traversal("ListView", "view")}</objectSet>'
        + '<objectSet><obj type="TaskManager">TaskManager</obj></objectSet>'
    )
    call_ok(
        client,
        "CreateFilter",
        "PropertyCollector",
        collector,
        f"<spec>{spec}</spec><partialUpdates>false</partialUpdates>",
    )
    first = _wait(client, collector)
    assert xpath(first, "//v:objectSet/v:obj/text()") == [
        "TaskManager"
    ]  # the view has no propSet: not reported
    assert xpath(first, "//v:changeSet/v:val/@xsi:type") == ["ArrayOfManagedObjectReference"]
    version = str(xpath(first, "//v:version/text()")[0])
    tasks = '<obj type="Task">task-ok</obj><obj type="Task">task-done</obj><obj type="Task">task-404</obj>'
    unresolved = call_ok(client, "ResetListView", "ListView", view, tasks)
    assert xpath(unresolved, "//v:returnval/text()") == ["task-404"]
    second = _wait(client, collector, version)
    assert xpath(second, "//v:objectSet/v:kind/text()") == ["enter", "enter"]
    assert xpath(second, "//v:objectSet/v:obj/text()") == ["task-ok", "task-done"]
    version = str(xpath(second, "//v:version/text()")[0])
    call_ok(client, "ModifyListView", "ListView", view, '<remove type="Task">task-done</remove>')
    third = _wait(client, collector, version)
    assert xpath(third, "//v:objectSet/v:kind/text()") == ["leave"]
    assert xpath(third, "//v:objectSet/v:obj/text()") == ["task-done"]


def test_all_reads_every_served_property(client: FlaskClient) -> None:
    found = contents(
        retrieve(client, prop_spec("VirtualMachine", all_=True) + object_spec("VirtualMachine", "vm-900"))
    )
    props = found["VirtualMachine:vm-900"]
    assert {"name", "parent", "runtime", "guest", "resourcePool", "datastore", "network"} <= set(props)
    assert not any("." in path for path in props)  # paths below a property are not properties
    assert "parentVApp" not in props  # unset


def test_config_template_is_served_from_the_inventory(client: FlaskClient) -> None:
    spec = (
        prop_spec("VirtualMachine", "config.template")
        + object_spec("VirtualMachine", "vm-900")
        + object_spec("VirtualMachine", "vm-601")
    )
    found = contents(retrieve(client, spec))
    assert found["VirtualMachine:vm-900"] == {"config.template": "true"}  # rhel9-template
    assert found["VirtualMachine:vm-601"] == {"config.template": "false"}


def test_a_traversal_along_a_path_vim25_does_not_define_is_invalid_property(client: FlaskClient) -> None:
    spec = prop_spec("ManagedEntity", "name") + object_spec(
        "Folder", "group-d1", traversal("Folder", "children")
    )
    body = f"<spec>{spec}</spec><partialUpdates>false</partialUpdates>"
    assert (
        call_fault(client, "CreateFilter", "PropertyCollector", "propertyCollector", body)
        == "InvalidProperty"
    )


@pytest.mark.parametrize("depth", [50, 5000])
def test_deeply_nested_select_sets_are_answered_not_crashed(client: FlaskClient, depth: int) -> None:
    nested = selection("up")
    for _ in range(depth):
        nested = traversal("ManagedEntity", "parent", nested, name="up")
    spec = prop_spec("ManagedEntity", "name") + object_spec("VirtualMachine", "vm-601", nested)
    response = post(
        client, vim25_call("RetrieveProperties", "propertyCollector", f"<specSet>{spec}</specSet>")
    )
    assert_valid(response.data)
    if depth < 100:
        assert response.status_code == 200
        assert len(contents(response.data)) == 4  # win1, vm, Datacenter, Datacenters: each once
    else:  # deeper than the XML parser allows: a clear fault, not a crash
        assert response.status_code == 500
        assert vim25.fault_type_of(response.data) == "InvalidRequest"


def test_an_unset_property_is_left_out_of_the_update(client: FlaskClient) -> None:
    collector = _create_collector(client)
    spec = prop_spec("VirtualMachine", "name", "environmentBrowser") + object_spec("VirtualMachine", "vm-601")
    call_ok(
        client,
        "CreateFilter",
        "PropertyCollector",
        collector,
        f"<spec>{spec}</spec><partialUpdates>false</partialUpdates>",
    )
    update = _wait(client, collector)
    assert xpath(update, "//v:objectSet/v:changeSet/v:name/text()") == ["name"]
    assert xpath(update, "//v:objectSet/v:missingSet") == []


@pytest.mark.parametrize("app_config", [{"VISMOCK_SOAP_MAX_WAIT": SHORT_MAX_WAIT}])
def test_logging_out_ends_a_pending_wait(app: Flask, client: FlaskClient) -> None:
    collector = _create_collector(client)
    _filter(client, collector, "task-queued")
    version = str(xpath(_wait(client, collector), "//v:version/text()")[0])
    cookie = _session_cookie(client)
    waiter, answers = _wait_in_another_thread(app, cookie, collector, version)
    _until_the_wait_is_pending(app, cookie, collector, waiter)
    call_ok(client, "Logout", "SessionManager", "SessionManager")
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert vim25.fault_type_of(answers[0]) == "RequestCanceled"


def test_check_for_updates_answers_at_once(app: Flask, client: FlaskClient) -> None:
    _filter(client, "propertyCollector", "task-ok")
    first = call_ok(
        client, "CheckForUpdates", "PropertyCollector", "propertyCollector", "<version></version>"
    )
    assert xpath(first, "//v:objectSet/v:kind/text()") == ["enter"]
    version = str(xpath(first, "//v:version/text()")[0])
    args = f"<version>{version}</version>"
    assert (
        xpath(
            call_ok(client, "CheckForUpdates", "PropertyCollector", "propertyCollector", args),
            "//v:returnval",
        )
        == []
    )
    backend_of(app).advance(5)
    changed = call_ok(client, "CheckForUpdates", "PropertyCollector", "propertyCollector", args)
    assert xpath(changed, "//v:objectSet/v:kind/text()") == ["modify"]


def test_cancel_retrieve_properties_ex_takes_a_token_of_the_session(client: FlaskClient) -> None:
    objects = "".join(object_spec("Task", task) for task in ("task-ok", "task-done"))
    options = "<options><maxObjects>1</maxObjects></options>"
    spec = f"<specSet>{prop_spec('Task', 'info.state')}{objects}</specSet>{options}"
    token = xpath(
        call_ok(client, "RetrievePropertiesEx", "PropertyCollector", "propertyCollector", spec),
        "//v:token/text()",
    )
    assert len(token) == 1
    call_ok(
        client,
        "CancelRetrievePropertiesEx",
        "PropertyCollector",
        "propertyCollector",
        f"<token>{token[0]}</token>",
    )
    fault = call_fault(
        client, "CancelRetrievePropertiesEx", "PropertyCollector", "propertyCollector", "<token>x</token>"
    )
    assert fault == "InvalidArgument"
