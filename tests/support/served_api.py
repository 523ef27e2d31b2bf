"""What the SOAP face serves, read from its registry of managed object types.

The one place tests ask the registry: when the registry changes shape, these two functions are
pointed at the new one and every test that compares documents with what is served still holds.
Inheritance is vim25's (``vismock.schemas.managed_lineage``), not the registry's.
"""

from __future__ import annotations

from vismock.schemas import managed_lineage


def served_methods() -> dict[str, set[str]]:
    """Each managed object type's own served methods (a supertype's are not repeated)."""
    from vismock.mockserver.faces.soap import objects

    return {name: set(managed.methods) for name, managed in objects.TYPES.items()}


def served_properties() -> dict[str, set[str]]:
    """Each managed object type's own served property paths (``runtime``, ``runtime.powerState``)."""
    from vismock.mockserver.faces.soap import objects

    return {name: set(managed.properties) for name, managed in objects.TYPES.items()}


def served_on(type_name: str, table: dict[str, set[str]]) -> set[str]:
    """What *table* serves on an object of *type_name*: its own and its supertypes'."""
    return {item for name in managed_lineage(type_name) for item in table.get(name, set())}
