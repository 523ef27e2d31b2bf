"""docs/soap.md's "What is served" and "What is not supported", held to what is served.

The served-methods table must be exactly the registry's methods; the registry's properties must all
be in the served-properties table. Each "not supported" item must be a real vim25 method or
property of its type (pyVmomi's type model, the schema's managed-types.toml) that the registry does
not serve, and each manager said to be missing must be unset in a real RetrieveServiceContent.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support import ROOT
from tests.support.served_api import served_methods, served_on, served_properties
from vismock.mockserver.pytest_plugin import VismockServer
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


def test_the_served_methods_table_is_the_registry() -> None:
    served = section("What is served").split("Objects and properties")[0]
    documented = {name for row in table_rows(served) for name in names(row[0])}
    registered = {method for methods in served_methods().values() for method in methods}
    assert documented == registered


def test_every_served_property_is_in_the_served_properties_table() -> None:
    served = section("What is served").split("Objects and properties")[1]
    documented = {name for row in table_rows(served) for name in names(row[1])}
    registered = {path for paths in served_properties().values() for path in paths if "." not in path}
    assert registered - documented == set()


@pytest.mark.parametrize(("type_name", "method"), not_served("not-served-methods"))
def test_a_method_said_not_served_is_a_vim25_method_vismock_does_not_serve(
    type_name: str, method: str
) -> None:
    assert method in vim25_methods(type_name), f"{type_name}.{method} is not a vim25 method"
    assert method not in served_on(type_name, served_methods())


@pytest.mark.parametrize(("type_name", "prop"), not_served("not-served-properties"))
def test_a_property_said_not_served_is_a_vim25_property_vismock_does_not_serve(
    type_name: str, prop: str
) -> None:
    assert managed_property_type(type_name, prop) is not None, f"vim25 has no {type_name}.{prop}"
    assert prop not in served_on(type_name, served_properties())


def test_every_type_named_is_a_vim25_managed_type() -> None:
    for type_name, _ in not_served("not-served-methods") + not_served("not-served-properties"):
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
