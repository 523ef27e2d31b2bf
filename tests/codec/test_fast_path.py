"""The fast path decides as the full one: libxml2's verdict (what ``vismock validate`` asks of every
document; xmlschema only reports on an invalid one) with the rules XSD cannot state, against
xmlschema's own validator with the same rules, on every document under tests/data and on generated
documents with one value or one element broken.

The one difference: libxml2 checks xs:anyURI values against the URI syntax, xmlschema accepts
nearly any text there. Such a document is invalid, reported in libxml2's words; the fast path never
passes a document the full one refuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

import vismock.codec as codec
from tests.support import DATA
from vismock.codec.core import _rule_issues
from vismock.codec.parsing import ParseFailure, parse
from vismock.schemas import REQUEST_ROOT
from vismock.testing import requests, responses

CODEC = codec.default_codec()
ENVELOPES = st.one_of(requests(), responses())
# Values a client might put where another belongs: empty, blank, numbers, a date, text with marks.
JUNK = st.one_of(
    st.sampled_from(["", " ", "-1", "1e3", "2009-13-40T25:61:00Z", "yes", "vm-", "\u00e9t\u00e9", "a b"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)


def verdicts(tree: etree._ElementTree) -> tuple[bool, bool] | None:
    """(fast, full): whether each path finds *tree* valid; None for a document of no operation
    (an unknown operation-name is refused before either validator is chosen)."""
    compiled, _ = CODEC._select(tree)
    if compiled is None:
        return None
    root = tree.getroot()
    rules_hold = root.tag != REQUEST_ROOT or not _rule_issues(root)
    full = compiled.xsd.is_valid(tree, use_location_hints=False) and rules_hold
    fast = not CODEC.tree_issues(tree)
    return fast, full


def assert_they_agree(tree: etree._ElementTree, fast: bool, full: bool) -> None:
    if fast:
        assert full, "the fast path passed a document xmlschema refuses"
    elif full:
        issues = CODEC.tree_issues(tree)
        assert issues and all("xs:anyURI" in issue.reason for issue in issues), issues


def compared(path: Path) -> bool:
    """Whether *path* holds a document both paths judge (not refused while parsing, of an operation)."""
    try:
        return verdicts(parse(path.read_bytes())) is not None
    except ParseFailure:
        return False


CORPUS = [path for path in sorted(DATA.rglob("*.xml")) if compared(path)]


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: str(path.relative_to(DATA)))
def test_the_fast_and_the_full_path_agree_on_every_stored_document(path: Path) -> None:
    tree = parse(path.read_bytes())
    found = verdicts(tree)
    assert found is not None
    assert_they_agree(tree, *found)


def test_the_stored_corpus_has_both_verdicts_of_both_roots() -> None:
    """The comparison above is not vacuous: valid and invalid requests and responses, the invalid
    corpus among them."""
    seen = set()
    for path in CORPUS:
        tree = parse(path.read_bytes())
        found = verdicts(tree)
        assert found is not None
        seen.add((tree.getroot().tag, found[1]))
    assert len(seen) == 4, seen
    assert sum(1 for path in CORPUS if path.parent == DATA / "codec" / "invalid") >= 15


@st.composite
def broken(draw: st.DrawFn) -> bytes:
    """A valid document with one leaf's text replaced, or one element removed."""
    tree = etree.fromstring(codec.encode(draw(ENVELOPES)))
    target = draw(st.sampled_from([element for element in tree.iter() if element is not tree]))
    if len(target) == 0 and draw(st.booleans()):
        target.text = draw(JUNK)
    else:
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)
    return etree.tostring(tree, encoding="UTF-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken())
def test_the_fast_and_the_full_path_agree_on_broken_documents(xml: bytes) -> None:
    tree = parse(xml)
    found = verdicts(tree)
    assume(found is not None)
    assert found is not None
    assert_they_agree(tree, *found)


def test_a_uri_libxml2_refuses_is_reported_in_its_words(seed_request: bytes) -> None:
    """The difference the comparisons allow, shown: '1:2' is no URI reference (a first segment with
    a colon would be a scheme, and a scheme starts with a letter); xmlschema accepts it."""
    tree = parse(seed_request.replace(b"<soap-url></soap-url>", b"<soap-url>1:2</soap-url>"))
    assert verdicts(tree) == (False, True)
    (issue,) = CODEC.tree_issues(tree)
    assert issue.path == "/vmware-infrastructure-request/soap-url" and "xs:anyURI" in issue.reason
