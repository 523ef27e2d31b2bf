"""Sessions as vCenter shows them: ``currentSession`` readable without a session (unset then),
``sessionList``, a stable ``loginTime``, ``lastActiveTime`` and a ``callCount`` that counts every
call (answers from memory too), ``CurrentTime``. Every answer is checked against the vim25 model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import wire as vim25
from tests.support.soap import (
    T0,
    USER,
    backend_of,
    call_fault,
    call_ok,
    contents,
    logged_in,
    make_app,
    object_spec,
    post,
    prop_spec,
    retrieve,
    xpath,
)

CURRENT_SESSION = prop_spec("SessionManager", "currentSession") + object_spec(
    "SessionManager", "SessionManager"
)


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def _current(client: FlaskClient) -> dict[str, str]:
    session = contents(retrieve(client, CURRENT_SESSION))["SessionManager:SessionManager"]["currentSession"]
    return {child.tag.split("}")[1]: child.text for child in session}


@pytest.mark.parametrize("cookie", [None, "forged", "ended"])
def test_current_session_without_a_live_session_is_unset_not_a_fault(
    client: FlaskClient, cookie: str | None
) -> None:
    # govc's cached-session check: a fault here (rather than an unset value) would break it for good.
    if cookie == "ended":
        logged_in(client)
        call_ok(client, "Logout", "SessionManager", "SessionManager")
    elif cookie is not None:
        client.set_cookie("vmware_soap_session", cookie)
    for method in ("RetrieveProperties", "RetrievePropertiesEx"):
        options = "<options/>" if method.endswith("Ex") else ""
        body = call_ok(
            client,
            method,
            "PropertyCollector",
            "propertyCollector",
            f"<specSet>{CURRENT_SESSION}</specSet>{options}",
        )
        assert contents(body) == {"SessionManager:SessionManager": {}}


def test_without_a_session_anything_else_is_not_authenticated(client: FlaskClient) -> None:
    spec = prop_spec("Task", "info") + object_spec("Task", "task-done")
    assert (
        call_fault(
            client,
            "RetrieveProperties",
            "PropertyCollector",
            "propertyCollector",
            f"<specSet>{spec}</specSet>",
        )
        == "NotAuthenticated"
    )
    spec = prop_spec("SessionManager", "sessionList") + object_spec("SessionManager", "SessionManager")
    assert (
        call_fault(
            client,
            "RetrieveProperties",
            "PropertyCollector",
            "propertyCollector",
            f"<specSet>{spec}</specSet>",
        )
        == "NotAuthenticated"
    )
    assert call_fault(client, "CurrentTime", "ServiceInstance", "ServiceInstance") == "NotAuthenticated"


def test_the_user_session_counts_calls_and_keeps_its_login_time(app: Flask, client: FlaskClient) -> None:
    login = post(client, vim25_login())
    assert xpath(login.data, "//v:returnval/v:callCount/text()") == ["1"]
    assert xpath(login.data, "//v:returnval/v:loginTime/text()") == [vim25.format_datetime(T0)]
    first = _current(client)
    assert first["callCount"] == "2" and first["userName"] == USER
    fetch = vim25_fetch()
    for _ in range(5):  # the same read again and again: answered from memory after the first
        assert post(client, fetch).status_code == 200
    backend_of(app).advance(90)
    later = _current(client)
    assert later["callCount"] == "8"
    assert later["loginTime"] == first["loginTime"] == vim25.format_datetime(T0)
    assert later["lastActiveTime"] == vim25.format_datetime(T0 + timedelta(seconds=90))
    cookie = client.get_cookie("vmware_soap_session")
    assert cookie is not None and cookie.value not in later["key"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", str(later["key"]))


def vim25_login() -> bytes:
    from tests.support.soap import login_body

    return login_body()


def vim25_fetch() -> bytes:
    from tests.support.soap import call_xml

    return call_xml("Fetch", "Task", "task-done", "<prop>info</prop>")


def test_session_list_and_locales(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    with app.test_client() as other:
        logged_in(other)
        found = contents(
            retrieve(
                client,
                prop_spec("SessionManager", all_=True) + object_spec("SessionManager", "SessionManager"),
            )
        )["SessionManager:SessionManager"]
    assert set(found) == {
        "currentSession",
        "sessionList",
        "defaultLocale",
        "supportedLocaleList",
        "messageLocaleList",
    }
    keys = [session.findtext("{urn:vim25}key") for session in found["sessionList"]]
    assert len(keys) == 2 and found["currentSession"].findtext("{urn:vim25}key") == keys[0]
    assert found["defaultLocale"] == "en" and found["supportedLocaleList"] == ["en"]


def test_current_time_is_the_mock_clock(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    assert xpath(
        call_ok(client, "CurrentTime", "ServiceInstance", "ServiceInstance"), "//v:returnval/text()"
    ) == [vim25.format_datetime(T0)]
    backend_of(app).advance(3600)
    assert xpath(
        call_ok(client, "CurrentTime", "ServiceInstance", "ServiceInstance"), "//v:returnval/text()"
    ) == [vim25.format_datetime(T0 + timedelta(hours=1))]


def test_the_service_content_lists_only_managers_that_answer(client: FlaskClient) -> None:
    body = call_ok(client, "RetrieveServiceContent", "ServiceInstance", "ServiceInstance")
    listed = {element.tag.split("}")[1]: element.text for element in xpath(body, "//v:returnval/*[@type]")}
    assert listed == {
        "rootFolder": "group-d1",
        "propertyCollector": "propertyCollector",
        "viewManager": "ViewManager",
        "sessionManager": "SessionManager",
        "eventManager": "EventManager",
        "taskManager": "TaskManager",
        "searchIndex": "SearchIndex",
        "customFieldsManager": "CustomFieldsManager",
    }
    logged_in(client)
    answers = {  # a call each manager serves
        "rootFolder": ("Fetch", "<prop>name</prop>"),
        "propertyCollector": ("CreatePropertyCollector", ""),
        "viewManager": ("CreateListView", ""),
        "sessionManager": ("Fetch", "<prop>currentSession</prop>"),
        "eventManager": ("Fetch", "<prop>description</prop>"),
        "taskManager": ("Fetch", "<prop>recentTask</prop>"),
        "searchIndex": ("FindByInventoryPath", "<inventoryPath>Datacenter</inventoryPath>"),
        "customFieldsManager": ("Fetch", "<prop>field</prop>"),
    }
    for name, value in listed.items():
        (mo_type,) = xpath(body, f"//v:returnval/v:{name}/@type")
        method, args = answers[name]
        call_ok(client, method, str(mo_type), str(value), args)


def test_without_a_session_the_service_content_is_readable_too(client: FlaskClient) -> None:
    spec = prop_spec("ServiceInstance", "content") + object_spec("ServiceInstance", "ServiceInstance")
    found = contents(retrieve(client, spec))["ServiceInstance:ServiceInstance"]["content"]
    assert found.findtext("{urn:vim25}about/{urn:vim25}apiType") == "VirtualCenter"
