"""The SOAP face on the wire (Flask test client): every method, session and fault, every response
checked against the vim25 model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from tests.support import wire as vim25
from tests.support.soap import (
    SOAP_DATA,
    T0,
    USER,
    assert_valid,
    backend_of,
    call_fault,
    call_ok,
    call_xml,
    logged_in,
    login_body,
    make_app,
    post,
)
from vismock.faults import fault_named
from vismock.mockserver.faces.soap import API_VERSION, fault_envelope
from vismock.mockserver.state import FaultRule
from vismock.mockserver.vim25 import taskinfo, xml

NS = {"v": "urn:vim25", "s": vim25.SOAPENV, "xsi": vim25.XSI}
CASES = yaml.safe_load((SOAP_DATA / "cases.yaml").read_text())["cases"]


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def _id(case: dict[str, Any]) -> str:
    return f"{case['call'].removesuffix('.xml')}-{'session' if case['session'] else 'anonymous'}"


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_call(client: FlaskClient, case: dict[str, Any]) -> None:
    if case["session"]:
        logged_in(client)
    response = post(client, (SOAP_DATA / "calls" / case["call"]).read_bytes())
    assert response.status_code == case["status"]
    assert response.content_type.startswith("text/xml")
    assert_valid(response.data)
    if "fault" in case:
        assert vim25.fault_type_of(response.data) == case["fault"]
    else:
        body = etree.fromstring(response.data).find("s:Body", NS)
        assert body is not None and etree.QName(body[0]).localname == case["element"]


def _xpath(body: bytes, path: str) -> list[Any]:
    found = etree.fromstring(body).xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return found


# -- service, versions, sessions --------------------------------------------------------------------


def test_version_file_names_urn_vim25(client: FlaskClient) -> None:
    response = client.get("/sdk/vimServiceVersions.xml")
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.tag == "namespaces" and root.get("version") == "1.0"
    assert root.findtext("namespace/name") == "urn:vim25"
    assert root.findtext("namespace/version") == API_VERSION


def test_sdk_vim_path_is_the_same_endpoint(client: FlaskClient) -> None:
    response = post(
        client, call_xml("RetrieveServiceContent", "ServiceInstance", "ServiceInstance"), "/sdk/vim"
    )
    assert response.status_code == 200
    assert_valid(response.data)


def test_login_sets_the_session_cookie_and_returns_a_user_session(client: FlaskClient) -> None:
    response = post(client, login_body())
    assert response.status_code == 200
    assert_valid(response.data)
    cookie = response.headers["Set-Cookie"]
    assert re.match(r"vmware_soap_session=[^;]+; Path=/; HttpOnly", cookie)
    assert _xpath(response.data, "//v:returnval/v:userName/text()") == [USER]
    key = cookie.split(";")[0].split("=", 1)[1]
    assert key not in response.data.decode()  # the session key (a bearer secret) is only in the cookie


def test_the_state_file_holds_a_hash_of_the_session_key_never_the_key_nor_the_password(
    tmp_path: Path,
) -> None:
    database = tmp_path / "state.sqlite3"
    app = make_app(VISMOCK_DB=str(database), VISMOCK_ACCOUNTS={"bmc": "pa55-w0rd-9f3"})
    client = app.test_client()
    response = post(client, login_body("bmc", "pa55-w0rd-9f3"))
    assert response.status_code == 200
    key = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    collector = call_xml("CreatePropertyCollector", "PropertyCollector", "propertyCollector")
    assert post(client, collector).status_code == 200  # an object the session owns, stored too
    backend_of(app).close()
    written = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith(database.name)
    )
    assert hashlib.sha256(key.encode()).hexdigest().encode() in written  # the session is in the file...
    assert key.encode() not in written  # ...under a hash of its key
    assert b"pa55-w0rd-9f3" not in written


def test_logout_ends_the_session(client: FlaskClient) -> None:
    logged_in(client)
    fetch = call_xml("Fetch", "Task", "task-done", "<prop>info</prop>")
    assert post(client, fetch).status_code == 200
    logout = post(client, call_xml("Logout", "SessionManager", "SessionManager"))
    assert logout.status_code == 200
    assert_valid(logout.data)
    after = post(client, fetch)
    assert after.status_code == 500
    assert vim25.fault_type_of(after.data) == "NotAuthenticated"


def test_session_is_active_for_the_own_session(app: Flask, client: FlaskClient) -> None:
    key = backend_of(app).sessions.create(USER)
    logged_in(client)
    body = call_xml(
        "SessionIsActive",
        "SessionManager",
        "SessionManager",
        f"<sessionID>{key}</sessionID><userName>{USER}</userName>",
    )
    response = post(client, body)
    assert_valid(response.data)
    assert _xpath(response.data, "//v:returnval/text()") == ["true"]


def test_an_unknown_cookie_is_not_a_session(client: FlaskClient) -> None:
    client.set_cookie("vmware_soap_session", "forged")
    response = post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>"))
    assert vim25.fault_type_of(response.data) == "NotAuthenticated"


def test_the_journal_records_soap_calls_without_passwords(app: Flask, client: FlaskClient) -> None:
    post(client, login_body(password="s3cret-wrong"))
    logged_in(client)
    post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>"))
    entries = backend_of(app).journal.entries(face="soap")
    outcomes = [(entry.operation, entry.outcome) for entry in entries]
    assert ("Login", "InvalidLogin") in outcomes
    assert ("Fetch", "ok") in outcomes
    fetch = next(entry for entry in entries if entry.operation == "Fetch")
    assert fetch.task_ids == ("task-done",) and fetch.user == USER
    assert "s3cret" not in repr(entries)


# -- calls vCenter cannot read ----------------------------------------------------------------------
# vCenter reads the whole call first: a required parameter missing ("Required parameter path is
# missing while parsing call information for method RegisterVM_Task") or an element the method does
# not declare ("Unexpected element tag ... seen") is InvalidRequest, before the session is looked at
# (NotAuthenticated is the permission check of the method it has read).

_FILTER_SPEC = (
    '<spec><propSet><type>Task</type><all>true</all></propSet><objectSet><obj type="Task">task-ok</obj>'
    "</objectSet></spec>"
)


@pytest.mark.parametrize(
    ("method", "this_type", "this", "args", "named"),
    [
        ("CreateFilter", "PropertyCollector", "propertyCollector", _FILTER_SPEC, "partialUpdates"),
        ("Login", "SessionManager", "SessionManager", "<userName>vismock</userName>", "password"),
        (
            "Login",
            "SessionManager",
            "SessionManager",
            "<userName>vismock</userName><password>vismock</password><domain>corp</domain>",
            "domain",
        ),
    ],
    ids=["a-missing-parameter", "a-missing-password", "an-undeclared-element"],
)
@pytest.mark.parametrize("session", [True, False], ids=["session", "anonymous"])
def test_a_call_vcenter_cannot_read_is_an_invalid_request_naming_the_element(
    client: FlaskClient, method: str, this_type: str, this: str, args: str, named: str, session: bool
) -> None:
    if session:
        logged_in(client)
    response = post(client, call_xml(method, this_type, this, args))
    assert response.status_code == 500
    assert_valid(response.data)
    assert vim25.fault_type_of(response.data) == "InvalidRequest"
    assert named in _xpath(response.data, "//faultstring/text()")[0]


def test_a_call_read_whole_gets_the_session_checked(client: FlaskClient) -> None:
    spec = _FILTER_SPEC + "<partialUpdates>false</partialUpdates>"
    response = post(client, call_xml("CreateFilter", "PropertyCollector", "propertyCollector", spec))
    assert vim25.fault_type_of(response.data) == "NotAuthenticated"


# -- an entity a task names that the inventory does not hold ----------------------------------------


def test_a_vm_only_a_task_names_reads_as_a_vm_of_its_name(client: FlaskClient) -> None:
    logged_in(client)  # vm-10 is task-ok's entity (web-10); the SOAP test inventory has no vm-10
    spec = (
        "<specSet><propSet><type>VirtualMachine</type><all>true</all></propSet>"
        '<objectSet><obj type="VirtualMachine">vm-10</obj></objectSet></specSet>'
    )
    body = call_ok(client, "RetrieveProperties", "PropertyCollector", "propertyCollector", spec)
    assert _xpath(body, "//v:propSet[v:name='name']/v:val/text()") == ["web-10"]
    # pyVim's WaitForTask reads the running task's VM's runtime.question: the runtime is there.
    assert _xpath(body, "//v:propSet[v:name='runtime']/v:val/v:powerState/text()") == ["poweredOn"]


@pytest.mark.parametrize("method", ["PowerOffVM_Task", "Destroy_Task", "CreateSnapshot_Task"])
def test_a_vm_only_a_task_names_has_no_methods_but_fetch(client: FlaskClient, method: str) -> None:
    logged_in(client)
    args = "<name>s</name><memory>false</memory><quiesce>false</quiesce>" if "Snapshot" in method else ""
    assert call_fault(client, method, "VirtualMachine", "vm-10", args) == "ManagedObjectNotFound"


# -- TaskInfo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_id", ["task-ok", "task-fail", "task-queued", "task-running", "task-done", "task-error", "task-long"]
)
def test_fetched_task_info_is_the_backend_task_info(app: Flask, client: FlaskClient, task_id: str) -> None:
    logged_in(client)
    response = post(client, call_xml("Fetch", "Task", task_id, "<prop>info</prop>"))
    assert_valid(response.data)
    info = backend_of(app).tasks.info(task_id, poll=False)
    (returnval,) = _xpath(response.data, "//v:returnval")
    assert returnval.get(f"{{{vim25.XSI}}}type") == "TaskInfo"
    fields = {etree.QName(child).localname: child for child in returnval}
    assert fields["key"].text == task_id
    assert fields["task"].get("type") == "Task" and fields["task"].text == task_id
    assert fields["state"].text == info["state"]
    assert fields["queueTime"].text == str(info["queueTime"])
    entity = vim25.task_entity(info)
    assert entity is not None
    assert (fields["entity"].get("type"), fields["entity"].text) == (entity.type, entity.value)
    reason_type = next(name for name in vim25.reason_types() if name in info)
    assert fields["reason"].get(f"{{{vim25.XSI}}}type") == reason_type
    if "error" in info:
        assert fields["error"][0].get(f"{{{vim25.XSI}}}type") == info["error"]["fault"]
        assert (
            fields["error"].findtext("v:localizedMessage", namespaces=NS) == info["error"]["localizedMessage"]
        )


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        # nothing given: the required path filled with the message (the datastore is optional)
        (
            (),
            '"InvalidDatastorePath"><datastorePath>bad path</datastorePath></InvalidDatastorePathFault>',
        ),
        (
            (("datastore", "datastore-1"),),
            '<datastore type="Datastore">datastore-1</datastore><datastorePath>bad path</datastorePath>',
        ),
        ((("datastore", "datastore-1"), ("datastorePath", "[ds] a.vmx")), "<datastorePath>[ds] a.vmx</"),
    ],
)
def test_any_vim25_fault_is_sent_whole_whatever_fields_it_is_given(
    fields: tuple[tuple[str, str], ...], detail: str
) -> None:
    body = fault_envelope(fault_named("InvalidDatastorePath", "bad path", fields))
    assert_valid(body)
    assert vim25.fault_type_of(body) == "InvalidDatastorePath" and detail in body.decode()


def test_unknown_fault_types_are_sent_as_system_error(app: Flask) -> None:
    info = dict(backend_of(app).tasks.info("task-error", poll=False))
    info["error"] = {"fault": "NoSuchVimFault", "localizedMessage": "boom"}
    body = xml.response_envelope("Fetch", xml.render("returnval", taskinfo.to_vim25(info), "anyType"))
    assert_valid(body)
    assert _xpath(body, "//v:error/v:fault/@xsi:type") == ["SystemError"]
    assert _xpath(body, "//v:error/v:localizedMessage/text()") == ["NoSuchVimFault: boom"]


def test_a_task_description_s_arguments_are_key_any_values(app: Flask) -> None:
    info = dict(backend_of(app).tasks.info("task-done", poll=False))
    info["description"] = {"key": "k", "arg": [{"key": "vm", "value": "db-01"}], "message": "m"}
    body = xml.response_envelope("Fetch", xml.render("returnval", taskinfo.to_vim25(info), "anyType"))
    assert_valid(body)
    assert _xpath(body, "//v:description/v:arg/v:value/text()") == ["db-01"]


def test_a_recorded_result_of_a_task_returning_an_array_stays_text(app: Flask) -> None:
    # vim25 declares CheckAddHostEvc_Task's task result ClusterEVCManagerCheckResult[]: no one type a
    # recorded text could name.
    info = dict(backend_of(app).tasks.info("task-done", poll=False))
    info.update(name="CheckAddHostEvc_Task", result="recorded")
    body = xml.response_envelope("Fetch", xml.render("returnval", taskinfo.to_vim25(info), "anyType"))
    assert_valid(body)
    assert _xpath(body, "//v:result/@xsi:type") == ["xsd:string"]


# -- RetrievePropertiesEx paging --------------------------------------------------------------------


def _retrieve_ex(ids: list[str], max_objects: int) -> bytes:
    objects = "".join(f'<objectSet><obj type="Task">{task_id}</obj></objectSet>' for task_id in ids)
    spec = f"<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>{objects}</specSet>"
    options = f"<options><maxObjects>{max_objects}</maxObjects></options>"
    return call_xml("RetrievePropertiesEx", "PropertyCollector", "propertyCollector", spec + options)


def test_retrieve_properties_ex_pages_with_a_token(client: FlaskClient) -> None:
    logged_in(client)
    ids = ["task-ok", "task-fail", "task-queued", "task-running", "task-done"]
    response = post(client, _retrieve_ex(ids, 2))
    assert_valid(response.data)
    seen = _xpath(response.data, "//v:objects/v:obj/text()")
    tokens = _xpath(response.data, "//v:token/text()")
    while tokens:
        more = call_xml(
            "ContinueRetrievePropertiesEx",
            "PropertyCollector",
            "propertyCollector",
            f"<token>{tokens[0]}</token>",
        )
        page = post(client, more)
        assert page.status_code == 200
        assert_valid(page.data)
        seen += _xpath(page.data, "//v:objects/v:obj/text()")
        tokens = _xpath(page.data, "//v:token/text()")
    assert seen == ids


def test_a_token_is_bound_to_its_session(app: Flask) -> None:
    first, second = logged_in(app.test_client()), logged_in(app.test_client())
    token = _xpath(post(first, _retrieve_ex(["task-ok", "task-done"], 1)).data, "//v:token/text()")[0]
    body = call_xml(
        "ContinueRetrievePropertiesEx", "PropertyCollector", "propertyCollector", f"<token>{token}</token>"
    )
    assert vim25.fault_type_of(post(second, body).data) == "InvalidArgument"


# -- filters and WaitForUpdatesEx -------------------------------------------------------------------


def _create_filter(client: FlaskClient, ids: list[str], paths: str = "<all>true</all>") -> str:
    objects = "".join(f'<objectSet><obj type="Task">{task_id}</obj></objectSet>' for task_id in ids)
    spec = f"<spec><propSet><type>Task</type>{paths}</propSet>{objects}</spec>"
    spec += "<partialUpdates>false</partialUpdates>"
    response = post(client, call_xml("CreateFilter", "PropertyCollector", "propertyCollector", spec))
    assert response.status_code == 200, response.data
    assert_valid(response.data)
    return str(_xpath(response.data, "//v:returnval/text()")[0])


def _wait_ex(client: FlaskClient, version: str, max_wait: int = 0) -> bytes:
    args = f"<version>{version}</version><options><maxWaitSeconds>{max_wait}</maxWaitSeconds></options>"
    response = post(client, call_xml("WaitForUpdatesEx", "PropertyCollector", "propertyCollector", args))
    assert response.status_code == 200, response.data
    assert_valid(response.data)
    return bytes(response.data)


def test_wait_for_updates_ex_reports_enter_then_only_changes(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    filter_id = _create_filter(client, ["task-ok", "task-done"])
    first = _wait_ex(client, "")
    assert _xpath(first, "//v:filterSet/v:filter/text()") == [filter_id]
    assert _xpath(first, "//v:objectSet/v:kind/text()") == ["enter", "enter"]
    assert _xpath(first, "//v:changeSet/v:val/v:state/text()") == ["queued", "success"]
    version = str(_xpath(first, "//v:returnval/v:version/text()")[0])

    assert _xpath(_wait_ex(client, version), "//v:returnval") == []  # nothing changed: no UpdateSet

    backend_of(app).advance(5)
    second = _wait_ex(client, version)
    assert _xpath(second, "//v:objectSet/v:obj/text()") == ["task-ok"]
    assert _xpath(second, "//v:objectSet/v:kind/text()") == ["modify"]
    assert _xpath(second, "//v:changeSet/v:val/v:state/text()") == ["running"]
    assert _xpath(second, "//v:returnval/v:version/text()") != [version]


def test_wait_for_updates_reports_field_paths(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    _create_filter(client, ["task-ok"], "<pathSet>info.state</pathSet><pathSet>info.progress</pathSet>")
    first = _wait_ex(client, "")
    assert _xpath(first, "//v:changeSet/v:name/text()") == ["info.state"]  # progress unset: not sent
    backend_of(app).advance(5)
    second = _wait_ex(client, str(_xpath(first, "//v:version/text()")[0]))
    assert _xpath(second, "//v:changeSet/v:name/text()") == ["info.state", "info.progress"]
    assert _xpath(second, "//v:changeSet/v:val/text()") == ["running", "50"]


def test_a_deleted_task_leaves_the_filter(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    _create_filter(client, ["task-ok", "task-done"])
    version = str(_xpath(_wait_ex(client, ""), "//v:version/text()")[0])
    backend_of(app).tasks.delete("task-done")
    update = _wait_ex(client, version)
    assert _xpath(update, "//v:objectSet/v:kind/text()") == ["leave"]


def test_destroyed_filters_report_nothing(client: FlaskClient) -> None:
    logged_in(client)
    filter_id = _create_filter(client, ["task-ok"])
    destroy = post(client, call_xml("DestroyPropertyFilter", "PropertyFilter", filter_id))
    assert destroy.status_code == 200
    assert_valid(destroy.data)
    assert _xpath(_wait_ex(client, ""), "//v:filterSet") == []
    again = post(client, call_xml("DestroyPropertyFilter", "PropertyFilter", filter_id))
    assert vim25.fault_type_of(again.data) == "ManagedObjectNotFound"


def test_a_filter_on_an_unknown_task_is_refused(client: FlaskClient) -> None:
    logged_in(client)
    spec = (
        '<spec><propSet><type>Task</type><all>true</all></propSet><objectSet><obj type="Task">task-x</obj>'
        "</objectSet></spec><partialUpdates>false</partialUpdates>"
    )
    response = post(client, call_xml("CreateFilter", "PropertyCollector", "propertyCollector", spec))
    assert vim25.fault_type_of(response.data) == "ManagedObjectNotFound"


def test_wait_for_updates_returns_an_update_set_after_its_cap() -> None:
    with make_app(VISMOCK_SOAP_MAX_WAIT=0).test_client() as client:
        logged_in(client)
        _create_filter(client, ["task-ok"])
        version = str(_xpath(_wait_ex(client, ""), "//v:version/text()")[0])
        body = call_xml(
            "WaitForUpdates", "PropertyCollector", "propertyCollector", f"<version>{version}</version>"
        )
        response = post(client, body)
        assert_valid(response.data)
        assert _xpath(response.data, "//v:returnval/v:version/text()") == [version]
        assert _xpath(response.data, "//v:filterSet") == []


# -- CancelTask -------------------------------------------------------------------------------------


def test_cancel_task_ends_it_in_error_with_request_canceled(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    response = post(client, call_xml("CancelTask", "Task", "task-running"))
    assert response.status_code == 200
    assert_valid(response.data)
    info = post(client, call_xml("Fetch", "Task", "task-running", "<prop>info</prop>")).data
    assert _xpath(info, "//v:returnval/v:state/text()") == ["error"]
    assert _xpath(info, "//v:returnval/v:cancelled/text()") == ["true"]
    assert _xpath(info, "//v:error/v:fault/@xsi:type") == ["RequestCanceled"]
    again = post(client, call_xml("CancelTask", "Task", "task-running"))
    assert vim25.fault_type_of(again.data) == "InvalidState"


# -- fault rules ------------------------------------------------------------------------------------


def test_an_error_rule_answers_a_typed_soap_fault(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    backend_of(app).faults.add(
        FaultRule(
            action="error",
            face="soap",
            operation="Fetch",
            task="task-done",
            fault="NotSupported",
            message="nope",
        )
    )
    response = post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>"))
    assert response.status_code == 500
    assert_valid(response.data)
    assert vim25.fault_type_of(response.data) == "NotSupported"
    assert post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>")).status_code == 200
    assert backend_of(app).journal.count(face="soap", outcome="fault-injected") == 1


def test_a_status_rule_changes_the_http_status(app: Flask, client: FlaskClient) -> None:
    logged_in(client)
    backend_of(app).faults.add(FaultRule(action="status", face="soap", operation="Fetch", http_status=503))
    response = post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>"))
    assert response.status_code == 503


def test_a_task_added_later_is_visible_at_once(app: Flask, client: FlaskClient) -> None:
    from vismock.mockserver.state import TaskSpec

    backend_of(app).tasks.put(
        [TaskSpec(id="task-new", name="PowerOffVM_Task", description_id="VirtualMachine.powerOff")]
    )
    logged_in(client)
    response = post(client, call_xml("Fetch", "Task", "task-new", "<prop>info</prop>"))
    assert_valid(response.data)
    assert _xpath(response.data, "//v:returnval/v:queueTime/text()") == [vim25.format_datetime(T0)]


def test_a_body_over_the_size_limit_is_an_invalid_request() -> None:
    client = make_app(VISMOCK_MAX_CONTENT_LENGTH=1000).test_client()
    response = post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>" + " " * 2000))
    assert response.status_code == 500
    assert_valid(response.data)
    assert vim25.fault_type_of(response.data) == "InvalidRequest"


def test_an_internal_error_is_a_system_error_fault(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged_in(client)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the store is on fire")

    monkeypatch.setattr(backend_of(app), "invoke", broken)  # every method is called through it
    response = post(client, call_xml("Fetch", "Task", "task-done", "<prop>info</prop>"))
    assert response.status_code == 500
    assert_valid(response.data)
    assert vim25.fault_type_of(response.data) == "SystemError"
    assert b"on fire" not in response.data


def test_a_repeated_call_sees_the_task_change(app: Flask, client: FlaskClient) -> None:
    # The same bytes are parsed once per thread and their rendering is reused while the
    # TaskInfo is unchanged: a change must still show on the very next identical call.
    logged_in(client)
    fetch = call_xml("Fetch", "Task", "task-ok", "<prop>info</prop>")
    states = []
    for advance in (0, 0, 5, 0, 5):
        backend_of(app).advance(advance)
        states += _xpath(post(client, fetch).data, "//v:returnval/v:state/text()")
    assert states == ["queued", "queued", "running", "running", "success"]


def test_the_inventory_is_read_through_the_property_collector() -> None:
    client = make_app().test_client()
    logged_in(client)
    spec = (
        "<specSet><propSet><type>Folder</type><pathSet>childEntity</pathSet></propSet>"
        "<propSet><type>Datacenter</type><pathSet>vmFolder</pathSet></propSet>"
        "<propSet><type>VirtualMachine</type><pathSet>runtime.powerState</pathSet><pathSet>parent</pathSet></propSet>"
        '<objectSet><obj type="Folder">group-d1</obj></objectSet>'
        '<objectSet><obj type="Datacenter">datacenter-2</obj></objectSet>'
        '<objectSet><obj type="VirtualMachine">vm-1100</obj></objectSet></specSet>'
    )
    response = post(
        client,
        call_xml("RetrievePropertiesEx", "PropertyCollector", "propertyCollector", spec + "<options/>"),
    )
    assert response.status_code == 200, response.data
    assert_valid(response.data)
    assert _xpath(
        response.data, "//v:propSet[v:name='childEntity']/v:val/v:ManagedObjectReference/text()"
    ) == ["datacenter-2"]
    assert _xpath(response.data, "//v:propSet[v:name='vmFolder']/v:val/@type") == ["Folder"]
    assert _xpath(response.data, "//v:propSet[v:name='runtime.powerState']/v:val/text()") == ["suspended"]
    assert _xpath(response.data, "//v:propSet[v:name='parent']/v:val/text()")[0].startswith("group-v")
