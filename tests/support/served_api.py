"""What the SOAP face serves, read from the state's registry of managed object types.

The one place tests ask the registry (``vismock.mockserver.state.registry.KINDS``, each class
with its vim25 ``methods``, and ``objects.base.EVERY_OBJECT``, what every object answers): when
the registry changes shape, these functions are pointed at the new one and every test that
compares documents with what is served still holds. Inheritance is vim25's
(``vismock.schemas.managed_lineage``), not the registry's.
"""

from __future__ import annotations


def served_types() -> list[str]:
    """The vim25 managed types the mock has a class for (the mock's own objects left out)."""
    import vismock.mockserver.state  # noqa: F401  (registers every type)
    from vismock.mockserver.state.registry import KINDS
    from vismock.mockserver.vim25.typemodel import model

    return [name for name, cls in KINDS.items() if cls.served and name in model()]


def served_methods() -> dict[str, set[str]]:
    """Each served type's methods (its supertypes' included), and ManagedObject's: Fetch."""
    from vismock.mockserver.objects.base import EVERY_OBJECT
    from vismock.mockserver.state.registry import KINDS

    table = {name: set(KINDS[name].methods) for name in served_types()}
    table["ManagedObject"] = set(EVERY_OBJECT)
    return table


def served_properties() -> dict[str, set[str]]:
    """Each served type's properties: every property vim25 gives it (its supertypes' included), a
    property the mock has no value for being unset."""
    from vismock.mockserver.vim25.typemodel import model

    return {name: {prop.name for prop in model().properties(name)} for name in served_types()}


def derived_properties() -> dict[str, set[str]]:
    """Each served type's properties worked out from the state when read (never stored)."""
    from vismock.mockserver.state.registry import KINDS

    return {name: set(KINDS[name].derived_properties) for name in served_types()}


def served_on(type_name: str, table: dict[str, set[str]]) -> set[str]:
    """What *table* serves on an object of *type_name*: its own and its supertypes'."""
    from vismock.schemas import managed_lineage

    return {item for name in managed_lineage(type_name) for item in table.get(name, set())}
