"""The XSDs that define the VIS adapter envelopes, and the catalog that names them.

Each VIS operation has one XSD in this package defining both root elements
for that operation; ``catalog.toml`` maps the operation name to its file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REQUEST_ROOT = "vmware-infrastructure-request"
RESPONSE_ROOT = "vmware-infrastructure-response"
CATALOG_FILE = "catalog.toml"


@dataclass(frozen=True, slots=True)
class Operation:
    """One VIS operation: its names, its XSD and the element naming its response body."""

    name: str
    type: str
    schema: Path
    response: str


def load_catalog(directory: Path) -> tuple[Operation, ...]:
    """Read ``catalog.toml`` in *directory*; schema paths resolve against it."""
    with open(directory / CATALOG_FILE, "rb") as fh:
        table = tomllib.load(fh)
    return tuple(
        Operation(
            name=name,
            type=entry["type"],
            schema=directory / entry["schema"],
            response=entry["response"],
        )
        for name, entry in table["operations"].items()
    )


def schema_directory() -> Path:
    """The shipped XSD folder (a plain directory in wheel and editable installs)."""
    # The package's own folder: importlib.resources would say the same and cost `vismock validate`
    # a twentieth of its start-up to import.
    return Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class TaskMethod:
    """A vim25 method that returns a Task: the type declaring it and its tasks' descriptionId."""

    name: str  # the wire name, TaskInfo.name: "PowerOnVM_Task"
    type: str  # "VirtualMachine"
    description_id: str  # "VirtualMachine.powerOn"


@cache
def task_methods() -> dict[str, TaskMethod]:
    """Every vim25 task method by wire name (``vim25/task-methods.toml``, derived from pyVmomi)."""
    with open(schema_directory() / "vim25" / "task-methods.toml", "rb") as fh:
        table = tomllib.load(fh)["methods"]
    return {name: TaskMethod(name, entry["type"], entry["descriptionId"]) for name, entry in table.items()}


XS = {"xs": "http://www.w3.org/2001/XMLSchema"}


@cache
def entity_types() -> tuple[str, ...]:
    """The element names of the adapter schema's ManagedEntity group, in schema order: the managed
    object types a TaskInfo's entity can be (``<VirtualMachine>vm-42</VirtualMachine>``)."""
    from lxml import etree

    tree = etree.parse(str(schema_directory() / "vim25-adapter.xsd"))
    names = tree.xpath("//xs:group[@name='ManagedEntity']//xs:element/@name", namespaces=XS)
    assert isinstance(names, list)  # an attribute-valued XPath always gives a list
    return tuple(str(name) for name in names)


@cache
def fault_types() -> frozenset[str]:
    """The vim25 fault types vismock serves: those the vim25 schema defines a ``<{Type}Fault>``
    detail element for, so that every client can read them."""
    from lxml import etree

    tree = etree.parse(str(schema_directory() / "vim25" / "vim25.xsd"))
    names = tree.getroot().xpath("xs:element/@name", namespaces=XS)
    assert isinstance(names, list)
    return frozenset(str(name)[: -len("Fault")] for name in names if str(name).endswith("Fault"))


@dataclass(frozen=True, slots=True)
class ManagedTypeInfo:
    """A vim25 managed object type: its supertype and its properties (name -> vim25 type)."""

    name: str
    base: str
    properties: dict[str, str]


@cache
def managed_types() -> dict[str, ManagedTypeInfo]:
    """Every vim25 managed object type by name (``vim25/managed-types.toml``, derived from pyVmomi)."""
    with open(schema_directory() / "vim25" / "managed-types.toml", "rb") as fh:
        table = tomllib.load(fh)
    return {name: ManagedTypeInfo(name, entry["base"], entry["properties"]) for name, entry in table.items()}


@cache
def managed_lineage(name: str) -> tuple[str, ...]:
    """*name* and its vim25 supertypes, nearest first, down to ``ManagedObject``."""
    types = managed_types()
    lineage = [name]
    while lineage[-1] in types:
        lineage.append(types[lineage[-1]].base)
    return tuple(lineage)


def managed_property_type(type_name: str, prop: str) -> str | None:
    """The vim25 type of property *prop* of managed type *type_name* (or a supertype); None when
    vim25 defines no such property."""
    types = managed_types()
    for name in managed_lineage(type_name):
        found = types[name].properties.get(prop) if name in types else None
        if found is not None:
            return found
    return None


@dataclass(frozen=True, slots=True)
class FaultField:
    """One field of a vim25 fault type, as the vim25 schema declares it."""

    name: str  # "existingState"
    type: str  # the XSD type's local name: "string", "ManagedObjectReference"
    required: bool

    @property
    def is_reference(self) -> bool:
        return self.type == "ManagedObjectReference"


@cache
def fault_fields(fault_type: str) -> tuple[FaultField, ...]:
    """The fields of vim25 fault *fault_type* in schema order, inherited ones first (MethodFault's
    own optional ``faultCause`` and ``faultMessage`` left out); () for a type vismock does not serve."""
    from lxml import etree

    tree = etree.parse(str(schema_directory() / "vim25" / "vim25.xsd"))
    chain: list[tuple[FaultField, ...]] = []
    name: str | None = fault_type
    while name and name != "MethodFault":
        found = tree.getroot().xpath("xs:complexType[@name=$name]", namespaces=XS, name=name)
        if not isinstance(found, list) or not found:
            return ()
        element: Any = found[0]
        chain.append(
            tuple(
                FaultField(
                    str(child.get("name")),
                    str(child.get("type")).rpartition(":")[2],
                    child.get("minOccurs") != "0",
                )
                for child in element.xpath(".//xs:sequence/xs:element", namespaces=XS)
            )
        )
        base = element.xpath("string(xs:complexContent/xs:extension/@base)", namespaces=XS)
        name = str(base).rpartition(":")[2] or None
    return tuple(field for own in reversed(chain) for field in own)
