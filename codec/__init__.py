"""Validate, decode and encode VIS adapter XML envelopes.

The module-level functions use one shared :class:`Codec` over the shipped
schemas; make your own ``Codec(schema_dir=...)`` for another catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from vismock.codec.core import Codec, Root
from vismock.codec.errors import (
    CodecError,
    DocumentInvalidError,
    DocumentTooLargeError,
    EncodeError,
    MalformedXMLError,
    UnsafeXMLError,
    ValidationIssue,
)
from vismock.codec.parsing import XMLInput

if TYPE_CHECKING:
    from vismock.codec.values import XsDateTime

__all__ = [
    "Codec",
    "CodecError",
    "DocumentInvalidError",
    "DocumentTooLargeError",
    "EncodeError",
    "MalformedXMLError",
    "UnsafeXMLError",
    "ValidationIssue",
    "XsDateTime",
    "decode",
    "default_codec",
    "encode",
    "is_valid",
    "iter_errors",
    "validate",
]


@cache
def default_codec() -> Codec:
    """The shared codec over the shipped schemas (compiled on first use)."""
    return Codec()


def iter_errors(xml: XMLInput) -> Iterator[ValidationIssue]:
    return default_codec().iter_errors(xml)


def validate(xml: XMLInput) -> None:
    default_codec().validate(xml)


def is_valid(xml: XMLInput) -> bool:
    return default_codec().is_valid(xml)


def decode(xml: XMLInput) -> dict[str, Any]:
    return default_codec().decode(xml)


def encode(data: Mapping[str, Any], *, root: Root | None = None) -> bytes:
    return default_codec().encode(data, root=root)


def __getattr__(name: str) -> Any:
    """``XsDateTime`` on first use: its module (datetime, decimal) is not needed to validate,
    and ``vismock validate`` counts its start-up in milliseconds."""
    if name == "XsDateTime":
        from vismock.codec.values import XsDateTime

        return XsDateTime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
