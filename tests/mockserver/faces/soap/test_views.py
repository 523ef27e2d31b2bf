"""ViewManager's container and list views, and the SearchIndex, over the built-in inventory. Every
answer is checked against the vim25 model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

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
    traversal,
    xpath,
)

ALL_VMS = [
    "TestDev",
    "win1",
    "web-01",
    "app-02",
    "db-01",
    "files-01",
    "batch-07",
    "rhel9-template",
    "legacy-01",
]


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield logged_in(test_client)


def _container_view(client: FlaskClient, container: str, *types: str, recursive: bool = True) -> str:
    mo_type, value = container.split(":")
    args = f'<container type="{mo_type}">{value}</container>' + "".join(f"<type>{t}</type>" for t in types)
    body = call_ok(
        client,
        "CreateContainerView",
        "ViewManager",
        "ViewManager",
        args + f"<recursive>{str(recursive).lower()}</recursive>",
    )
    assert xpath(body, "//v:returnval/@type") == ["ContainerView"]
    return str(xpath(body, "//v:returnval/text()")[0])


def _names_in_view(
    client: FlaskClient, view_type: str, view: str, mo_type: str = "ManagedEntity"
) -> list[str]:
    spec = prop_spec(mo_type, "name") + object_spec(view_type, view, traversal(view_type, "view"), skip=True)
    return [props["name"] for props in contents(retrieve(client, spec)).values()]


def test_a_recursive_container_view_of_the_root_lists_every_vm_once(client: FlaskClient) -> None:
    view = _container_view(client, "Folder:group-d1", "VirtualMachine")
    assert _names_in_view(client, "ContainerView", view) == ALL_VMS  # depth first, in inventory order


def test_a_container_view_of_every_type_holds_the_whole_inventory_but_its_container(
    app: Flask, client: FlaskClient
) -> None:
    view = _container_view(client, "Folder:group-d1")
    names = _names_in_view(client, "ContainerView", view)
    inventory = backend_of(app).inventory.all().values()
    assert sorted(names) == sorted(entity.name for entity in inventory if entity.id != "group-d1")
    assert names[:2] == ["Datacenter", "vm"]


def test_subtypes_and_non_recursive_views(app: Flask, client: FlaskClient) -> None:
    computes = _container_view(client, "Folder:group-d1", "ComputeResource")
    assert _names_in_view(client, "ContainerView", computes) == ["Cluster-A", "esx02.lab.local"]
    (vm_folder,) = [
        entity
        for entity in backend_of(app).inventory.all().values()
        if entity.name == "vm" and entity.parent == "datacenter-2"
    ]
    direct = _container_view(client, f"Folder:{vm_folder.id}", recursive=False)
    assert _names_in_view(client, "ContainerView", direct) == [
        "TestDev",
        "win1",
        "prod",
        "files-01",
        "batch-07",
        "rhel9-template",
        "legacy-01",
    ]
    on_host = _container_view(client, "HostSystem:host-22", "VirtualMachine", recursive=False)
    assert _names_in_view(client, "ContainerView", on_host) == ["legacy-01"]


def test_container_view_properties(client: FlaskClient) -> None:
    view = _container_view(client, "Datacenter:datacenter-2", "HostSystem")
    found = contents(
        retrieve(client, prop_spec("ContainerView", all_=False) + object_spec("ContainerView", view))
    )
    assert found == {f"ContainerView:{view}": {}}
    props = contents(
        retrieve(
            client,
            prop_spec("ContainerView", "container", "type", "recursive", "view")
            + object_spec("ContainerView", view),
        )
    )[f"ContainerView:{view}"]
    assert props == {
        "container": "Datacenter:datacenter-2",
        "type": ["HostSystem"],
        "recursive": "true",
        "view": ["HostSystem:host-21", "HostSystem:host-23", "HostSystem:host-22"],
    }


def test_a_view_of_something_that_is_no_container_is_refused(client: FlaskClient) -> None:
    args = '<container type="VirtualMachine">vm-601</container><recursive>true</recursive>'
    assert call_fault(client, "CreateContainerView", "ViewManager", "ViewManager", args) == "InvalidArgument"
    args = '<container type="Folder">group-nope</container><recursive>true</recursive>'
    assert (
        call_fault(client, "CreateContainerView", "ViewManager", "ViewManager", args)
        == "ManagedObjectNotFound"
    )


def _list_view(client: FlaskClient, view: str) -> list[str]:
    spec = prop_spec("ListView", "view") + object_spec("ListView", view)
    found: list[str] = contents(retrieve(client, spec))[f"ListView:{view}"]["view"]
    return found


def test_list_views_keep_what_exists(client: FlaskClient) -> None:
    objs = (
        '<obj type="VirtualMachine">vm-601</obj><obj type="VirtualMachine">vm-nope</obj>'
        '<obj type="Task">task-ok</obj>'
    )
    created = call_ok(client, "CreateListView", "ViewManager", "ViewManager", objs)
    view = str(xpath(created, "//v:returnval/text()")[0])
    assert _list_view(client, view) == ["VirtualMachine:vm-601", "Task:task-ok"]
    changes = (
        '<add type="HostSystem">host-21</add><add type="Task">task-x</add>'
        '<remove type="Task">task-ok</remove>'
    )
    modified = call_ok(client, "ModifyListView", "ListView", view, changes)
    assert xpath(modified, "//v:returnval/text()") == ["task-x"]
    assert _list_view(client, view) == ["VirtualMachine:vm-601", "HostSystem:host-21"]
    from_view = call_ok(
        client, "CreateListViewFromView", "ViewManager", "ViewManager", f'<view type="ListView">{view}</view>'
    )
    copy = str(xpath(from_view, "//v:returnval/text()")[0])
    listed = contents(
        retrieve(client, prop_spec("ViewManager", "viewList") + object_spec("ViewManager", "ViewManager"))
    )
    assert listed["ViewManager:ViewManager"]["viewList"] == [f"ListView:{view}", f"ListView:{copy}"]
    call_ok(client, "DestroyView", "ListView", view)
    assert call_fault(client, "DestroyView", "ListView", view) == "ManagedObjectNotFound"


def test_views_belong_to_their_session(app: Flask, client: FlaskClient) -> None:
    view = _container_view(client, "Folder:group-d1")
    with app.test_client() as other:
        logged_in(other)
        assert call_fault(other, "DestroyView", "ContainerView", view) == "ManagedObjectNotFound"
    call_ok(client, "Logout", "SessionManager", "SessionManager")
    logged_in(client)
    assert (
        call_fault(client, "DestroyView", "ContainerView", view) == "ManagedObjectNotFound"
    )  # ended with it


# -- SearchIndex


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("Datacenter/vm/win1", "VirtualMachine:vm-601"),
        ("/Datacenter/vm/prod/web-01", "VirtualMachine:vm-1001"),
        ("Datacenter", "Datacenter:datacenter-2"),
        ("Datacenter/host/Cluster-A/esx01.lab.local", "HostSystem:host-21"),
        ("Datacenter/host/Cluster-A/Resources/win1", "VirtualMachine:vm-601"),
        ("Datacenter/network/VM%20Network", "Network:network-12"),  # %20: a space
        ("Datacenter/vm/nope", None),
        ("", None),
        ("/", None),
    ],
)
def test_find_by_inventory_path(client: FlaskClient, path: str, found: str | None) -> None:
    body = call_ok(
        client, "FindByInventoryPath", "SearchIndex", "SearchIndex", f"<inventoryPath>{path}</inventoryPath>"
    )
    refs = [f"{ref.get('type')}:{ref.text}" for ref in xpath(body, "//v:returnval")]
    assert refs == ([found] if found else [])


def test_find_child(client: FlaskClient) -> None:
    def child(entity: str, name: str) -> list[str]:
        mo_type, value = entity.split(":")
        body = call_ok(
            client,
            "FindChild",
            "SearchIndex",
            "SearchIndex",
            f'<entity type="{mo_type}">{value}</entity><name>{name}</name>',
        )
        return [f"{ref.get('type')}:{ref.text}" for ref in xpath(body, "//v:returnval")]

    assert child("Folder:group-d1", "Datacenter") == ["Datacenter:datacenter-2"]
    assert [ref.split(":")[0] for ref in child("Datacenter:datacenter-2", "vm")] == ["Folder"]
    assert child("ClusterComputeResource:domain-c7", "esx01.lab.local") == ["HostSystem:host-21"]
    assert child("HostSystem:host-22", "legacy-01") == []  # a host has no children here (vCenter's rule)
    assert (
        call_fault(
            client,
            "FindChild",
            "SearchIndex",
            "SearchIndex",
            '<entity type="Folder">group-x</entity><name>a</name>',
        )
        == "ManagedObjectNotFound"
    )
