"""Writing a dict in the decode form as the text of a document, in schema order.

The text is written directly, in lxml's pretty-printed form (two spaces a level,
``<a/>`` for an element without content, ``<a></a>`` for an empty string), not built
as an lxml tree and serialised: creating 27 lxml elements costs more than parsing
and validating the text they make, and ``encode`` checks the text it returns by
parsing and validating exactly that text (:meth:`Codec.encode`).

Bad keys and types are reported with the XPath of the element at fault. The path
is kept as a stack of steps and joined only when there is a problem to report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vismock.codec.core import SECRET_ELEMENTS
from vismock.codec.errors import EncodeError, ValidationIssue
from vismock.codec.values import TEXT

if TYPE_CHECKING:
    from vismock.codec.model import ElementSpec

_RENDER_TEXT = TEXT[1]  # xs:string's renderer: a str is written as it is
# What text content escapes, as lxml writes it (a CR as a reference, so that it survives parsing).
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NEEDS_ESCAPE = re.compile("[&<>\r]")
# Characters XML 1.0 does not allow in a document at all (Char, production 2).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
INDENT = "  "


class DocumentWriter:
    """Writes the document of *plan* (the root's spec); ``strict`` also checks every text for
    characters XML does not allow (the slow path, after the fast one made unparsable text)."""

    def __init__(self, plan: ElementSpec, *, strict: bool = False) -> None:
        self.plan = plan
        self.strict = strict
        self.issues: list[ValidationIssue] = []
        self.steps: list[str] = [plan.name]

    def document(self, data: Mapping[str, Any]) -> str:
        """The document's text, declaration included; raises EncodeError listing every problem."""
        out = ["<?xml version='1.0' encoding='UTF-8'?>\n"]
        self._element(out, self.plan.name, data, self.plan, "", None)
        if self.issues:
            raise EncodeError(self.issues)
        return "".join(out)

    def _element(
        self, out: list[str], name: str, value: Any, spec: ElementSpec, indent: str, step: str | None
    ) -> None:
        if value is None:
            out.append(f"{indent}<{name}/>\n")
        elif spec.render is None:
            self._complex(out, name, value, spec, indent, step)
        else:
            text = self._text(value, spec, step)
            if text is not None:
                out.append(f"{indent}<{name}>{text}</{name}>\n")

    def _text(self, value: Any, spec: ElementSpec, step: str | None) -> str | None:
        """The escaped text of a simple element; None after reporting why there is none."""
        render = spec.render
        assert render is not None
        if render is _RENDER_TEXT and value.__class__ is str:  # most values: strings, as they are
            text = value
        else:
            try:
                text = render(value)
            except (TypeError, ValueError) as exc:
                self._problem(str(exc), value, step=step)
                return None
        if self.strict:
            found = _NOT_XML.search(text)
            if found is not None:
                self._problem(f"U+{ord(found.group()):04X} is not a character XML allows", value, step=step)
        return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text

    def _complex(
        self, out: list[str], name: str, value: Any, spec: ElementSpec, indent: str, step: str | None
    ) -> None:
        if not isinstance(value, dict | Mapping):
            reason = f"expected a mapping of child elements, got {type(value).__name__}"
            self._problem(reason, value, step=step)
            return
        if step is not None:
            self.steps.append(step)
        start = len(out)
        out.append(f"{indent}<{name}>\n")
        inner = indent + INDENT
        matched = 0
        for child_name, child_spec in spec.children.items():
            if child_name not in value:
                continue
            matched += 1
            items = value[child_name]
            if child_spec.many:
                self._repeated(out, child_name, items, child_spec, inner)
            elif items.__class__ is str and child_spec.render is _RENDER_TEXT and not self.strict:
                # The hot path, inline: a string child needs no call of its own.
                text = items.translate(_ESCAPES) if _NEEDS_ESCAPE.search(items) else items
                out.append(f"{inner}<{child_name}>{text}</{child_name}>\n")
            else:
                self._element(out, child_name, items, child_spec, inner, child_name)
        if matched != len(value):  # keys the schema does not know
            for key in value:
                if key not in spec.children:
                    self._problem(f"unknown element {key!r} under {spec.name!r}", None, step=str(key))
        if len(out) == start + 1:  # no child written: an empty element, as lxml writes it
            out[start] = f"{indent}<{name}/>\n"
        else:
            out.append(f"{indent}</{name}>\n")
        if step is not None:
            self.steps.pop()

    def _repeated(self, out: list[str], name: str, items: Any, spec: ElementSpec, indent: str) -> None:
        if not isinstance(items, list):
            self._problem(f"expected a list, got {type(items).__name__}", items, step=name)
            return
        for position, item in enumerate(items, start=1):
            self._element(out, name, item, spec, indent, f"{name}[{position}]")

    def _problem(self, reason: str, value: Any, *, step: str | None) -> None:
        path = "/" + "/".join(self.steps if step is None else [*self.steps, step])
        secret = path.rsplit("/", 1)[-1].split("[", 1)[0] in SECRET_ELEMENTS
        shown = None if value is None or secret else repr(value)[:200]
        self.issues.append(ValidationIssue(reason=reason, path=path, value=shown, kind="encode"))
