"""The XSDs that define the VIS adapter envelopes, and the catalog that names them.

Each VIS operation has one XSD in this package defining both root elements
for that operation; ``catalog.toml`` maps the operation name to its file.
``vim25/model.json`` is the whole vim25 type model (:mod:`vismock.mockserver.vim25` loads it);
the vim25 questions below are answered from it.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import NamedTuple

REQUEST_ROOT = "vmware-infrastructure-request"
RESPONSE_ROOT = "vmware-infrastructure-response"
CATALOG_FILE = "catalog.toml"


# NamedTuples, not dataclasses: `vismock validate` imports this module at every start, and
# dataclasses (the module, then each class it defines) were 8% of that start's instructions.


class Operation(NamedTuple):
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


class TaskMethod(NamedTuple):
    """A vim25 method that returns a Task: the type declaring it and its tasks' descriptionId."""

    name: str  # the wire name, TaskInfo.name: "PowerOnVM_Task"
    type: str  # the managed type declaring it: "VirtualMachine"
    description_id: str  # "VirtualMachine.powerOn"
    result: str | None = (
        None  # TaskInfo.result's type when it succeeds ("VirtualMachineSnapshot"); None if none
    )


@cache
def task_methods() -> dict[str, TaskMethod]:
    """Every vim25 method that returns a Task, by wire name (from the vim25 model)."""
    from vismock.mockserver.vim25 import model

    vim25 = model()
    found = {}
    for name, (declared_by, result) in vim25.task_methods().items():
        method = vim25.method(declared_by, name)
        assert method is not None  # task_methods() lists declared methods
        found[name] = TaskMethod(name, declared_by, method.description_id, result)
    return found


XS = {"xs": "http://www.w3.org/2001/XMLSchema"}


@cache
def entity_types() -> tuple[str, ...]:
    """The element names of the adapter schema's ManagedEntity group, in schema order: the managed
    object types a TaskInfo's entity can be (``<VirtualMachine>vm-42</VirtualMachine>``).

    The adapter's schema, not vim25, decides: its envelopes name an entity by an element of the
    group, and vim25 has ManagedEntity types the adapter cannot name (OpaqueNetwork...)."""
    from lxml import etree

    tree = etree.parse(str(schema_directory() / "vim25-adapter.xsd"))
    names = tree.xpath("//xs:group[@name='ManagedEntity']//xs:element/@name", namespaces=XS)
    assert isinstance(names, list)  # an attribute-valued XPath always gives a list
    return tuple(str(name) for name in names)


@cache
def fault_types() -> frozenset[str]:
    """Every vim25 fault type: MethodFault and the types deriving from it (from the vim25 model)."""
    from vismock.mockserver.vim25 import model

    return model().fault_types()


@cache
def managed_lineage(name: str) -> tuple[str, ...]:
    """*name* and its vim25 supertypes, nearest first, down to ``ManagedObject`` (just *name* for a
    type vim25 does not define)."""
    from vismock.mockserver.vim25 import model

    vim25 = model()
    return vim25.lineage(name) if vim25.kind_or_none(name) == "managed" else (name,)


def managed_property_type(type_name: str, prop: str) -> str | None:
    """The vim25 type of property *prop* of managed type *type_name* (or a supertype), ``Type[]``
    for an array; None when vim25 defines no such property."""
    from vismock.mockserver.vim25 import model

    vim25 = model()
    if vim25.kind_or_none(type_name) != "managed":
        return None
    found = vim25.property(type_name, prop)
    return None if found is None else found.declared


class FaultField(NamedTuple):
    """One field of a vim25 fault type, as the vim25 model declares it."""

    name: str  # "existingState"
    type: str  # its vim25 type: "string", "VirtualMachinePowerState", "Task" (a reference)
    required: bool
    array: bool = False

    @property
    def is_reference(self) -> bool:
        from vismock.mockserver.vim25 import model

        return model().kind(self.type) == "managed"


@cache
def fault_fields(fault_type: str) -> tuple[FaultField, ...]:
    """The fields of vim25 fault *fault_type* in wire order, inherited ones first (MethodFault's
    own optional ``faultCause`` and ``faultMessage`` left out); () for a type that is not a fault."""
    from vismock.mockserver.vim25 import model

    vim25 = model()
    if fault_type not in vim25.fault_types():
        return ()
    inherited = {field.name for field in vim25.fields("MethodFault")}
    return tuple(
        FaultField(field.name, field.type, not field.optional, field.array)
        for field in vim25.fields(fault_type)
        if field.name not in inherited
    )


@cache
def task_operations() -> dict[str, str]:
    """The VIS operations of the catalog that start a vim25 task method: ``{"Power_Off_VM":
    "PowerOffVM_Task", ...}`` (each operation's response element names its method)."""
    methods = task_methods()
    found = {}
    for operation in load_catalog(schema_directory()):
        name = operation.response.removesuffix("Response")
        if name in methods:
            found[operation.name] = name
    return found


def task_method(name: str) -> str:
    """The vim25 task method *name* names (a method's wire name, or the VIS operation that
    starts it); KeyError saying what would do."""
    if name in task_methods():
        return name
    found = task_operations().get(name)
    if found is None:
        raise KeyError(
            f"{name!r} is not a power operation nor any other task method ({name!r} is neither a vim25"
            f" task method (PowerOffVM_Task...) nor a VIS operation that starts one:"
            f" {', '.join(sorted(task_operations()))})"
        )
    return found
