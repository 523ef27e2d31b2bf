"""Hypothesis strategies derived from the compiled XSDs, not from hand-listed fields.

The walk follows the schema's content models: sequences keep their order,
choices pick one alternative, ``minOccurs``/``maxOccurs`` decide presence and
list length, and simple values come from the facets (enumerations, patterns,
bounds) and builtin types. Every dict is in the codec's decode form, so
``decode(encode(d)) == d``; every document is valid by construction. A new
element in an XSD is generated without any change here.

Pins: keyword arguments fix parts of the output. A pin maps an element name
to a constant, a strategy, :data:`ABSENT` (leave the element out) or
:data:`PRESENT` (include it, generated as usual; for a choice this selects
the alternative).
"""

from __future__ import annotations

import operator
import random
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, NamedTuple

import xmlschema
from hypothesis import strategies as st
from lxml import etree
from xmlschema.validators import XsdElement, XsdGroup

from vismock.codec import Codec, default_codec
from vismock.codec.core import PASSWORD_RULE
from vismock.codec.model import build_spec, builtin_ancestors, decode_form
from vismock.codec.values import INTEGER_RANGES
from vismock.schemas import REQUEST_ROOT, RESPONSE_ROOT

__all__ = [
    "ABSENT",
    "PRESENT",
    "InvalidDocument",
    "SchemaStrategies",
    "element_values",
    "invalid_documents",
    "invalid_requests",
    "invalid_responses",
    "request_documents",
    "requests",
    "response_documents",
    "responses",
    "task_infos",
]

MAX_REPEATS: Final = 3
MAX_TEXT: Final = 12
XSD: Final = "{http://www.w3.org/2001/XMLSchema}"


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ABSENT: Final = _Marker("ABSENT")
PRESENT: Final = _Marker("PRESENT")

Pins = Mapping[str, Any]
Entries = list[tuple[str, Any]]

# Characters XML 1.0 can carry in text (lxml refuses the others): no C0
# controls except tab/newline/carriage return, no surrogates, no U+FFFE/U+FFFF.
XML_CHARS: Final = st.characters(
    codec="utf-8",
    exclude_categories=("Cs", "Cc"),
    exclude_characters="\ufffe\uffff",
    include_characters="\t\n\r",
)

# Simple lexical spaces are composed from text strategies: from_regex costs milliseconds a draw.
_NAME_START: Final = string.ascii_letters + "_"
_NAME_CHARS: Final = string.ascii_letters + string.digits + "._-"
_NCNAMES: Final = st.builds(
    operator.add, st.sampled_from(_NAME_START), st.text(_NAME_CHARS, max_size=MAX_TEXT - 1)
)
_NMTOKENS: Final = st.text(_NAME_CHARS + ":", min_size=1, max_size=MAX_TEXT)
_TOKENS: Final = st.lists(_NMTOKENS, max_size=3).map(" ".join)
_URIS: Final = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "ftp"]),
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8),
    st.sampled_from(["", ".com", ".example.org", ":8443", ":80"]),
    st.lists(st.text(string.ascii_letters + string.digits + "._~-", max_size=6), max_size=3).map(
        lambda parts: "".join("/" + part for part in parts)
    ),
)


def _zones() -> st.SearchStrategy[timezone]:
    minutes = st.integers(min_value=-14 * 60, max_value=14 * 60)
    return st.one_of(st.just(UTC), minutes.map(lambda m: timezone(timedelta(minutes=m))))


@st.composite
def _date_times(draw: st.DrawFn) -> str:
    """An xs:dateTime with a time zone and 0-9 fraction digits (vCenter sends nanoseconds)."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    zone = draw(_zones())
    digits = draw(st.integers(min_value=0, max_value=9))
    fraction = f"{draw(st.integers(min_value=0, max_value=10**digits - 1)):0{digits}d}" if digits else ""
    offset = zone.utcoffset(None)
    if offset == timedelta(0):
        suffix = draw(st.sampled_from(["Z", "+00:00"]))
    else:
        sign = "-" if offset < timedelta(0) else "+"
        hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    # strftime("%Y") does not pad years before 1000; xs:dateTime needs four digits.
    clock = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    return clock + (f".{fraction}" if fraction else "") + suffix


def _integer_text(names: list[str], xsd_type: Any) -> st.SearchStrategy[str]:
    low, high = next((INTEGER_RANGES[n] for n in names if n in INTEGER_RANGES), (None, None))
    type_low, type_high = getattr(xsd_type, "min_value", None), getattr(xsd_type, "max_value", None)
    if isinstance(type_low, int):
        low = type_low if low is None else max(low, type_low)
    if isinstance(type_high, int):
        high = type_high if high is None else min(high, type_high)
    return st.integers(min_value=low, max_value=high).map(str)


def _python_pattern(compiled: re.Pattern[str]) -> str:
    """xmlschema's translation of an XSD pattern, without the anchors it adds."""
    text = compiled.pattern
    prefix, suffix = "^(?:", ")$(?!\\n\\Z)"
    if text.startswith(prefix) and text.endswith(suffix):
        return text[len(prefix) : -len(suffix)]
    return text


def _pattern_text(xsd_type: Any) -> st.SearchStrategy[str] | None:
    facets = getattr(xsd_type, "patterns", None)
    if not facets:
        return None
    # Patterns of one restriction step are alternatives; xmlschema already
    # translated the XSD dialect (\S, \d, \i, ., ...) into Python regexes.
    alternatives = [_regex_text(compiled) for compiled in facets.patterns]
    return st.one_of(alternatives)


def _regex_text(compiled: re.Pattern[str]) -> st.SearchStrategy[str]:
    r"""Texts fully matching *compiled*.

    from_regex costs milliseconds per draw; when most short texts match anyway
    (``\S+``), filtering plain text is a hundred times cheaper.
    """
    if _acceptance(compiled) >= 0.5:
        return st.text(XML_CHARS, min_size=1, max_size=MAX_TEXT).filter(_Matches((compiled,)))
    return st.from_regex(_python_pattern(compiled), fullmatch=True, alphabet=XML_CHARS)


def _acceptance(compiled: re.Pattern[str]) -> float:
    """The share of a fixed sample of short texts that *compiled* matches."""
    rng = random.Random(0)
    pool = string.ascii_letters + string.digits + string.punctuation + " \u00e9\u4e2d\U0001f600"
    sample = ["".join(rng.choices(pool, k=rng.randint(1, MAX_TEXT))) for _ in range(200)]
    return sum(1 for text in sample if compiled.match(text)) / len(sample)


_TEXT_BY_BUILTIN: Final[dict[str, st.SearchStrategy[str]]] = {
    "boolean": st.sampled_from(["true", "false"]),
    "dateTime": _date_times(),
    "date": st.dates(min_value=datetime(1, 1, 2).date()).map(lambda d: f"{d.year:04d}-{d:%m-%d}Z"),
    "time": st.times().map(lambda t: t.isoformat()),
    "decimal": st.decimals(
        allow_nan=False, allow_infinity=False, places=3, max_value=10**9, min_value=-(10**9)
    ).map(str),
    "float": st.floats(allow_nan=False, width=32).map(repr),
    "double": st.floats(allow_nan=False).map(repr),
    "anyURI": _URIS,
    "NCName": _NCNAMES,
    "ID": _NCNAMES,
    "IDREF": _NCNAMES,
    "Name": _NCNAMES,
    "NMTOKEN": _NMTOKENS,
    "language": st.sampled_from(["en", "en-US", "de", "fr-CA", "ja"]),
    "token": _TOKENS,
    # No Unicode spaces here: xmlschema, the differential oracle, wrongly treats U+00A0 and the like
    # as XML white space in whitespace-normalised types (test_codec checks the codec keeps them).
    "normalizedString": st.text(
        XML_CHARS.filter(lambda c: c not in "\t\n\r" and not c.isspace()), max_size=MAX_TEXT
    ),
    "string": st.text(XML_CHARS, max_size=MAX_TEXT),
}


def lexical_values(xsd_type: Any) -> st.SearchStrategy[str]:
    """Texts valid for the simple type *xsd_type* (facets first, then the builtin base)."""
    enumeration = getattr(xsd_type, "enumeration", None)
    if enumeration:
        return st.sampled_from([str(value) for value in enumeration])
    names = builtin_ancestors(xsd_type)
    if any(n in INTEGER_RANGES for n in names):
        base = _integer_text(names, xsd_type)
    else:
        string_like = names[:1] in (["string"], ["normalizedString"], ["token"])
        patterned = _pattern_text(xsd_type) if string_like else None
        builtin = next(
            (_TEXT_BY_BUILTIN[n] for n in names if n in _TEXT_BY_BUILTIN), _TEXT_BY_BUILTIN["string"]
        )
        base = patterned if patterned is not None else builtin
    # The remaining facets (lengths, patterns on non-strings, bounds on dates)
    # are checked by the schema itself: generated values are valid by construction.
    return _checked(base, xsd_type, uses_bounds=any(n in INTEGER_RANGES for n in names))


# Builtins whose generators above only produce valid texts.
_EXACT_BUILTINS: Final = frozenset(_TEXT_BY_BUILTIN) | frozenset(INTEGER_RANGES)
# Facets the generators honour themselves (patterns are re-checked cheaply with a regex).
_HONOURED_FACETS: Final = frozenset({"pattern", "enumeration", "whiteSpace"})
_BOUND_FACETS: Final = frozenset({"minInclusive", "maxInclusive"})


def _checked(base: st.SearchStrategy[str], xsd_type: Any, *, uses_bounds: bool) -> st.SearchStrategy[str]:
    """*base* filtered so every text is valid for *xsd_type*, as cheaply as that can be made sure.

    xmlschema's is_valid costs about half a millisecond; it is used only when a
    facet or builtin is not already honoured by construction.
    """
    facets: set[str] = set()
    regexes: list[re.Pattern[str]] = []
    current = xsd_type
    while current is not None and not str(getattr(current, "name", None) or "").startswith(XSD):
        facets.update(name[len(XSD) :] for name in (getattr(current, "facets", None) or {}) if name)
        patterns = getattr(current, "patterns", None)
        if patterns:
            regexes.append(re.compile("|".join(f"(?:{p.pattern})" for p in patterns.patterns)))
        current = getattr(current, "base_type", None)
    honoured = _HONOURED_FACETS | (_BOUND_FACETS if uses_bounds else frozenset())
    builtin = next(iter(builtin_ancestors(xsd_type)), "")
    if not facets <= honoured or builtin not in _EXACT_BUILTINS:
        return base.filter(_ValidFor(xsd_type))
    return base.filter(_Matches(tuple(regexes))) if regexes else base


class _Matches:
    """A filter predicate: does the text match every pattern step? (callable: see _ValidFor)"""

    __slots__ = ("regexes",)

    def __init__(self, regexes: tuple[re.Pattern[str], ...]) -> None:
        self.regexes = regexes

    def __call__(self, text: str) -> bool:
        return all(regex.match(text) for regex in self.regexes)

    def __repr__(self) -> str:
        return f"matches({[r.pattern for r in self.regexes]})"


class _ValidFor:
    """A filter predicate: is the text valid for the simple type?

    A callable object, not a bound method or lambda: Hypothesis inspects the
    source of those to rewrite filters, and it does so again on every draw.
    """

    __slots__ = ("xsd_type",)

    def __init__(self, xsd_type: Any) -> None:
        self.xsd_type = xsd_type

    def __call__(self, text: str) -> bool:
        return bool(self.xsd_type.is_valid(text))

    def __repr__(self) -> str:
        return f"valid_for({self.xsd_type.local_name or self.xsd_type.prefixed_name})"


def element_values(xsd_element: XsdElement) -> st.SearchStrategy[Any]:
    """Decoded values of a simple-content element, as ``Codec.decode`` returns them."""
    spec = build_spec(xsd_element)
    assert spec.parse is not None
    parse: Callable[[str], Any] = spec.parse
    declared: Any = xsd_element.type
    xsd_type = declared if declared.is_simple() else declared.content
    if xsd_element.fixed is not None:
        texts: st.SearchStrategy[str] = st.just(xsd_element.fixed)
    else:
        texts = lexical_values(xsd_type)

    def decoded(text: str) -> Any:
        text = spec.normalized(text)
        return parse(text) if text else None

    return texts.map(decoded)


@dataclass(frozen=True)
class SchemaStrategies:
    """Strategies for one codec's schemas (the shipped ones by default)."""

    codec: Codec
    operation: str | None = None
    max_repeats: int = MAX_REPEATS

    @property
    def schema(self) -> xmlschema.XMLSchema10:
        return self.codec.schema(self.operation)

    def root(self, name: str) -> XsdElement:
        element: XsdElement = self.schema.elements[name]
        return element

    def find(self, local_name: str) -> XsdElement:
        """The first element declaration named *local_name*, found by walking the schema."""
        for root in (REQUEST_ROOT, RESPONSE_ROOT):
            for element in self.root(root).iter():
                if isinstance(element, XsdElement) and element.local_name == local_name:
                    return element
        raise KeyError(f"no element {local_name!r} in the schema")

    # -- the walk -------------------------------------------------------------------

    def values(self, xsd_element: XsdElement, pins: Pins | None = None) -> st.SearchStrategy[Any]:
        """Decoded values of *xsd_element*: a dict for complex content, else a typed value."""
        xsd_type: Any = xsd_element.type
        if xsd_type.is_simple() or xsd_type.has_simple_content():
            return element_values(xsd_element)
        pins = pins or {}
        unknown = set(pins) - {e.local_name for e in xsd_type.content.iter_elements()}
        if unknown:
            raise KeyError(f"{xsd_element.local_name!r} has no child element {sorted(unknown)}")
        return self._entries(xsd_type.content, pins).map(
            lambda entries: decode_form(xsd_type.content, entries)
        )

    def _entries(self, particle: Any, pins: Pins) -> st.SearchStrategy[Entries]:
        """Lists of (child name, value) in document order for *particle* and its occurs."""
        if isinstance(particle, XsdElement):
            return self._element_entries(particle, pins)
        assert isinstance(particle, XsdGroup)
        if particle.model == "choice":
            one = self._choice(particle, pins)
        else:  # sequence, or all (generated in schema order, which is valid for both)
            one = _concatenated([self._entries(item, pins) for item in particle])
        low, high = self._occurs(particle, pins, list(particle.iter_elements()))
        return _repeated(one, low, high)

    def _choice(self, group: XsdGroup, pins: Pins) -> st.SearchStrategy[Entries]:
        chosen = [item for item in group if _pinned_present(item, pins)]
        alternatives = chosen or [item for item in group if not _pinned_absent(item, pins)]
        return st.one_of([self._entries(item, pins) for item in alternatives])

    def _element_entries(self, element: XsdElement, pins: Pins) -> st.SearchStrategy[Entries]:
        name = element.local_name
        pin = pins.get(name, PRESENT if name in pins else None)
        if pin is ABSENT:
            return st.just([])
        if name in pins and pin is not PRESENT:
            values = pin if isinstance(pin, st.SearchStrategy) else st.just(pin)
            if element.is_single():
                return values.map(lambda value: [(name, value)])
            return values.map(lambda items: [(name, item) for item in items])
        low, high = self._occurs(element, pins, [element])
        return _repeated(self.values(element).map(lambda item: [(name, item)]), low, high)

    def _occurs(self, particle: Any, pins: Pins, elements: Iterable[Any]) -> tuple[int, int]:
        low = int(particle.min_occurs)
        if any(_pinned_present(e, pins) for e in elements):
            low = max(low, 1)
        high = particle.max_occurs
        high = max(low, min(self.max_repeats, high if high is not None else self.max_repeats))
        return low, high

    # -- the public shapes -----------------------------------------------------------

    def requests(self, **pins: Any) -> st.SearchStrategy[dict[str, Any]]:
        """Request dicts; ``tasks=[...]`` pins the task ids, other pins name top-level elements."""
        tasks = pins.pop("tasks", None)
        top = _element_pins(pins)
        if tasks is not None:
            top["parameters"] = {"spec-set": {"object-set": [{"task": t} for t in tasks]}}
        password = self.find(PASSWORD_RULE[1])
        return self.values(self.root(REQUEST_ROOT), top).flatmap(
            lambda request: _with_password_rule(request, self.values(password))
        )

    def task_infos(
        self,
        *,
        task_id: str | None = None,
        state: str | None = None,
        reason: str | None = None,
        entity: str | None = None,
        **fields: Any,
    ) -> st.SearchStrategy[dict[str, Any]]:
        """TaskInfo dicts; *reason* and *entity* select a choice alternative by element name."""
        pins = _element_pins(fields)
        if task_id is not None:
            pins.setdefault("key", task_id)
            pins.setdefault("Task", task_id)
        if state is not None:
            pins["state"] = state
        for selected in (reason, entity):
            if selected is not None:
                pins[selected] = PRESENT
        return self.values(self.find("TaskInfo"), pins)

    def responses(
        self,
        *,
        status: str | None = None,
        tasks: list[str] | None = None,
        infos: st.SearchStrategy[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> st.SearchStrategy[dict[str, Any]]:
        """Response dicts; ``tasks=[...]`` gives one returnval per task id, in order."""
        pins = _element_pins(fields)
        if status is not None:
            pins["metadata"] = self.values(self.find("metadata"), {"status": status})
        if tasks is not None:
            body = self._body_for(tasks, infos)
            pins.setdefault(self._body_name(), body)
        return self.values(self.root(RESPONSE_ROOT), pins)

    def _queued_task(self) -> bool:
        """Whether this operation's response body is one queued task (``<Task>``), not TaskInfos."""
        body: Any = self.find(self._body_name()).type
        return [element.local_name for element in body.content.iter_elements()] == ["Task"]

    def _body_name(self) -> str:
        operation = self.codec.operations[self.operation or next(iter(self.codec.operations))]
        return operation.response

    def _body_for(
        self, tasks: list[str], infos: st.SearchStrategy[dict[str, Any]] | None
    ) -> st.SearchStrategy[dict[str, Any]]:
        if self._queued_task():
            if len(tasks) != 1:
                raise ValueError(f"{self._body_name()} holds one task; tasks= names {len(tasks)}")
            return st.just({"Task": tasks[0]})

        def returnval(task: str) -> st.SearchStrategy[dict[str, Any]]:
            info = infos if infos is not None else self.task_infos(task_id=task)
            prop_set = self.values(self.find("propSet"), {"TaskInfo": info})
            return self.values(self.find("returnval"), {"Task": task, "propSet": prop_set})

        returnvals = st.tuples(*(returnval(task) for task in tasks)).map(list)
        return self.values(self.find(self._body_name()), {"returnval": returnvals})


def _pinned_present(particle: Any, pins: Pins) -> bool:
    elements = list(particle.iter_elements()) if isinstance(particle, XsdGroup) else [particle]
    return any(pins.get(str(e.local_name), ABSENT) is not ABSENT for e in elements)


def _pinned_absent(particle: Any, pins: Pins) -> bool:
    if isinstance(particle, XsdGroup):
        return False
    return pins.get(particle.local_name) is ABSENT


def _repeated(one: st.SearchStrategy[Entries], low: int, high: int) -> st.SearchStrategy[Entries]:
    """*one* drawn between *low* and *high* times; the common 1..1 and 0..1 cases stay cheap."""
    if (low, high) == (1, 1):
        return one
    if (low, high) == (0, 1):
        return st.one_of(st.just([]), one)
    return st.lists(one, min_size=low, max_size=high).map(
        lambda runs: [entry for run in runs for entry in run]
    )


def _concatenated(parts: list[st.SearchStrategy[Entries]]) -> st.SearchStrategy[Entries]:
    if not parts:
        return st.just([])
    return st.tuples(*parts).map(lambda runs: [entry for run in runs for entry in run])


def _element_pins(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword names to element names: ``user_name`` -> ``user-name``. A name with capitals
    is an element's own name and kept (``PowerOffVM_TaskResponse``)."""
    return {name.replace("_", "-") if name.islower() else name: value for name, value in fields.items()}


def _with_password_rule(
    request: dict[str, Any], passwords: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Keep the codec's rule true: a non-blank user-name comes with a non-empty password."""
    user_name, password = PASSWORD_RULE
    if not str(request.get(user_name) or "").strip() or request.get(password):
        return st.just(request)
    # An empty draw becomes a fixed secret rather than a filter that could starve.
    return passwords.map(lambda secret: request | {password: secret or "secret"})


# -- module-level conveniences over the shipped schemas (or a given codec) ---------------


def _for(codec: Codec | None, operation: str | None = None) -> SchemaStrategies:
    """The strategies of *operation*'s schema (the catalog's first operation, Retrieve_Task_Status,
    by default); an operation the catalog does not list is a KeyError naming the known ones."""
    chosen = codec or default_codec()
    if operation is not None and operation not in chosen.operations:
        raise KeyError(
            f"operation {operation!r} is not in the catalog ({', '.join(sorted(chosen.operations))})"
        )
    return SchemaStrategies(chosen, operation)


def requests(
    *, codec: Codec | None = None, operation: str | None = None, **pins: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request dicts (decode form). Example: ``requests(tasks=["task-1"], user_name="bob")``,
    ``requests(operation="Power_Off_VM", parameters={"virtual-machine": "win1"})``."""
    return _for(codec, operation).requests(**pins)


def responses(
    *, codec: Codec | None = None, operation: str | None = None, **pins: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid response dicts. Example: ``responses(status="success", tasks=["task-1", "task-2"])``,
    ``responses(operation="Power_Off_VM", status="success", tasks=["task-710"])``."""
    return _for(codec, operation).responses(**pins)


def task_infos(*, codec: Codec | None = None, **pins: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid TaskInfo dicts. Example: ``task_infos(state="running", reason="TaskReasonAlarm")``."""
    return _for(codec).task_infos(**pins)


def request_documents(
    *, codec: Codec | None = None, operation: str | None = None, **pins: Any
) -> st.SearchStrategy[bytes]:
    """Valid request documents (UTF-8 XML bytes), encoded from :func:`requests`."""
    chosen = codec or default_codec()
    return requests(codec=chosen, operation=operation, **pins).map(chosen.encode)


def response_documents(
    *, codec: Codec | None = None, operation: str | None = None, **pins: Any
) -> st.SearchStrategy[bytes]:
    """Valid response documents (UTF-8 XML bytes), encoded from :func:`responses`."""
    chosen = codec or default_codec()
    return responses(codec=chosen, operation=operation, **pins).map(chosen.encode)


# -- invalid documents: one targeted mutation each, with the issue it must cause -------------


class InvalidDocument(NamedTuple):
    """A document with one defect, the XPath the codec must report, and a fragment of its reason."""

    document: bytes
    path: str
    reason: str


EXTRA_ELEMENT = "vismock-unexpected"
WRONG_ROOT_SUFFIX = "-unknown"
Mutation = Callable[[st.DrawFn, etree._Element, XsdElement], InvalidDocument | None]


def invalid_requests(
    *, codec: Codec | None = None, operation: str | None = None
) -> st.SearchStrategy[InvalidDocument]:
    """Request documents with one defect: see :func:`invalid_documents`."""
    chosen = codec or default_codec()
    return invalid_documents(requests(codec=chosen, operation=operation), chosen, operation)


def invalid_responses(
    *, codec: Codec | None = None, operation: str | None = None
) -> st.SearchStrategy[InvalidDocument]:
    """Response documents with one defect: see :func:`invalid_documents`."""
    chosen = codec or default_codec()
    return invalid_documents(responses(codec=chosen, operation=operation), chosen, operation)


def invalid_documents(
    valid: st.SearchStrategy[dict[str, Any]], codec: Codec, operation: str | None = None
) -> st.SearchStrategy[InvalidDocument]:
    """Each valid dict, encoded, then broken by one mutation chosen among those that apply.

    Mutations: a missing required element, a value outside an enumeration, a
    value not of its builtin type, an unknown extra element, a user-name
    without a password, a wrong root element, malformed (truncated) XML. The
    expected path and reason are derived from the schema, not from the codec.
    """

    @st.composite
    def broken(draw: st.DrawFn) -> InvalidDocument:
        data = draw(valid)
        root = etree.fromstring(codec.encode(data))
        declaration = codec.schema(operation).elements[str(root.tag)]
        first = draw(st.integers(min_value=0, max_value=len(MUTATIONS) - 1))
        for mutation in MUTATIONS[first:] + MUTATIONS[:first]:  # the drawn one, else the next that applies
            mutated = mutation(draw, root, declaration)
            if mutated is not None:
                return mutated
        raise AssertionError("a wrong root always applies")

    return broken()


def _declared(element: etree._Element, declaration: Any) -> Iterator[tuple[etree._Element, Any]]:
    """Every element below *element* with its schema declaration, in document order."""
    content: Any = getattr(declaration.type, "content", None)
    if not hasattr(content, "iter_elements"):
        return
    by_name = {child.local_name: child for child in content.iter_elements()}
    for child in element:
        child_declaration = by_name[child.tag]
        yield child, child_declaration
        yield from _declared(child, child_declaration)


def _serialized(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _path(element: etree._Element) -> str:
    return element.getroottree().getpath(element)


def _pick(draw: st.DrawFn, candidates: list[tuple[etree._Element, Any]]) -> tuple[etree._Element, Any] | None:
    return draw(st.sampled_from(candidates)) if candidates else None


def _missing_required(
    draw: st.DrawFn, root: etree._Element, declaration: XsdElement
) -> InvalidDocument | None:
    # Only a lone element required by a required sequence: removing it leaves exactly one gap.
    candidates = [
        (element, decl)
        for element, decl in _declared(root, declaration)
        if decl.min_occurs >= 1
        and getattr(decl.parent, "model", None) == "sequence"
        and len(_siblings_named(element)) == 1
    ]
    chosen = _pick(draw, candidates)
    if chosen is None:
        return None
    element, _ = chosen
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)
    return InvalidDocument(_serialized(root), _path(parent), f"missing required element {element.tag!r}")


def _siblings_named(element: etree._Element) -> list[etree._Element]:
    parent = element.getparent()
    return [element] if parent is None else [e for e in parent if e.tag == element.tag]


def _simple_leaves(root: etree._Element, declaration: XsdElement) -> Iterator[tuple[etree._Element, Any]]:
    for element, decl in _declared(root, declaration):
        if decl.type.is_simple() and element.text:
            yield element, decl


def _bad_enumeration(
    draw: st.DrawFn, root: etree._Element, declaration: XsdElement
) -> InvalidDocument | None:
    chosen = _pick(draw, [(e, d) for e, d in _simple_leaves(root, declaration) if d.type.enumeration])
    if chosen is None:
        return None
    element, decl = chosen
    element.text = "-".join(str(value) for value in decl.type.enumeration) + "-not-listed"
    return InvalidDocument(_serialized(root), _path(element), "value must be one of")


# Texts that no value of these builtins can take.
_NOT_OF_TYPE: Final = {"boolean": "maybe", "dateTime": "yesterday", "int": "forty-two", "integer": "many"}


def _bad_type(draw: st.DrawFn, root: etree._Element, declaration: XsdElement) -> InvalidDocument | None:
    candidates = []
    for element, decl in _simple_leaves(root, declaration):
        builtin = next(
            (n for n in builtin_ancestors(decl.type) if n in _NOT_OF_TYPE or n in INTEGER_RANGES), None
        )
        if builtin is not None and not decl.type.enumeration:
            candidates.append((element, builtin))
    if not candidates:
        return None
    element, builtin = draw(st.sampled_from(candidates))
    element.text = _NOT_OF_TYPE.get(builtin, "many")
    return InvalidDocument(_serialized(root), _path(element), f"is not a valid xs:{builtin}")


def _extra_element(draw: st.DrawFn, root: etree._Element, declaration: XsdElement) -> InvalidDocument | None:
    parents = [root] + [e for e, d in _declared(root, declaration) if len(e) > 0]
    parent = draw(st.sampled_from(parents))
    position = draw(st.integers(min_value=0, max_value=len(parent)))
    extra = etree.Element(EXTRA_ELEMENT)
    extra.text = "surprise"
    parent.insert(position, extra)
    return InvalidDocument(_serialized(root), _path(extra), f"unknown element {EXTRA_ELEMENT!r}")


def _user_without_password(
    draw: st.DrawFn, root: etree._Element, declaration: XsdElement
) -> InvalidDocument | None:
    user_name, password = PASSWORD_RULE
    user = root.find(user_name)
    if user is None:
        return None
    user.text = user.text if (user.text or "").strip() else "vismock-user"
    secret = root.find(password)
    if secret is not None:
        secret.text = None
    path = f"{_path(root)}/{password}"
    return InvalidDocument(_serialized(root), path, f"{password} is required when {user_name} is not empty")


def _wrong_root(draw: st.DrawFn, root: etree._Element, declaration: XsdElement) -> InvalidDocument | None:
    wrong = f"{root.tag!s}{WRONG_ROOT_SUFFIX}"
    root.tag = wrong
    return InvalidDocument(_serialized(root), f"/{wrong}", f"root element is {wrong!r}")


def _malformed(draw: st.DrawFn, root: etree._Element, declaration: XsdElement) -> InvalidDocument | None:
    document = _serialized(root)
    start = document.index(f"<{root.tag!s}".encode()) + 1
    cut = draw(st.integers(min_value=start, max_value=len(document) - 2))
    return InvalidDocument(document[:cut], "/", "malformed XML")


MUTATIONS: Final[tuple[Mutation, ...]] = (
    _missing_required,
    _bad_enumeration,
    _bad_type,
    _extra_element,
    _user_without_password,
    _wrong_root,
    _malformed,
)
