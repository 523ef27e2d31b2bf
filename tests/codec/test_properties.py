"""Properties of the codec on generated data: round trips and the xmlschema oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

import vismock.codec as codec
from tests.support import DATA
from tests.support.codec_examples import (
    DATETIME_EXAMPLES,
    LEXICAL_EXAMPLES,
    REQUEST_EXAMPLES,
    RESPONSE_EXAMPLES,
    with_examples,
)
from vismock.codec import XsDateTime
from vismock.codec.model import ElementSpec, build_spec
from vismock.testing import requests, responses

SCHEMA = codec.default_codec().schema()
PLANS = {name: build_spec(element) for name, element in SCHEMA.elements.items()}
ENVELOPES = st.one_of(requests(), responses())
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def oracle(xml: bytes) -> Any:
    """xmlschema's own decoding of *xml*, as the reference for the fast path."""
    return SCHEMA.to_dict(etree.fromstring(xml).getroottree(), use_location_hints=False)


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True, remove_pis=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


@st.composite
def lexical_variants(draw: st.DrawFn) -> bytes:
    """A valid document written as a client might: other lexical forms, white space, comments."""
    tree = etree.fromstring(codec.encode(draw(ENVELOPES)))
    _vary(draw, tree, PLANS[tree.tag])
    if draw(st.booleans()):
        tree.insert(0, etree.Comment(" generated "))
    pretty = draw(st.booleans())
    return etree.tostring(tree, xml_declaration=draw(st.booleans()), encoding="UTF-8", pretty_print=pretty)


def _vary(draw: st.DrawFn, element: etree._Element, spec: ElementSpec) -> None:
    if spec.parse is None:
        for child in element:
            _vary(draw, child, spec.children[child.tag])
        return
    text = element.text or ""
    if text in ("true", "false") and isinstance(spec.parse(text), bool):
        text = draw(st.sampled_from([text, "1" if text == "true" else "0"]))
    elif spec.parse is int and text:
        number = int(text)
        text = draw(
            st.sampled_from(
                [text, f"+{number}" if number >= 0 else text, f"{'-' if number < 0 else ''}00{abs(number)}"]
            )
        )
    if spec.collapse and text:
        text = draw(st.sampled_from(["", " ", "\n  "])) + text + draw(st.sampled_from(["", " ", "\t\n"]))
    element.text = text or None


@SETTINGS
@given(ENVELOPES)
@with_examples(REQUEST_EXAMPLES + RESPONSE_EXAMPLES)
def test_decode_of_encode_is_the_identity(data: dict[str, Any]) -> None:
    assert codec.decode(codec.encode(data)) == data


@SETTINGS
@given(ENVELOPES)
def test_encode_writes_what_lxml_would_serialise(data: dict[str, Any]) -> None:
    """encode writes the text itself: byte for byte lxml's pretty print of the same tree."""
    written = codec.encode(data)
    tree = etree.fromstring(written, etree.XMLParser(remove_blank_text=True))
    assert written == etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("", b"<error></error>"),
        ("a&b<c>d\re\nf\t'\"", b"<error>a&amp;b&lt;c&gt;d&#13;e\nf\t'\"</error>"),
        ("\u00e9\u2028", "<error>\u00e9\u2028</error>".encode()),
    ],
)
def test_encode_escapes_text_as_lxml_does(value: str, written: bytes) -> None:
    xml = codec.encode({"metadata": {"status": "error", "error": value}})
    assert written in xml
    assert codec.decode(xml)["metadata"]["error"] == (value or None)  # a CR too survives
    if value:  # (parsed, <error></error> has no text: lxml writes that back as <error/>)
        reread = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
        assert xml == etree.tostring(reread, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@pytest.mark.parametrize("value", ["bad\x01", "nul\x00", "half \ud800 surrogate"])
def test_a_character_xml_does_not_allow_is_located(value: str) -> None:
    request = codec.decode((DATA / "basic-vm" / "power-on-request.xml").read_bytes())
    request["parameters"] = {"virtual-machine": value}
    with pytest.raises(codec.EncodeError) as raised:
        codec.encode(request)
    (issue,) = raised.value.issues
    assert issue.path == "/vmware-infrastructure-request/parameters/virtual-machine"
    assert issue.reason.endswith("is not a character XML allows")


@SETTINGS
@given(lexical_variants())
@with_examples(LEXICAL_EXAMPLES)
def test_fast_decode_equals_the_xmlschema_oracle(xml: bytes) -> None:
    assert codec.decode(xml) == oracle(xml)


@SETTINGS
@given(lexical_variants())
@with_examples(LEXICAL_EXAMPLES)
def test_encode_of_decode_is_the_document_up_to_canonical_forms(xml: bytes) -> None:
    again = codec.encode(codec.decode(xml))
    assert codec.decode(again) == codec.decode(xml)
    # Written again from its own decoding, the document is a fixed point, byte for byte.
    assert codec.encode(codec.decode(again)) == again
    assert canonical(again) == canonical(codec.encode(oracle(xml), root=etree.fromstring(xml).tag))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.timezones() | st.just(UTC)))
@with_examples(DATETIME_EXAMPLES)
def test_an_aware_datetime_survives_xs_datetime(moment: datetime) -> None:
    offset = moment.utcoffset()
    assume(offset is not None and offset.total_seconds() % 60 == 0 and abs(offset) <= timedelta(hours=14))
    text = XsDateTime.from_datetime(moment)
    parsed = XsDateTime(text).datetime
    # The same instant and offset. Not `parsed == moment`: for a local time in a daylight-saving gap
    # or fold, == between different zones is False even for equal instants (PEP 495).
    assert parsed.astimezone(UTC) == moment.astimezone(UTC)
    assert parsed.utcoffset() == offset
    assert SCHEMA.types["dateTime"].is_valid(text)


def test_an_offset_outside_xs_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="14:00"):
        XsDateTime.from_datetime(datetime(1844, 1, 1, tzinfo=timezone(timedelta(hours=-14, minutes=-17))))
