"""Parsing untrusted XML safely.

The parser never loads a DTD, never expands an entity, never touches the
network or the file system, and drops comments and processing instructions.
A document carrying any DTD at all is refused: the adapter envelopes never
need one, and refusing it outright is what makes entity bombs cheap to stop.
"""

from __future__ import annotations

import os
import re
import threading
from typing import IO

from lxml import etree

from vismock.codec.errors import ValidationIssue

DEFAULT_MAX_BYTES = 16 * 1024 * 1024

XMLInput = bytes | str | os.PathLike[str] | IO[bytes]


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        # White space between elements is not content (the schemas have no mixed content):
        # not keeping it halves the nodes of an indented document, its memory and its
        # validation time. White space inside a value (<password> </password>) is kept.
        remove_blank_text=True,
        collect_ids=False,
    )


class ParseFailure(Exception):
    """Internal: the input could not be turned into a tree; carries the issue."""

    def __init__(self, issue: ValidationIssue) -> None:
        super().__init__(issue.reason)
        self.issue = issue


# One parser per thread, as lxml advises: a parser shared by the server's threads serialises
# them on its lock (held while libxml2 parses, without the interpreter lock), and each hand-over
# wakes the thread waiting for it.
_PARSERS = threading.local()


def safe_parser() -> etree.XMLParser:
    """This thread's safe parser."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = _safe_parser()
    return parser


# The prolog: optional declaration, comments, PIs and white space, then DOCTYPE.
_PROLOG_SCAN_BYTES = 64 * 1024
_UNSAFE_REASON = "DTDs and entity declarations are not allowed in adapter XML"


# "DOCTYPE" in UTF-8 and every ASCII-compatible encoding. UTF-16 and UTF-32 text has NUL bytes,
# which XML text never has otherwise: such a head is decoded to be looked at.
_DOCTYPE = b"DOCTYPE"
_WIDE = b"\0"
# The encodings libxml2 tells from a document's first bytes that are not ASCII-compatible: byte
# order marks (decoded by the codecs that drop them) and "<" without one. UTF-32 before UTF-16:
# its little-endian mark begins with UTF-16's.
_WIDE_ENCODINGS = (
    ((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-32"),
    ((b"<\x00\x00\x00",), "utf-32-le"),
    ((b"\x00\x00\x00<",), "utf-32-be"),
    ((b"\xff\xfe", b"\xfe\xff"), "utf-16"),
    ((b"<\x00",), "utf-16-le"),
    ((b"\x00<",), "utf-16-be"),
)


def _doctype_line(data: bytes) -> int | None:
    """The line of a DOCTYPE in the prolog, or None when there is none."""
    head = data[:_PROLOG_SCAN_BYTES]
    for marks, encoding in _WIDE_ENCODINGS:
        if head.startswith(marks):
            head = head.decode(encoding, errors="replace").encode("utf-8")
            break
    head = head.removeprefix(b"\xef\xbb\xbf")
    found = _doctype_offset(head)
    return head.count(b"\n", 0, found) + 1 if found is not None else None


# The markup that may precede a DOCTYPE in the prolog, and where each one ends.
_PROLOG_ITEMS = ((b"<?", b"?>"), (b"<!--", b"-->"))


def _doctype_offset(head: bytes) -> int | None:
    """Where a DOCTYPE starts in the prolog of *head*, or None.

    A linear scan over white space, declarations, PIs and comments: a regular
    expression with nested repeats here backtracks exponentially on a prolog
    of many comments.
    """
    position = 0
    while True:
        while position < len(head) and head[position] in b" \t\r\n":
            position += 1
        if head.startswith(b"<!DOCTYPE", position):
            return position
        for opening, closing in _PROLOG_ITEMS:
            if head.startswith(opening, position):
                end = head.find(closing, position + len(opening))
                if end == -1:
                    return None  # unterminated: the parser will call it malformed
                position = end + len(closing)
                break
        else:
            return None


def _unsafe(line: int | None = None, reason: str = _UNSAFE_REASON) -> ParseFailure:
    return ParseFailure(ValidationIssue(reason=reason, path="/", line=line, kind="unsafe"))


def _too_large(max_bytes: int) -> ParseFailure:
    reason = f"document is larger than the limit of {max_bytes} bytes"
    return ParseFailure(ValidationIssue(reason=reason, path="/", kind="size"))


# What one read asks for when the size is unknown (a pipe, a device).
_READ_CHUNK = 1024 * 1024
# The first read of a file: a document up to this size (nearly every adapter payload) is read
# without asking its size, which costs more than the read (a stat result built for one number).
_FIRST_READ = 64 * 1024


def read_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of the file at *path*, refused (ParseFailure, kind size) past *max_bytes*.

    A small file is read in one call, a second one seeing its end. A larger one is read in one
    call of its own size: ``f.read(max_bytes + 1)`` would allocate the whole limit (16 MiB)
    for every file, and chunks joined would hold a 50 MB document twice.
    Raises OSError when the file cannot be read.
    """
    fd = os.open(path, _READ_ONLY)
    try:
        head = os.read(fd, _FIRST_READ)
        if len(head) < _FIRST_READ:
            more = os.read(fd, _FIRST_READ)  # b"": the end (a pipe may have paused, not ended)
            if more:
                return _read_rest(fd, [head, more], max_bytes)
            if len(head) > max_bytes:
                raise _too_large(max_bytes)
            return head
        return _read_large(fd, head, max_bytes)
    finally:
        os.close(fd)


_READ_ONLY = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _read_large(fd: int, head: bytes, max_bytes: int) -> bytes:
    """The rest of a file whose first read was full: a regular file is read again whole, in
    one call of its size; a pipe or a device (size unknown) in chunks."""
    size = os.fstat(fd).st_size
    if size > max_bytes:
        raise _too_large(max_bytes)
    if size < len(head):  # a pipe or a device
        return _read_rest(fd, [head], max_bytes)
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, size + 1)  # one byte more, to see its end
    if len(data) <= size:
        return data
    return _read_rest(fd, [data], max_bytes)  # it grew while we read it


def _read_rest(fd: int, chunks: list[bytes], max_bytes: int) -> bytes:
    total = sum(len(chunk) for chunk in chunks)
    while total <= max_bytes:
        chunk = os.read(fd, min(_READ_CHUNK, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise _too_large(max_bytes)


def read_bytes(source: XMLInput, max_bytes: int) -> bytes:
    """The raw bytes of *source*: XML text, bytes, a path or a binary file."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str):
        data = source.encode("utf-8")
        # A str is already decoded text: drop a declared encoding that would lie.
        if data.lstrip().startswith(b"<?xml"):
            end = data.find(b"?>")
            data = b'<?xml version="1.0"?>' + data[end + 2 :] if end != -1 else data
    elif isinstance(source, os.PathLike):
        return read_file(source, max_bytes)
    else:
        data = source.read(max_bytes + 1)
        if isinstance(data, str):  # a text-mode file: treat like a str
            return read_bytes(data, max_bytes)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


# libxml2's words for a reference to an entity it refused to define or expand; a bare "&" or a
# reference cut off before its ";" is plain malformed XML.
_ENTITY_REFUSAL = re.compile(r"Entity '[^']*' not defined|amplification|entity reference loop", re.IGNORECASE)


def parse(data: bytes) -> etree._ElementTree:
    """Parse *data* into a tree, refusing DTDs and malformed input."""
    if not data or data.isspace():  # not data.strip(): that copies a 50 MB document
        raise ParseFailure(ValidationIssue(reason="document is empty", path="/", kind="syntax"))
    head = data[:_PROLOG_SCAN_BYTES]
    wide = _WIDE in head
    if wide or _DOCTYPE in head:
        doctype_line = _doctype_line(data)
        if doctype_line is not None:
            raise _unsafe(doctype_line)
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        if _ENTITY_REFUSAL.search(exc.msg):
            # Only the five predefined entities and character references are allowed.
            raise _unsafe(line, f"entity references are not allowed in adapter XML: {exc.msg}") from None
        raise ParseFailure(
            ValidationIssue(reason=f"malformed XML: {exc.msg}", path="/", line=line, kind="syntax")
        ) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration lxml rejects
        raise ParseFailure(ValidationIssue(reason=f"malformed XML: {exc}", path="/", kind="syntax")) from None
    tree = root.getroottree()
    # Within the scanned head the prolog scan has seen the whole prolog: only a longer
    # document can hide a DOCTYPE from it (behind 64 KiB of comments), or a wide one in an
    # encoding libxml2 read and the scan did not.
    if (wide or len(data) > _PROLOG_SCAN_BYTES) and (
        tree.docinfo.doctype or tree.docinfo.internalDTD is not None
    ):
        raise _unsafe()
    return tree
