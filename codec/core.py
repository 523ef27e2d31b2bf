"""The codec: validate, decode and encode VIS adapter envelopes.

Fast path: libxml2 (through lxml) validates against the same XSDs that
xmlschema compiles, then a plan derived from the compiled schema
(:mod:`vismock.codec.model`) converts the tree. Only an invalid document pays
for xmlschema's validator, whose rich report (reason, XPath, line) we return.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import xmlschema
from lxml import etree

from vismock.codec.errors import (
    ERROR_BY_KIND,
    CodecError,
    EncodeError,
    ValidationIssue,
)
from vismock.codec.model import ElementSpec, build_spec
from vismock.codec.parsing import DEFAULT_MAX_BYTES, ParseFailure, XMLInput, parse, read_bytes
from vismock.schemas import (
    REQUEST_ROOT,
    RESPONSE_ROOT,
    Operation,
    load_catalog,
    schema_directory,
)

Root = Literal["vmware-infrastructure-request", "vmware-infrastructure-response"]
SECRET_ELEMENTS = frozenset({"password"})
MASK = "********"


@dataclass(slots=True)
class CompiledOperation:
    """One operation's schema, compiled for both validators, and its plans."""

    operation: Operation
    xsd: xmlschema.XMLSchema10
    plans: dict[str, ElementSpec]
    _local: threading.local

    @classmethod
    def compile(cls, operation: Operation) -> CompiledOperation:
        xsd = xmlschema.XMLSchema10(str(operation.schema))
        plans = {root: build_spec(xsd.elements[root]) for root in (REQUEST_ROOT, RESPONSE_ROOT)}
        return cls(operation, xsd, plans, threading.local())

    @property
    def libxml2(self) -> etree.XMLSchema:
        # lxml schema objects keep a per-object error log: one per thread.
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            schema = etree.XMLSchema(etree.parse(str(self.operation.schema)))
            self._local.schema = schema
        return schema


class Codec:
    """Validates, decodes and encodes the envelopes of the operations in a catalog.

    *schema_dir* defaults to the XSDs shipped in :mod:`vismock.schemas`; a
    different folder (with its own ``catalog.toml``) gives a codec for it.
    """

    def __init__(self, schema_dir: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.schema_dir = Path(schema_dir) if schema_dir is not None else schema_directory()
        self.max_bytes = max_bytes
        self.operations = {op.name: op for op in load_catalog(self.schema_dir)}
        self._compiled: dict[str, CompiledOperation] = {}
        self._lock = threading.Lock()

    # -- public API, in xmlschema's shape ------------------------------------------

    def iter_errors(self, xml: XMLInput) -> Iterator[ValidationIssue]:
        """Every problem in *xml*, in document order; nothing when it is valid."""
        try:
            tree = self.parse(xml)
        except ParseFailure as failure:
            yield failure.issue
            return
        yield from self.iter_tree_errors(tree)

    def validate(self, xml: XMLInput) -> None:
        """Raise a :class:`CodecError` listing every problem in *xml*."""
        issues = list(self.iter_errors(xml))
        if issues:
            raise _error_for(issues)

    def is_valid(self, xml: XMLInput) -> bool:
        return next(iter(self.iter_errors(xml)), None) is None

    def decode(self, xml: XMLInput) -> dict[str, Any]:
        """The content of a valid document as a dict (the root element is implied)."""
        try:
            tree = self.parse(xml)
        except ParseFailure as failure:
            raise _error_for([failure.issue]) from None
        return self.decode_tree(tree)

    def encode(self, data: Mapping[str, Any], *, root: Root | None = None) -> bytes:
        """A valid UTF-8 document for *data*; the root is inferred unless given."""
        root_name = root or _infer_root(data)
        compiled = self._compiled_for(self._operation_for_data(root_name, data))
        element = _Encoder(compiled.plans[root_name]).build(data)
        tree = element.getroottree()
        issues = list(self._check(tree, compiled))
        if issues:
            raise EncodeError(issues)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    # -- trees, for callers that parse once (the mock server) ---------------------------

    def parse(self, xml: XMLInput) -> etree._ElementTree:
        """A safely parsed tree of *xml*; raises ParseFailure (internal) on bad input."""
        return parse(read_bytes(xml, self.max_bytes))

    def iter_tree_errors(self, tree: etree._ElementTree) -> Iterator[ValidationIssue]:
        compiled, issue = self._select(tree)
        if issue is not None:
            yield issue
            return
        assert compiled is not None
        yield from self._check(tree, compiled)

    def decode_tree(self, tree: etree._ElementTree) -> dict[str, Any]:
        issues = list(self.iter_tree_errors(tree))
        if issues:
            raise _error_for(issues)
        compiled, _ = self._select(tree)
        assert compiled is not None
        root = tree.getroot()
        decoded = _decode_element(root, compiled.plans[root.tag])
        return decoded if isinstance(decoded, dict) else {}

    def operation_of(self, tree: etree._ElementTree) -> Operation | None:
        compiled, _ = self._select(tree)
        return compiled.operation if compiled else None

    # -- internals ---------------------------------------------------------------------

    def _compiled_for(self, operation: Operation) -> CompiledOperation:
        compiled = self._compiled.get(operation.name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(operation.name)
                if compiled is None:
                    compiled = CompiledOperation.compile(operation)
                    self._compiled[operation.name] = compiled
        return compiled

    def _select(self, tree: etree._ElementTree) -> tuple[CompiledOperation | None, ValidationIssue | None]:
        root = tree.getroot()
        if root.tag == REQUEST_ROOT:
            name = _child_text(root, "operation-name")
            return self._by_name(name, root)
        if root.tag == RESPONSE_ROOT:
            bodies = {op.response: op for op in self.operations.values()}
            for child in root:
                if child.tag in bodies:
                    return self._compiled_for(bodies[child.tag]), None
            return self._compiled_for(next(iter(self.operations.values()))), None
        return None, ValidationIssue(
            reason=f"root element is {root.tag!r}; expected {REQUEST_ROOT!r} or {RESPONSE_ROOT!r}",
            path=tree.getpath(root),
            line=root.sourceline,
            kind="schema",
        )

    def _by_name(self, name: str | None, root: etree._Element) -> tuple[CompiledOperation | None, ValidationIssue | None]:
        operation = self.operations.get(name or "")
        if operation is None and len(self.operations) == 1:
            # One operation: let its schema say precisely what is wrong with the name.
            operation = next(iter(self.operations.values()))
        if operation is None:
            where = root.find("operation-name")
            known = ", ".join(sorted(self.operations))
            return None, ValidationIssue(
                reason=f"unknown operation-name {name!r}; known operations: {known}",
                path=f"/{REQUEST_ROOT}/operation-name",
                line=where.sourceline if where is not None else root.sourceline,
                value=name,
            )
        return self._compiled_for(operation), None

    def _operation_for_data(self, root: str, data: Mapping[str, Any]) -> Operation:
        operations = list(self.operations.values())
        if root == REQUEST_ROOT:
            named = self.operations.get(str(data.get("operation-name")))
            return named or operations[0]
        return next((op for op in operations if op.response in data), operations[0])

    def _check(self, tree: etree._ElementTree, compiled: CompiledOperation) -> Iterator[ValidationIssue]:
        secrets = _secrets(tree)
        if compiled.libxml2.validate(tree):
            issues = []
        else:
            issues = [_located(tree, error) for error in compiled.xsd.iter_errors(tree, use_location_hints=False)]
            if not issues:  # the two validators disagree: report libxml2's own words
                issues = _libxml2_issues(compiled.libxml2)
        issues.extend(_rule_issues(tree))
        for issue in issues:
            yield _masked(issue, secrets)


def _error_for(issues: list[ValidationIssue]) -> CodecError:
    return ERROR_BY_KIND[issues[0].kind](issues)


def _infer_root(data: Mapping[str, Any]) -> Root:
    if "operation-name" in data or "operation-type" in data:
        return "vmware-infrastructure-request"
    if "metadata" in data:
        return "vmware-infrastructure-response"
    raise EncodeError(
        [
            ValidationIssue(
                reason="cannot tell request from response: expected an 'operation-name' "
                "or a 'metadata' key (or pass root=)",
                path="/",
                kind="encode",
            )
        ]
    )


def _child_text(element: etree._Element, tag: str) -> str | None:
    child = element.find(tag)
    return child.text.strip() if child is not None and child.text else None


def _secrets(tree: etree._ElementTree) -> list[str]:
    return [
        el.text
        for el in tree.iter(*SECRET_ELEMENTS)
        if isinstance(el.tag, str) and el.text
    ]


def _masked(issue: ValidationIssue, secrets: list[str]) -> ValidationIssue:
    if issue.path.rsplit("/", 1)[-1] in SECRET_ELEMENTS and issue.value:
        issue = _replace(issue, value=MASK)
    for secret in secrets:
        if secret in issue.reason or (issue.value and secret in issue.value):
            issue = _replace(
                issue,
                reason=issue.reason.replace(secret, MASK),
                value=issue.value.replace(secret, MASK) if issue.value else issue.value,
            )
    return issue


def _replace(issue: ValidationIssue, **changes: Any) -> ValidationIssue:
    fields = issue.to_dict() | changes
    return ValidationIssue(**fields)  # type: ignore[arg-type]


def _located(tree: etree._ElementTree, error: Any) -> ValidationIssue:
    """A ValidationIssue for an xmlschema error, pointing at the offending element."""
    target = getattr(error, "elem", None)
    index = getattr(error, "index", None)
    if target is not None and isinstance(index, int) and 0 <= index < len(target):
        target = target[index]  # an unexpected child: point at the child itself
    if target is None or not isinstance(target.tag, str):
        return ValidationIssue(reason=str(error.reason), path=str(error.path or "/"))
    value = error.obj if isinstance(error.obj, str) else None
    if value is None and len(target) == 0 and target.text and target is not getattr(error, "elem", None):
        value = target.text
    return ValidationIssue(
        reason=str(error.reason),
        path=tree.getpath(target),
        line=target.sourceline,
        value=value,
    )


def _libxml2_issues(schema: etree.XMLSchema) -> list[ValidationIssue]:
    return [
        ValidationIssue(reason=entry.message, path=entry.path or "/", line=entry.line or None)
        for entry in schema.error_log
    ]


def _rule_issues(tree: etree._ElementTree) -> Iterator[ValidationIssue]:
    """Rules XSD 1.0 cannot state. A password must come with a non-empty user-name."""
    root = tree.getroot()
    if root.tag != REQUEST_ROOT:
        return
    user = root.find("user-name")
    password = root.find("password")
    if user is None or not (user.text or "").strip():
        return
    if password is None or not password.text:
        where = password if password is not None else user
        yield ValidationIssue(
            reason="password is required when user-name is not empty",
            path=f"/{REQUEST_ROOT}/password",
            line=where.sourceline,
            kind="rule",
        )


def _decode_element(element: etree._Element, spec: ElementSpec) -> Any:
    if spec.parse is not None:
        text = element.text
        if not text:
            return None
        return spec.parse(" ".join(text.split()) if spec.collapse else text)
    if len(element) == 0:
        return None
    result: dict[str, Any] = {}
    children = spec.children
    for child in element:
        tag = child.tag
        child_spec = children[tag]
        value = _decode_element(child, child_spec)
        if child_spec.many:
            result.setdefault(tag, []).append(value)
        else:
            result[tag] = value
    return result


class _Encoder:
    """Builds an element tree from a dict, in schema order, reporting bad keys and types."""

    def __init__(self, plan: ElementSpec) -> None:
        self.plan = plan
        self.issues: list[ValidationIssue] = []

    def build(self, data: Mapping[str, Any]) -> etree._Element:
        root = etree.Element(self.plan.name)
        self._fill(root, data, self.plan, f"/{self.plan.name}")
        if self.issues:
            raise EncodeError(self.issues)
        return root

    def _fill(self, element: etree._Element, value: Any, spec: ElementSpec, path: str) -> None:
        if value is None:
            return
        if spec.render is not None:
            try:
                element.text = spec.render(value)
            except (TypeError, ValueError) as exc:
                self._problem(path, str(exc), value)
            return
        if not isinstance(value, Mapping):
            self._problem(path, f"expected a mapping of child elements, got {type(value).__name__}", value)
            return
        for key in value:
            if key not in spec.children:
                self._problem(f"{path}/{key}", f"unknown element {key!r} under {spec.name!r}", None)
        for name, child_spec in spec.children.items():
            if name not in value:
                continue
            items = value[name]
            if child_spec.many:
                if not isinstance(items, list):
                    self._problem(f"{path}/{name}", f"expected a list, got {type(items).__name__}", items)
                    continue
                for position, item in enumerate(items, start=1):
                    child = etree.SubElement(element, name)
                    self._fill(child, item, child_spec, f"{path}/{name}[{position}]")
            else:
                self._fill(etree.SubElement(element, name), items, child_spec, f"{path}/{name}")

    def _problem(self, path: str, reason: str, value: Any) -> None:
        shown = None if value is None or path.endswith("/password") else repr(value)[:200]
        self.issues.append(ValidationIssue(reason=reason, path=path, value=shown, kind="encode"))
