"""A conversion plan derived from a compiled xmlschema schema.

Every element of a document maps to an :class:`ElementSpec` computed once from
the schema: whether it repeats (decoded as a list), how its text converts, and
its children in schema order. Nothing here lists fields by hand, so a new
element in an XSD is decoded and encoded without code changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vismock.codec.values import Parse, Render, converters_for

XSD_NAMESPACE = "{http://www.w3.org/2001/XMLSchema}"


_XML_WHITE_SPACE = re.compile("[ \t\n\r]+")
_WHITE_SPACE_TO_SPACE = str.maketrans("\t\n\r", "   ")


@dataclass(slots=True, eq=False)
class ElementSpec:
    """How one element decodes and encodes."""

    name: str
    many: bool
    collapse: bool = False  # whiteSpace="collapse": trim, and runs of white space become one space
    replace: bool = False  # whiteSpace="replace": tab, newline and carriage return become spaces
    parse: Parse | None = None
    render: Render | None = None
    plain: bool = False  # a string whose white space is kept: the text is the value, as it is
    children: dict[str, ElementSpec] = field(default_factory=dict)
    # decode's hot loop: child tag -> (its name, whether it repeats, whether it is a plain string,
    # whether it has children, its spec): one tuple to unpack, not an attribute lookup each.
    table: dict[str, tuple[str, bool, bool, bool, ElementSpec]] = field(default_factory=dict)

    @property
    def is_simple(self) -> bool:
        return self.parse is not None

    def normalized(self, text: str) -> str:
        """*text* after the type's whiteSpace facet. XML white space is only space, tab, CR and LF:
        other Unicode spaces (U+00A0...) are ordinary characters, unlike ``str.split``'s."""
        if self.collapse:
            if _XML_WHITE_SPACE.search(text) is None:  # most values: nothing to collapse
                return text
            return " ".join(_XML_WHITE_SPACE.split(text)).strip(" ")
        if self.replace:
            return text.translate(_WHITE_SPACE_TO_SPACE)
        return text


def builtin_ancestors(xsd_type: Any) -> list[str]:
    """The builtin XSD type names (without namespace) of *xsd_type* and its bases, nearest first."""
    names: list[str] = []
    current = xsd_type
    while current is not None:
        name = getattr(current, "name", None)
        if isinstance(name, str) and name.startswith(XSD_NAMESPACE):
            names.append(name[len(XSD_NAMESPACE) :])
        current = getattr(current, "base_type", None)
    return names


def _simple_spec(name: str, many: bool, xsd_type: Any) -> ElementSpec:
    simple = xsd_type if xsd_type.is_simple() else xsd_type.content
    parse, render = converters_for(builtin_ancestors(simple))
    white_space = getattr(simple, "white_space", None)
    collapse, replace = white_space == "collapse", white_space == "replace"
    return ElementSpec(
        name=name,
        many=many,
        collapse=collapse,
        replace=replace,
        parse=parse,
        render=render,
        plain=parse is str and not collapse and not replace,
    )


def build_spec(xsd_element: Any, many: bool = False) -> ElementSpec:
    """The conversion plan for *xsd_element* and everything below it."""
    xsd_type = xsd_element.type
    name = xsd_element.local_name
    if xsd_type.is_simple() or xsd_type.has_simple_content():
        return _simple_spec(name, many, xsd_type)
    spec = ElementSpec(name=name, many=many)
    for child in xsd_type.content.iter_elements():
        spec.children[child.local_name] = build_spec(child, many=not child.is_single())
    spec.table = {
        tag: (child.name, child.many, child.plain, child.parse is None, child)
        for tag, child in spec.children.items()
    }
    return spec


def decode_form(group: Any, entries: list[tuple[str, Any]]) -> dict[str, Any] | None:
    """Child (name, value) pairs of a model *group* in decode's form: elements that may repeat
    as lists, and no children at all as None (what ``Codec.decode`` gives for such content)."""
    if not entries:
        return None
    many = {element.local_name for element in group.iter_elements() if not element.is_single()}
    result: dict[str, Any] = {}
    for name, value in entries:
        if name in many:
            result.setdefault(name, []).append(value)
        else:
            result[name] = value
    return result
