"""The codec's exception family and the located problem each error carries."""

from __future__ import annotations

from typing import Literal, NamedTuple

from vismock.errors import VismockError

IssueKind = Literal["syntax", "unsafe", "size", "schema", "rule", "encode"]


# A NamedTuple, not a dataclass: `vismock validate` would import dataclasses (and define the class
# with it) at every start for a type that a valid document never even instantiates.
class ValidationIssue(NamedTuple):
    """One problem in a document: what is wrong, where, and the value at fault.

    ``path`` is an XPath from the root (``/vmware-infrastructure-request/transport``),
    ``line`` the 1-based source line when the document was parsed from text, and
    ``value`` the offending text (secrets are masked), or None when there is none.
    """

    reason: str
    path: str
    line: int | None = None
    value: str | None = None
    kind: IssueKind = "schema"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return dict(self._asdict())


def quoted(text: str) -> str:
    """*text* between quotes as written: a pattern ``\\S+`` shows as ``'\\S+'``, not repr's ``'\\\\S+'``.

    Text with control characters (a tab, a newline) keeps repr's escapes, which show them.
    """
    if not text.isprintable():
        return repr(text)
    if "'" not in text:
        return f"'{text}'"
    return f'"{text}"' if '"' not in text else repr(text)


class CodecError(VismockError):
    """A document could not be read, validated or written; ``issues`` says why."""

    def __init__(self, issues: list[ValidationIssue] | tuple[ValidationIssue, ...]) -> None:
        self.issues = tuple(issues)
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the document"
        return head + "".join(f"\n  {issue}" for issue in self.issues)


class MalformedXMLError(CodecError):
    """The bytes are not well-formed XML (or not decodable text)."""


class UnsafeXMLError(CodecError):
    """The document uses a feature refused on untrusted input (DTD, entities)."""


class DocumentTooLargeError(CodecError):
    """The document is larger than the configured limit."""


class DocumentInvalidError(CodecError):
    """The document is well-formed but does not satisfy the schema or its rules."""


class EncodeError(CodecError):
    """A dict could not be written as a valid document."""


ERROR_BY_KIND: dict[IssueKind, type[CodecError]] = {
    "syntax": MalformedXMLError,
    "unsafe": UnsafeXMLError,
    "size": DocumentTooLargeError,
    "schema": DocumentInvalidError,
    "rule": DocumentInvalidError,
    "encode": EncodeError,
}
