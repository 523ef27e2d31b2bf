"""Rules of SOAP sessions and what they own (docs/soap.md "Sessions and faults", "Collectors,
filters and waits"), through raw SOAP envelopes, each client with its own cookie."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from lxml import etree

from tests.support.client import NS, T0, Soap, SoapCallFailed, SoapFault, Vcenter, parse_time

SESSION_LIST = (
    "<specSet><propSet><type>SessionManager</type><pathSet>sessionList</pathSet></propSet>"
    '<objectSet><obj type="SessionManager">SessionManager</obj></objectSet></specSet>'
)


def user_session(soap: Soap) -> dict[str, str]:
    """The client's own UserSession (``SessionManager.currentSession``), field -> text."""
    found = soap.current_session()
    assert found is not None, "no current session"
    return {etree.QName(child).localname: child.text or "" for child in found}


def cookie_value(soap: Soap) -> str:
    assert soap.cookie is not None
    return soap.cookie.split("=", 1)[1]


# -- login and logout --------------------------------------------------------------------------------------


def test_login_sets_an_http_only_cookie_and_answers_a_user_session(vcenter: Vcenter) -> None:
    reply = vcenter.anonymous().call(
        "Login",
        "SessionManager",
        "SessionManager",
        "<userName>vismock</userName><password>vismock</password>",
    )
    assert reply.status == 200
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("vmware_soap_session=") and "HttpOnly" in cookie and "Path=/" in cookie
    returned = etree.fromstring(reply.body).find(".//v:returnval", NS)
    assert returned is not None
    assert returned.findtext("v:userName", namespaces=NS) == "vismock"
    key = returned.findtext("v:key", namespaces=NS) or ""
    assert key and key not in cookie  # the key identifies the session without authenticating


@pytest.mark.parametrize(("user", "password"), [("vismock", "wrong"), ("nobody", "vismock"), ("vismock", "")])
def test_wrong_credentials_are_invalid_login_and_no_session(
    vcenter: Vcenter, user: str, password: str
) -> None:
    client = vcenter.anonymous()
    with pytest.raises(SoapCallFailed) as failed:
        client.login(user, password)
    assert failed.value.fault.type == "InvalidLogin"
    assert client.cookie is None


def test_configured_accounts_replace_the_default_one(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter(VISMOCK_ACCOUNTS={"bmc": "hunter2"})
    assert user_session(vcenter.soap("bmc", "hunter2"))["userName"] == "bmc"
    with pytest.raises(SoapCallFailed):
        vcenter.soap("vismock", "vismock")


def test_logout_ends_the_session(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    other = vcenter.soap()
    soap.logout()
    assert soap.fault("CurrentTime", "ServiceInstance", "ServiceInstance").type == "NotAuthenticated"
    assert soap.current_session() is None
    assert other.current_time() == T0  # another session lives on


def test_session_is_active_answers_for_a_live_session(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    args = f"<sessionID>{cookie_value(soap)}</sessionID><userName>vismock</userName>"
    assert (
        soap.ok("SessionIsActive", "SessionManager", "SessionManager", args).findtext(
            "v:returnval", namespaces=NS
        )
        == "true"
    )


# -- without a session ------------------------------------------------------------------------------------


def test_without_a_session_only_the_service_content_and_login_are_served(vcenter: Vcenter) -> None:
    anonymous = vcenter.anonymous()
    assert anonymous.call("RetrieveServiceContent", "ServiceInstance", "ServiceInstance").status == 200
    for method, this_type, this, args in (
        ("CurrentTime", "ServiceInstance", "ServiceInstance", ""),
        ("Fetch", "Task", "task-525", "<prop>info</prop>"),
        ("PowerOffVM_Task", "VirtualMachine", "vm-601", ""),
        (
            "CreateContainerView",
            "ViewManager",
            "ViewManager",
            '<container type="Folder">group-d1</container><recursive>true</recursive>',
        ),
    ):
        assert anonymous.fault(method, this_type, this, args).type == "NotAuthenticated", method
    assert vcenter.vm("vm-601")["recentTask"] == []


def test_without_a_session_current_session_is_unset_and_other_properties_not_authenticated(
    vcenter: Vcenter,
) -> None:
    anonymous = vcenter.anonymous()
    assert anonymous.current_session() is None
    content = anonymous.properties("ServiceInstance", "ServiceInstance", "content")["content"]
    assert content.findtext("v:rootFolder", namespaces=NS) == "group-d1"
    fault = anonymous.fault("RetrieveProperties", "PropertyCollector", "propertyCollector", SESSION_LIST)
    assert fault.type == "NotAuthenticated"


def test_an_unknown_cookie_is_no_session(vcenter: Vcenter) -> None:
    forged = Soap(vcenter.send, cookie="vmware_soap_session=" + "0" * 40)
    assert forged.fault("CurrentTime", "ServiceInstance", "ServiceInstance").type == "NotAuthenticated"


# -- what a UserSession shows ------------------------------------------------------------------------------


def test_a_user_session_counts_calls_and_keeps_its_login_time(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    first = user_session(soap)  # the Login and this read
    assert (first["callCount"], first["loginTime"], first["lastActiveTime"]) == (
        "2",
        "2030-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z",
    )
    vcenter.advance(30)
    for _ in range(3):
        soap.task("task-525")  # a finished task: answered from memory after the first, still counted
    vcenter.advance(5)
    later = user_session(soap)
    assert later["callCount"] == "6"
    assert (parse_time(later["loginTime"]), parse_time(later["lastActiveTime"])) == (
        T0,
        T0 + timedelta(seconds=35),
    )
    assert later["key"] == first["key"] and later["key"] != cookie_value(soap)
    assert later["ipAddress"] == "127.0.0.1"


def test_the_session_list_lists_every_live_session(vcenter: Vcenter) -> None:
    clients = [vcenter.soap() for _ in range(3)]
    clients[1].logout()
    listed = clients[0].ok("RetrieveProperties", "PropertyCollector", "propertyCollector", SESSION_LIST)
    keys = {item.findtext("v:key", namespaces=NS) for item in listed.iterfind(".//v:UserSession", NS)}
    assert keys == {user_session(clients[0])["key"], user_session(clients[2])["key"]}


# -- lifetime and cap ----------------------------------------------------------------------------------------


def test_a_session_expires_after_its_lifetime_on_the_mock_clock(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter(VISMOCK_SESSION_LIFETIME=1800)
    soap = vcenter.soap()
    soap.task("task-525")
    vcenter.advance(1800)
    assert soap.current_time() == T0 + timedelta(seconds=1800)  # exactly its lifetime: still alive
    vcenter.advance(0.001)
    assert soap.fault("CurrentTime", "ServiceInstance", "ServiceInstance").type == "NotAuthenticated"
    assert soap.fault("Fetch", "Task", "task-525", "<prop>info</prop>").type == "NotAuthenticated"
    assert soap.current_session() is None
    assert vcenter.soap().current_time() == T0 + timedelta(seconds=1800.001)  # a new login works


def test_an_expired_session_gets_not_authenticated_for_a_body_it_sent_before(
    make_vcenter: Callable[..., Vcenter],
) -> None:
    """The security defect of issue 21: the clock runs (nothing is written meanwhile), the session's
    lifetime passes, and the same request body must be refused like any other."""
    lifetime = 1.0
    vcenter = make_vcenter(VISMOCK_SESSION_LIFETIME=lifetime)
    vcenter.add_task("task-read", {"state": "success"})
    vcenter.resume()
    soap = vcenter.soap()
    body = b"<prop>info</prop>"
    before = soap.call("Fetch", "Task", "task-read", body.decode())
    assert before.status == 200, before.body.decode()
    logged_in_by = vcenter.now()  # the login was no later than this
    deadline = time.monotonic() + 30
    while vcenter.now() <= logged_in_by + timedelta(seconds=lifetime + 0.05):  # the admin read writes nothing
        assert time.monotonic() < deadline, "the mock's clock does not run"
        time.sleep(0.05)
    fresh = soap.call("Fetch", "Task", "task-525", body.decode())
    assert SoapFault.parse(fresh) is not None  # a body it never sent is refused
    again = soap.call("Fetch", "Task", "task-read", body.decode())
    fault = SoapFault.parse(again)
    assert fault is not None and fault.type == "NotAuthenticated", (again.status, again.body[:300])


def test_sessions_beyond_the_cap_end_the_oldest(make_vcenter: Callable[..., Vcenter]) -> None:
    vcenter = make_vcenter(VISMOCK_SESSION_CAP=3)
    clients = [vcenter.soap() for _ in range(5)]
    alive = [
        SoapFault.parse(client.call("CurrentTime", "ServiceInstance", "ServiceInstance")) is None
        for client in clients
    ]
    assert alive == [False, False, True, True, True]


def test_reset_ends_every_session(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    vcenter.reset()
    assert soap.fault("CurrentTime", "ServiceInstance", "ServiceInstance").type == "NotAuthenticated"


# -- what a session owns -------------------------------------------------------------------------------------


def create_collector(soap: Soap) -> str:
    return (
        soap.ok("CreatePropertyCollector", "PropertyCollector", "propertyCollector").findtext(
            "v:returnval", namespaces=NS
        )
        or ""
    )


def test_a_session_s_objects_are_another_session_s_managed_object_not_found(vcenter: Vcenter) -> None:
    owner, other = vcenter.soap(), vcenter.soap()
    collector = create_collector(owner)
    view = (
        owner.ok("CreateListView", "ViewManager", "ViewManager").findtext("v:returnval", namespaces=NS) or ""
    )
    assert (
        other.fault("DestroyPropertyCollector", "PropertyCollector", collector).type
        == "ManagedObjectNotFound"
    )
    assert other.fault("DestroyView", "ListView", view).type == "ManagedObjectNotFound"
    owner.ok("DestroyView", "ListView", view)  # its own: fine


def test_logout_ends_what_the_session_owned(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    collector = create_collector(soap)
    soap.logout()
    again = vcenter.soap()
    assert (
        again.fault("DestroyPropertyCollector", "PropertyCollector", collector).type
        == "ManagedObjectNotFound"
    )


def test_a_session_keeps_at_most_32_event_collectors(vcenter: Vcenter) -> None:
    soap, other = vcenter.soap(), vcenter.soap()
    assert soap.properties("EventManager", "EventManager", "maxCollector")["maxCollector"].text == "32"
    made = [
        soap.ok("CreateCollectorForEvents", "EventManager", "EventManager", "<filter/>").findtext(
            "v:returnval", namespaces=NS
        )
        or ""
        for _ in range(32)
    ]
    fault = soap.fault("CreateCollectorForEvents", "EventManager", "EventManager", "<filter/>")
    assert fault.type == "InvalidArgument" and "32" in fault.message
    other.ok("CreateCollectorForEvents", "EventManager", "EventManager", "<filter/>")  # a session each
    soap.ok("DestroyCollector", "EventHistoryCollector", made[0])
    soap.ok("CreateCollectorForEvents", "EventManager", "EventManager", "<filter/>")  # room again


@pytest.mark.slow
def test_a_session_keeps_at_most_10000_objects(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    first = ""
    for number in range(10_000):
        view = (
            soap.ok("CreateListView", "ViewManager", "ViewManager").findtext("v:returnval", namespaces=NS)
            or ""
        )
        first = first or view
        assert view, number
    fault = soap.fault("CreateListView", "ViewManager", "ViewManager")
    assert fault.type == "InvalidState" and "destroy some first" in fault.message
    assert create_collector(vcenter.soap())  # another session has room of its own
    soap.ok("DestroyView", "ListView", first)
    soap.ok("CreateListView", "ViewManager", "ViewManager")  # room again
