"""The codec refuses hostile XML cleanly: a located issue of the right kind, nothing read, nothing fetched.

Documents: tests/data/hostile/cases.toml (built by tests/data/hostile/documents.py).
CPU per refusal is measured by ``python bench/soak.py --hostile-cpu``, not here.
"""

from __future__ import annotations

import io
import resource
from typing import Any

import pytest

import vismock.codec as codec
from tests.support.hostile import PASSWD_MARKER, load_documents
from vismock.codec import Codec, CodecError, UnsafeXMLError, ValidationIssue

documents = load_documents()
CASES = documents.entity_cases()


def issue_text(issues: list[ValidationIssue]) -> str:
    return "\n".join(f"{issue.reason} {issue.path} {issue.value}" for issue in issues)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_entity_case_is_refused_without_reading_or_fetching(
    case: Any, canary: Any, secret: tuple[str, str]
) -> None:
    secret_url, marker = secret
    document = case.adapter_document(canary.url, secret_url)

    issues = list(codec.iter_errors(document))

    if case.codec == "valid":
        assert issues == []
    else:
        assert issues, f"{case.name}: accepted"
        assert issues[0].kind == case.codec, issue_text(issues)
        assert issues[0].path.startswith("/")
    text = issue_text(issues)
    assert marker not in text and PASSWD_MARKER not in text and "canary-was-contacted" not in text
    assert canary.requests == [], f"{case.name} made the codec call out: {canary.requests}"


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.codec == "unsafe"], ids=lambda case: case.name
)
def test_unsafe_case_raises_unsafe_xml_error_from_decode(
    case: Any, canary: Any, secret: tuple[str, str]
) -> None:
    with pytest.raises(UnsafeXMLError) as raised:
        codec.decode(case.adapter_document(canary.url, secret[0]))
    assert raised.value.issues[0].kind == "unsafe"
    assert secret[1] not in str(raised.value)


def test_every_entity_case_keeps_memory_bounded(canary: Any, secret: tuple[str, str]) -> None:
    # ru_maxrss is the process's peak: an expanded billion laughs or quadratic blowup would add
    # hundreds of MB to it. Each document is at most ~100 KB.
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for case in CASES:
        for _ in range(3):
            list(codec.iter_errors(case.adapter_document(canary.url, secret[0])))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 64, f"peak memory grew by {grown_mb:.0f} MB while refusing hostile documents"


WIDE_ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


@pytest.mark.parametrize("encoding", WIDE_ENCODINGS)
def test_a_doctype_in_every_encoding_libxml2_reads_is_refused_on_its_line(encoding: str) -> None:
    """UTF-16 and UTF-32, with a byte order mark or without one: libxml2 reads them all, so the
    DOCTYPE is looked for in all of them (UTF-16BE without a mark and UTF-32 were once parsed)."""
    text = f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    issues = list(codec.iter_errors(text.encode(encoding)))
    assert [(issue.kind, issue.line) for issue in issues] == [("unsafe", 2)], issue_text(issues)
    plain = f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n<a>b</a>'.encode(encoding)
    assert [issue.kind for issue in codec.iter_errors(plain)] == ["schema"]  # read, then judged


# -- size and shape --------------------------------------------------------------------------------

SHAPES = {
    "deep-nesting": (documents.deep_nesting, "syntax"),
    "invalid-utf8": (documents.invalid_utf8, "syntax"),
    "truncated": (documents.truncated, "syntax"),
    "empty": (lambda: b"", "syntax"),
    "whitespace-only": (lambda: b"  \n\t ", "syntax"),
    "gzip-compressed": (lambda: documents.gzip_bomb(1024 * 1024), "syntax"),
    "binary-noise": (lambda: bytes(range(256)) * 64, "syntax"),
    "long-attribute": (lambda: documents.long_attribute(512 * 1024), "schema"),
    "many-unknown-elements": (lambda: documents.many_unknown_elements(2000), "schema"),
    "some-attributes": (lambda: documents.many_attributes(20), "schema"),
    "long-task-id": (lambda: documents.long_text(512 * 1024), "valid"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape_is_refused_with_a_located_issue(name: str) -> None:
    build, kind = SHAPES[name]
    issues = list(codec.iter_errors(build()))
    if kind == "valid":
        assert issues == []
    else:
        assert issues and issues[0].kind == kind, issue_text(issues)


def test_size_cap_applies_before_parsing() -> None:
    small = Codec(max_bytes=1024)
    issues = list(small.iter_errors(documents.long_text(4096)))
    assert [issue.kind for issue in issues] == ["size"]
    assert "1024" in issues[0].reason


class EndlessStream(io.RawIOBase):
    """A file-like source that never ends: the codec must read no more than its cap (plus one)."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "the codec asked for everything from an endless stream"
        self.served += size
        return b" " * size


def test_endless_stream_is_read_only_up_to_the_cap() -> None:
    stream = EndlessStream()
    issues = list(Codec(max_bytes=4096).iter_errors(stream))  # type: ignore[arg-type]
    assert [issue.kind for issue in issues] == ["size"]
    assert stream.served <= 4097


def test_error_list_stays_small_for_a_long_bad_value() -> None:
    # The offending value is reported, but the report must not be a multiple of the input.
    document = documents.with_task("bad task id " + "x" * 200_000)
    issues = list(codec.iter_errors(document))
    assert issues and issues[0].kind == "schema"
    assert len(issue_text(issues)) < 3 * len(document)


# -- CPU exhaustion: run in a forked child that is killed after a generous bound, so a regression
# -- (both were defects once, found by this suite) fails the test instead of hanging the run


def _validate_in_child(document: bytes) -> None:
    list(codec.iter_errors(document))


@pytest.mark.parametrize("build", [documents.prolog_backtracking, documents.prolog_pi_backtracking])
def test_prolog_with_many_comments_is_handled_in_bounded_time(build: Any) -> None:
    # Once an exponential regex backtrack: 40 x '<!---->' (280 bytes) never finished.
    document = build(40)
    assert documents.finishes_within(lambda: _validate_in_child(document), seconds=3.0)


def test_many_attributes_are_refused_in_bounded_time() -> None:
    # Once O(n^2)+ in xmlschema's error path: 3,000 unknown attributes (30 KB) took over a minute.
    document = documents.many_attributes(3000)
    assert documents.finishes_within(lambda: _validate_in_child(document), seconds=3.0)


def test_many_unknown_elements_are_refused_in_bounded_time() -> None:
    document = documents.many_unknown_elements(32_000)
    assert documents.finishes_within(lambda: _validate_in_child(document), seconds=3.0)


# -- passwords never echoed by the codec -----------------------------------------------------------

PASSWORD = "Pw-7Qz!codec-LEAK-canary"
_BASE = documents.seed_request().decode().replace("<user-name></user-name>", "<user-name>vismock</user-name>")
PASSWORD_PLACEMENTS = {
    "valid": _BASE.replace("<password></password>", f"<password>{PASSWORD}</password>"),
    "invalid-elsewhere": _BASE.replace("<password></password>", f"<password>{PASSWORD}</password>").replace(
        "<transport></transport>", "<transport>smtp</transport>"
    ),
    "out-of-order": _BASE.replace("<password></password>", "").replace(
        "</parameters>", f"</parameters><password>{PASSWORD}</password>"
    ),
    "with-child": _BASE.replace("<password></password>", f"<password>{PASSWORD}<b/></password>"),
    "after-child": _BASE.replace("<password></password>", f"<password><b/>{PASSWORD}</password>"),
    "twice": _BASE.replace("<password></password>", f"<password>{PASSWORD}</password>" * 2),
    "as-attribute": _BASE.replace("<password></password>", f'<password value="{PASSWORD}"/>'),
    "attribute-and-text": _BASE.replace(
        "<password></password>", f'<password k="{PASSWORD}">{PASSWORD}</password>'
    ),
    "cdata": _BASE.replace("<password></password>", f"<password><![CDATA[{PASSWORD}]]></password>").replace(
        "<transport></transport>", "<transport>smtp</transport>"
    ),
    "inside-parameters": _BASE.replace("<spec-set>", f"<spec-set><password>{PASSWORD}</password>"),
    "malformed-after": _BASE.replace("<password></password>", f"<password>{PASSWORD}</pass>"),
    "control-character": _BASE.replace("<password></password>", f"<password>{PASSWORD}\x01</password>"),
}


@pytest.mark.parametrize("placement", PASSWORD_PLACEMENTS)
def test_password_never_appears_in_codec_issues(placement: str) -> None:
    document = PASSWORD_PLACEMENTS[placement].encode()
    issues = list(codec.iter_errors(document))
    assert PASSWORD not in issue_text(issues)
    try:
        codec.decode(document)
    except CodecError as error:
        assert PASSWORD not in str(error)


def test_namespaced_password_is_masked() -> None:
    document = _BASE.replace(
        "<password></password>", f'<p:password xmlns:p="urn:x">{PASSWORD}</p:password>'
    ).encode()
    assert PASSWORD not in issue_text(list(codec.iter_errors(document)))
