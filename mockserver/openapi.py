"""The admin API's OpenAPI 3.1 document (``mockserver/data/openapi.yaml``, package data).

Written as YAML for people, served as JSON at ``/_vismock/openapi.json``. ``document()`` parses it
once per process (PyYAML's safe loader) and returns a copy the caller may change.
``tests/mockserver/faces/test_openapi.py`` holds it to the real routes;
``scripts/render_admin_api.py`` renders it into ``docs/admin-api.md``.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

DOCUMENT = "openapi.yaml"


@functools.cache
def _parsed() -> dict[str, Any]:
    text = resources.files("vismock.mockserver").joinpath("data", DOCUMENT).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def document() -> dict[str, Any]:
    """The OpenAPI document as JSON-ready data (a fresh copy each call)."""
    return copy.deepcopy(_parsed())
