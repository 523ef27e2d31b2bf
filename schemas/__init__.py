"""The XSDs that define the VIS adapter envelopes, and the catalog that names them.

Each VIS operation has one XSD in this package defining both root elements
for that operation; ``catalog.toml`` maps the operation name to its file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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
    return Path(str(resources.files(__name__)))
