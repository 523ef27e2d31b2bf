"""docs/soap.md's "What is served" and "What is not supported", held to what is served.

The served-methods table must be exactly the registry's methods. Every property vim25 gives a
served type is served, unset when the mock has no value for it: the properties table must name
every property a client reads a value of (every object of the built-in state and one of each kind
a session makes, read with ``all`` through the SOAP face), and only vim25 properties. Each "not
supported" item must be a real vim25 method or property of its type (pyVmomi's type model, the
vim25 model) that the mock does not serve, or has no value for on any object of the type, and each
manager said to be missing must be unset in a real RetrieveServiceContent.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import ROOT
from tests.support.served_api import (
    derived_properties,
    served_methods,
    served_on,
    served_properties,
    served_types,
)
from tests.support.soap import assert_valid, backend_of, call_ok, call_xml, logged_in, post, xpath
from vismock.mockserver.app import create_app
from vismock.mockserver.pytest_plugin import VismockServer
from vismock.mockserver.state.registry import is_a
from vismock.schemas import managed_lineage, managed_property_type

SOAP_DOC = (ROOT / "docs" / "soap.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)^## ", SOAP_DOC, re.S | re.M)
    assert found is not None, f"docs/soap.md lost its section {title!r}"
    return found.group(1)


def marked(name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->(.*?)<!-- {name}:end -->", SOAP_DOC, re.S)
    assert found is not None, f"docs/soap.md lost its {name} markers"
    return found.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of a markdown table's body rows."""
    rows = [
        line.strip().strip("|").split(" | ") for line in text.strip().splitlines() if line.startswith("|")
    ]
    return rows[2:]


def names(cell: str) -> list[str]:
    return re.findall(r"`([\w.]+)`", cell)


def not_served(marker: str) -> list[tuple[str, str]]:
    """(type, item) for each item of a not-served table: the type is the row's first word."""
    return [(row[0].split()[0], item) for row in table_rows(marked(marker)) for item in names(row[1])]


def vim25_methods(type_name: str) -> set[str]:
    """Every method vim25 defines on *type_name* (its supertypes' included), from pyVmomi."""
    from pyVmomi import vim

    return {
        info.wsdlName
        for cls in getattr(vim, type_name).__mro__
        for info in getattr(cls, "_methodInfo", {}).values()
    }


def documented_properties() -> set[str]:
    served = section("What is served").split("Objects and properties")[1]
    return {name.split(".")[0] for row in table_rows(served) for name in names(row[1])}


def test_the_served_methods_table_is_the_registry() -> None:
    served = section("What is served").split("Objects and properties")[0]
    documented = {name for row in table_rows(served) for name in names(row[0])}
    registered = {method for methods in served_methods().values() for method in methods}
    assert documented == registered


# -- properties: which hold a value, as a client reads them


def _made(client: FlaskClient, method: str, this_type: str, this: str, args: str = "") -> str:
    return str(xpath(call_ok(client, method, this_type, this, args), "//v:returnval/text()")[0])


@pytest.fixture(scope="module")
def valued() -> Iterator[dict[str, set[str]]]:
    """Each type's properties that hold a value on some object a logged-in client reads: every
    served object of the built-in state, after the session made one of each kind it can (a
    collector with a filter, container and list views, an event collector, a snapshot, a clone)."""
    app = create_app({})
    backend = backend_of(app)
    with app.test_client() as client:
        logged_in(client)
        collector = _made(client, "CreatePropertyCollector", "PropertyCollector", "propertyCollector")
        spec = (
            '<spec><propSet><type>Task</type><all>true</all></propSet><objectSet><obj type="Task">task-525'
            "</obj></objectSet></spec><partialUpdates>false</partialUpdates>"
        )
        _made(client, "CreateFilter", "PropertyCollector", collector, spec)
        container = '<container type="Folder">group-d1</container><recursive>true</recursive>'
        _made(client, "CreateContainerView", "ViewManager", "ViewManager", container)
        _made(
            client, "CreateListView", "ViewManager", "ViewManager", '<obj type="VirtualMachine">vm-601</obj>'
        )
        _made(client, "CreateCollectorForEvents", "EventManager", "EventManager", "<filter/>")
        snapshot = "<name>before</name><memory>false</memory><quiesce>false</quiesce>"
        _made(client, "CreateSnapshot_Task", "VirtualMachine", "vm-601", snapshot)
        backend.advance(3600)
        clone = '<folder type="Folder">group-v100</folder><name>copy</name><spec><location/><template>false'
        _made(
            client,
            "CloneVM_Task",
            "VirtualMachine",
            "vm-601",
            clone + "</template><powerOn>true</powerOn></spec>",
        )
        backend.advance(3600)
        found: dict[str, set[str]] = {}
        for obj in backend.registry.all():
            if obj.vim_type not in served_types():
                continue
            read = (
                f"<specSet><propSet><type>{obj.vim_type}</type><all>true</all></propSet>"
                f'<objectSet><obj type="{obj.vim_type}">{obj.id}</obj></objectSet></specSet>'
            )
            response = post(
                client, call_xml("RetrieveProperties", "PropertyCollector", "propertyCollector", read)
            )
            assert response.status_code == 200, (obj, response.data)
            assert_valid(response.data)  # every value of every object is valid vim25
            found.setdefault(obj.vim_type, set()).update(xpath(response.data, "//v:propSet/v:name/text()"))
        assert {"PropertyFilter", "ContainerView", "ListView", "EventHistoryCollector"} <= set(found)
        assert "VirtualMachineSnapshot" in found and backend.inventory.named("copy", "VirtualMachine")
        yield found


def valued_on(type_name: str, valued: dict[str, set[str]]) -> set[str]:
    """The properties with a value on some object of *type_name* or of a subtype of it."""
    return {prop for name, props in valued.items() if is_a(name, type_name) for prop in props}


def test_every_property_a_client_reads_a_value_of_is_in_the_properties_table(
    valued: dict[str, set[str]],
) -> None:
    read = {prop for props in valued.values() for prop in props}
    assert read - documented_properties() == set()


def test_the_properties_table_names_only_properties_vim25_gives_a_served_type() -> None:
    every = {prop for props in served_properties().values() for prop in props}
    assert documented_properties() - every == set()


def test_every_derived_property_is_a_vim25_property_of_its_type() -> None:
    for type_name, derived in derived_properties().items():
        assert derived <= served_properties()[type_name], type_name


@pytest.mark.parametrize(("type_name", "method"), not_served("not-served-methods"))
def test_a_method_said_not_served_is_a_vim25_method_vismock_does_not_serve(
    type_name: str, method: str
) -> None:
    assert method in vim25_methods(type_name), f"{type_name}.{method} is not a vim25 method"
    assert method not in served_on(type_name, served_methods())


@pytest.mark.parametrize(("type_name", "prop"), not_served("unset-properties"))
def test_a_property_said_unset_is_a_vim25_property_no_object_has_a_value_for(
    valued: dict[str, set[str]], type_name: str, prop: str
) -> None:
    assert managed_property_type(type_name, prop) is not None, f"vim25 has no {type_name}.{prop}"
    assert prop in served_on(type_name, served_properties())  # served: read as unset
    assert prop not in valued_on(type_name, valued)


def test_every_type_named_is_a_vim25_managed_type() -> None:
    for type_name, _ in not_served("not-served-methods") + not_served("unset-properties"):
        assert managed_lineage(type_name)[-1] == "ManagedObject", type_name


def test_the_managers_said_missing_are_unset_in_the_service_content(vismock_si: Any) -> None:
    missing = names(marked("not-served-managers"))
    assert len(missing) >= 10
    content = vismock_si.content
    for manager in missing:
        assert manager in type(content)._propInfo, f"ServiceContent has no {manager}"
        assert getattr(content, manager) is None, manager
    assert content.taskManager is not None and content.propertyCollector is not None  # it does answer


def test_a_method_said_not_served_is_answered_method_not_found(vismock_si: Any) -> None:
    from pyVmomi import vim, vmodl

    assert ("VirtualMachine", "ShutdownGuest") in not_served("not-served-methods")
    with pytest.raises(vmodl.fault.MethodNotFound) as refused:
        vim.VirtualMachine("vm-601", vismock_si._stub).ShutdownGuest()
    assert refused.value.method == "ShutdownGuest"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/session"), ("POST", "/rest/com/vmware/cis/session")]
)
def test_the_automation_rest_api_is_not_served(vismock_server: VismockServer, method: str, path: str) -> None:
    request = urllib.request.Request(
        f"{vismock_server.url}{path}", method=method, data=b"" if method == "POST" else None
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404
