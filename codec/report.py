"""The rich report of an invalid document: xmlschema's errors, located and worded in XSD terms.

Only an invalid document needs this module, and it is the only one that imports
xmlschema (a fifth of a second to import, as much again to compile a schema): a
batch of valid documents, or ``vismock validate`` in a pre-commit hook, never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any, cast

from lxml import etree
from xmlschema import XMLSchema10, XMLSchemaChildrenValidationError, XMLSchemaDecodeError
from xmlschema.validators import (
    XsdAtomicBuiltin,
    XsdFacet,
    XsdLengthFacet,
    XsdMaxLengthFacet,
    XsdMinLengthFacet,
    XsdPatternFacets,
)

from vismock.codec.errors import ValidationIssue, quoted


def located_issues(tree: etree._ElementTree, xsd: XMLSchema10, limit: int) -> list[ValidationIssue]:
    """At most *limit* issues of *tree*, one per problem, each pointing at the offending element."""
    errors = list(islice(xsd.iter_errors(cast(Any, tree), use_location_hints=False), limit))
    return [_issue(tree, group) for group in _by_element(_without_shadowed(errors))]


def _by_element(errors: list[Any]) -> Iterator[list[Any]]:
    """The errors grouped into problems: the facets one value fails together make one problem
    (an empty VM name is too short *and* does not match its pattern: one issue, not two)."""
    groups: dict[int, list[Any]] = {}
    order: list[list[Any]] = []
    for error in errors:
        elem = getattr(error, "elem", None)
        if elem is None or isinstance(error, XMLSchemaChildrenValidationError) or not _is_facet(error):
            order.append([error])
            continue
        group = groups.get(id(elem))
        if group is None:
            group = groups[id(elem)] = []
            order.append(group)
        group.append(error)
    return iter(order)


def _is_facet(error: Any) -> bool:
    return isinstance(error.validator, XsdFacet)


def _issue(tree: etree._ElementTree, group: list[Any]) -> ValidationIssue:
    first = group[0]
    elem = getattr(first, "elem", None)
    if elem is None or not isinstance(elem.tag, str):
        return ValidationIssue(reason=str(first.reason), path=str(first.path or "/"))
    if isinstance(first, XMLSchemaChildrenValidationError):
        return _content_issue(tree, first, elem)
    value = _offending_value(first.obj)
    if len(group) == 1:
        reason = _reason(first, value)
    else:  # "'' is shorter than the minimum length 1 and does not match the pattern '.*\S.*'"
        group = sorted(group, key=lambda error: isinstance(error.validator, XsdPatternFacets))
        reason = _joined_reason([_predicate(e) for e in group], [_reason(e, value) for e in group], value)
    return ValidationIssue(reason=reason, path=tree.getpath(elem), line=elem.sourceline, value=value)


def _reason(error: Any, value: str | None) -> str:
    """One error in XSD terms; patterns and values as written (no backslash doubled)."""
    predicate = _predicate(error)
    if isinstance(error, XMLSchemaDecodeError) and isinstance(error.validator, XsdAtomicBuiltin):
        # xmlschema passes on Python's words ("invalid literal for int() ..."): say it in XSD terms.
        return f"{quoted(value or '')} is not a valid {error.validator.prefixed_name}"
    if predicate is not None:
        return f"{quoted(value or '')} {predicate}"
    return str(error.reason)


def _joined_reason(predicates: list[str | None], reasons: list[str], value: str | None) -> str:
    """Several facets failed by one value: ``'' is shorter than ... and does not match ...``."""
    if all(predicates):
        return f"{quoted(value or '')} " + " and ".join(cast(list[str], predicates))
    return "; ".join(reasons)


def _predicate(error: Any) -> str | None:
    """What is wrong with the value, as the end of a sentence about it; None when xmlschema's
    own words are kept (enumerations, bounds...)."""
    validator = error.validator
    if isinstance(validator, XsdPatternFacets):
        patterns = " or ".join(quoted(pattern) for pattern in validator.regexps)
        return f"does not match the pattern {patterns}"
    if isinstance(validator, XsdMinLengthFacet):
        return f"is shorter than the minimum length {validator.value}"
    if isinstance(validator, XsdMaxLengthFacet):
        return f"is longer than the maximum length {validator.value}"
    if isinstance(validator, XsdLengthFacet):
        return f"is not of the length {validator.value}"
    return None


def _without_shadowed(errors: list[Any]) -> list[Any]:
    """Drop facet errors on an element whose text is not even of its builtin type.

    'yesterday' in an xs:dateTime with a pattern fails both; the type is what is wrong.
    """
    untyped = {id(e.elem) for e in errors if _is_type_error(e)}
    return [e for e in errors if _is_type_error(e) or id(e.elem) not in untyped]


def _is_type_error(error: Any) -> bool:
    return isinstance(error, XMLSchemaDecodeError) and isinstance(error.validator, XsdAtomicBuiltin)


def _offending_value(obj: Any) -> str | None:
    if obj is None or isinstance(obj, etree._Element):
        return None
    return obj if isinstance(obj, str) else str(obj)


def _content_issue(tree: etree._ElementTree, error: Any, parent: etree._Element) -> ValidationIssue:
    """Name a content-model error by what is wrong: missing, unknown or misplaced element."""
    expected = [str(getattr(e, "local_name", None) or e) for e in (error.expected or [])]
    wanted = " or ".join(repr(name) for name in expected) or "no more elements"
    index = error.index if isinstance(error.index, int) else len(parent)
    if index >= len(parent):
        return ValidationIssue(
            reason=f"missing required element {wanted}", path=tree.getpath(parent), line=parent.sourceline
        )
    child = parent[index]
    value = child.text if len(child) == 0 and child.text and child.text.strip() else None
    declared = (
        {e.local_name for e in error.validator.iter_elements()}
        if hasattr(error.validator, "iter_elements")
        else set()
    )
    present = {c.tag for c in parent}
    if child.tag not in declared:
        reason = f"unknown element {child.tag!r} (expected {wanted})"
    elif expected and not present.intersection(expected):
        return ValidationIssue(
            reason=f"missing required element {wanted} before {child.tag!r}",
            path=tree.getpath(parent),
            line=child.sourceline,
        )
    else:
        reason = f"unexpected element {child.tag!r} here (expected {wanted})"
    return ValidationIssue(reason=reason, path=tree.getpath(child), line=child.sourceline, value=value)
