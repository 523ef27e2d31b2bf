"""The codec: validate, decode and encode VIS adapter envelopes.

Fast path: libxml2 (through lxml) validates against the same XSDs that
xmlschema compiles, then a plan derived from the compiled schema
(:mod:`vismock.codec.model`) converts the tree. Only an invalid document pays
for xmlschema's validator, whose rich report (reason, XPath, line) we return.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lxml import etree

from vismock.codec.errors import (
    ERROR_BY_KIND,
    CodecError,
    EncodeError,
    ValidationIssue,
)
from vismock.codec.parsing import (
    DEFAULT_MAX_BYTES,
    ParseFailure,
    XMLInput,
    parse,
    read_bytes,
    safe_parser,
)
from vismock.schemas import (
    REQUEST_ROOT,
    RESPONSE_ROOT,
    Operation,
    load_catalog,
    schema_directory,
)

if TYPE_CHECKING:  # imported where they are used: validating needs neither (start-up time)
    import xmlschema

    from vismock.codec.model import ElementSpec
    from vismock.codec.writer import DocumentWriter

Root = Literal["vmware-infrastructure-request", "vmware-infrastructure-response"]
SECRET_ELEMENTS = frozenset({"password"})
# (user element, password element): a non-blank user name needs a non-empty password.
PASSWORD_RULE = ("user-name", "password")
MASK = "********"
MIN_BARE_SECRET = 6
# A document's report lists at most this many issues (hostile input can have thousands).
MAX_ISSUES = 50
# Past this many children under one element, invalid documents get libxml2's report only.
MAX_CHILDREN_FOR_RICH_REPORT = 500


class CompiledOperation:
    """One operation's schema, compiled for both validators, and its conversion plans.

    Each part is compiled on first use: validating valid documents needs only
    libxml2, so a batch worker never pays for xmlschema unless it meets an
    invalid document or decodes.
    """

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self._local = threading.local()
        self._lock = threading.Lock()
        self._xsd: xmlschema.XMLSchema10 | None = None
        self._plans: dict[str, ElementSpec] | None = None

    @property
    def xsd(self) -> xmlschema.XMLSchema10:
        if self._xsd is None:
            with self._lock:
                if self._xsd is None:
                    from xmlschema import XMLSchema10

                    self._xsd = XMLSchema10(str(self.operation.schema))
        return self._xsd

    @property
    def plans(self) -> dict[str, ElementSpec]:
        if self._plans is None:
            from vismock.codec.model import build_spec

            xsd = self.xsd
            self._plans = {root: build_spec(xsd.elements[root]) for root in (REQUEST_ROOT, RESPONSE_ROOT)}
        return self._plans

    @property
    def libxml2(self) -> etree.XMLSchema:
        # lxml schema objects keep a per-object error log: one per thread.
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            # A parser of its own: lxml's parsers are not to be shared between threads.
            schema_parser = etree.XMLParser(no_network=True, resolve_entities=False)
            schema = etree.XMLSchema(etree.parse(str(self.operation.schema), schema_parser))
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
        self._by_body = {op.response: op for op in self.operations.values()}
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

    def tree_issues(self, tree: etree._ElementTree) -> list[ValidationIssue]:
        """Every problem in *tree*, [] when it is valid (iter_tree_errors, as a list)."""
        compiled, issue = self._select(tree)
        if compiled is None:
            return [issue] if issue is not None else []
        return self._check(tree, compiled)

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
        if not isinstance(data, Mapping):
            raise EncodeError(
                [_encode_issue("/", f"expected a mapping (decode's form), got {type(data).__name__}")]
            )
        if root is not None and root not in (REQUEST_ROOT, RESPONSE_ROOT):
            raise EncodeError(
                [_encode_issue("/", f"unknown root {root!r}; expected {REQUEST_ROOT!r} or {RESPONSE_ROOT!r}")]
            )
        root_name = root or _infer_root(data)
        compiled = self._compiled_for(self._operation_for_data(root_name, data))
        plan = compiled.plans[root_name]
        text = _document_writer()(plan).document(data)
        # What is returned is what is checked: the very bytes, parsed and validated.
        try:
            output = text.encode("utf-8")
            # Text of ours: no DOCTYPE to scan for.
            tree = etree.fromstring(output, safe_parser()).getroottree()
        except (UnicodeEncodeError, etree.XMLSyntaxError):  # a character XML does not allow: say where
            _document_writer()(plan, strict=True).document(data)
            raise EncodeError([_encode_issue("/", "the values do not make a well-formed document")]) from None
        issues = self._check(tree, compiled)
        if issues:  # lines of a text the caller never sees would only mislead
            raise EncodeError([issue._replace(line=None) for issue in issues])
        return output

    # -- trees, for callers that parse once (the mock server) ---------------------------

    def parse(self, xml: XMLInput) -> etree._ElementTree:
        """A safely parsed tree of *xml*; raises ParseFailure (internal) on bad input."""
        return parse(read_bytes(xml, self.max_bytes))

    def iter_tree_errors(self, tree: etree._ElementTree) -> Iterator[ValidationIssue]:
        yield from self.tree_issues(tree)

    def decode_tree(self, tree: etree._ElementTree) -> dict[str, Any]:
        compiled, issue = self._select(tree)
        if issue is not None:
            raise _error_for([issue])
        assert compiled is not None
        issues = self._check(tree, compiled)
        if issues:
            raise _error_for(issues)
        root = tree.getroot()
        decoded = _decode_element(root, compiled.plans[str(root.tag)])
        return decoded if isinstance(decoded, dict) else {}

    def schema(self, operation: str | None = None) -> xmlschema.XMLSchema10:
        """The compiled xmlschema schema of *operation* (the first in the catalog by default)."""
        chosen = self.operations[operation] if operation else next(iter(self.operations.values()))
        return self._compiled_for(chosen).xsd

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
                    compiled = CompiledOperation(operation)
                    self._compiled[operation.name] = compiled
        return compiled

    def _select(self, tree: etree._ElementTree) -> tuple[CompiledOperation | None, ValidationIssue | None]:
        root = tree.getroot()
        tag = root.tag
        if tag == REQUEST_ROOT:
            name = _child_text(root, "operation-name")
            return self._by_name(name, root)
        if tag == RESPONSE_ROOT:
            by_body = self._by_body
            for child in root:
                operation = by_body.get(child.tag)  # type: ignore[arg-type]
                if operation is not None:
                    return self._compiled_for(operation), None
            return self._compiled_for(next(iter(self.operations.values()))), None
        return None, ValidationIssue(
            reason=f"root element is {root.tag!r}; expected {REQUEST_ROOT!r} or {RESPONSE_ROOT!r}",
            path=tree.getpath(root),
            line=root.sourceline,
            kind="schema",
        )

    def _by_name(
        self, name: str | None, root: etree._Element
    ) -> tuple[CompiledOperation | None, ValidationIssue | None]:
        operation = self.operations.get(name or "")
        if operation is None and (name is None or len(self.operations) == 1):
            # No name (or one operation): let a schema say precisely what is wrong, that of an
            # operation of the document's operation-type if it names one.
            kind = _child_text(root, "operation-type")
            candidates = list(self.operations.values())
            operation = next((op for op in candidates if op.type == kind), candidates[0])
        if operation is None:
            where = root.find("operation-name")
            known = sorted(self.operations)
            return None, ValidationIssue(
                # Worded as the schema words an enumeration: the catalog's names are one.
                reason=f"value must be one of {known!r}: unknown operation-name {name!r}",
                path=f"/{REQUEST_ROOT}/operation-name",
                line=where.sourceline if where is not None else root.sourceline,
                value=name,
            )
        return self._compiled_for(operation), None

    def _operation_for_data(self, root: str, data: Mapping[str, Any]) -> Operation:
        if root == REQUEST_ROOT:
            named = self.operations.get(str(data.get("operation-name")))
            return named or next(iter(self.operations.values()))
        for body, operation in self._by_body.items():
            if body in data:
                return operation
        return next(iter(self.operations.values()))

    def _check(self, tree: etree._ElementTree, compiled: CompiledOperation) -> list[ValidationIssue]:
        """The problems of *tree*, in document order, passwords masked; [] when it is valid."""
        issues = [] if compiled.libxml2.validate(tree) else _schema_issues(tree, compiled)
        root = tree.getroot()
        if root.tag == REQUEST_ROOT:
            issues.extend(_rule_issues(root))
        if not issues:
            return issues
        # xmlschema reports a parent's content error after its children's: restore document order.
        issues.sort(key=lambda issue: (issue.line is None, issue.line or 0))
        secrets = _secrets(tree)
        return [_masked(issue, secrets) for issue in issues]


def _schema_issues(tree: etree._ElementTree, compiled: CompiledOperation) -> list[ValidationIssue]:
    """The located issues of a document libxml2 found invalid, at most MAX_ISSUES of them."""
    found = len(compiled.libxml2.error_log)
    if found > MAX_ISSUES or _widest(tree) > MAX_CHILDREN_FOR_RICH_REPORT:
        # Hostile input (thousands of unknown attributes or children...): xmlschema's report
        # costs quadratic time there, and libxml2 has already located every problem.
        issues = _libxml2_issues(compiled.libxml2)
        if len(issues) <= MAX_ISSUES:
            return issues
        left_out = ValidationIssue(reason=f"{len(issues) - MAX_ISSUES} more problems not listed", path="/")
        return [*issues[:MAX_ISSUES], left_out]
    from vismock.codec.report import located_issues  # the only user of xmlschema on this path

    issues = located_issues(tree, compiled.xsd, MAX_ISSUES)
    # The two validators disagree (libxml2 is stricter on some edge): report libxml2's own words.
    return issues or _libxml2_issues(compiled.libxml2)


def _widest(tree: etree._ElementTree) -> int:
    return max((len(element) for element in tree.iter()), default=0)


@cache
def _document_writer() -> type[DocumentWriter]:
    """The writer's class: imported by the first encode (it needs the typed values' module,
    which validating does not), then kept."""
    from vismock.codec.writer import DocumentWriter

    return DocumentWriter


def _error_for(issues: list[ValidationIssue]) -> CodecError:
    return ERROR_BY_KIND[issues[0].kind](issues)


def _encode_issue(path: str, reason: str) -> ValidationIssue:
    return ValidationIssue(reason=reason, path=path, kind="encode")


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
    # "{*}name": a password in any namespace (or none) is still a password.
    wanted = [f"{{*}}{name}" for name in SECRET_ELEMENTS]
    return [el.text for el in tree.iter(*wanted) if isinstance(el.tag, str) and el.text]


def _masked(issue: ValidationIssue, secrets: list[str]) -> ValidationIssue:
    """*issue* with every password hidden from its value and its reason."""
    if issue.path.rsplit("/", 1)[-1].split("[", 1)[0] in SECRET_ELEMENTS and issue.value:
        issue = issue._replace(value=MASK)
    for secret in secrets:
        value = issue.value.replace(secret, MASK) if issue.value else issue.value
        reason = issue.reason
        # Reasons quote the values they show; a bare short secret ("a") would also
        # match ordinary words, so bare text is masked only for longer secrets.
        for shown in {repr(secret), f"'{secret}'", f'"{secret}"'}:
            reason = reason.replace(shown, MASK)
        if len(secret) >= MIN_BARE_SECRET:
            reason = reason.replace(secret, MASK)
        if (reason, value) != (issue.reason, issue.value):
            issue = issue._replace(reason=reason, value=value)
    return issue


def _libxml2_issues(schema: etree.XMLSchema) -> list[ValidationIssue]:
    """libxml2's messages, those about the facets one value fails (minLength, then pattern) joined
    into one issue: one problem, one issue."""
    issues: list[ValidationIssue] = []
    for entry in schema.error_log:
        issue = ValidationIssue(reason=entry.message, path=entry.path or "/", line=entry.line or None)
        previous = issues[-1] if issues else None
        if (
            previous is not None
            and _LIBXML2_FACET in issue.reason
            and _LIBXML2_FACET in previous.reason
            and (previous.path, previous.line) == (issue.path, issue.line)
        ):
            issue = previous._replace(reason=f"{previous.reason.rstrip('.')}; {issue.reason}")
            issues.pop()
        issues.append(issue)
    return issues


_LIBXML2_FACET = "[facet '"


def _rule_issues(root: etree._Element) -> list[ValidationIssue]:
    """Rules XSD 1.0 cannot state, on a request's *root*. A password must come with a
    non-empty user-name."""
    user = root.find(PASSWORD_RULE[0])
    password = root.find(PASSWORD_RULE[1])
    if user is None or not (user.text or "").strip():
        return []
    if password is None or not password.text:
        where = password if password is not None else user
        return [
            ValidationIssue(
                reason="password is required when user-name is not empty",
                path=f"/{REQUEST_ROOT}/{PASSWORD_RULE[1]}",
                line=where.sourceline,
                kind="rule",
            )
        ]
    return []


def _decode_element(element: etree._Element, spec: ElementSpec) -> Any:
    if spec.parse is not None:
        return _decode_text(element.text, spec)
    if len(element) == 0:
        return None
    result: dict[str, Any] = {}
    table = spec.table
    # The hot loop: simple children are converted inline, without a call per element.
    for child in element:
        entry = table.get(child.tag)  # type: ignore[arg-type]
        if entry is None:  # a comment or PI in a tree the caller parsed
            continue
        name, many, plain, nested, child_spec = entry
        if plain:  # a string as written (most values)
            value = child.text or None
        elif nested:
            value = _decode_element(child, child_spec)
        else:
            text = child.text
            if not text:
                value = None
            else:
                # Space, tab, CR or LF (not printable) is what the whiteSpace facets act on: a
                # typed value without any (most: true, 42, a dateTime) skips normalizing.
                if " " in text or not text.isprintable():
                    text = child_spec.normalized(text)
                value = child_spec.parse(text)  # type: ignore[misc]
        if many:
            result.setdefault(name, []).append(value)
        else:
            result[name] = value
    return result


def _decode_text(text: str | None, spec: ElementSpec) -> Any:
    if not text:
        return None
    assert spec.parse is not None
    return spec.parse(spec.normalized(text))
