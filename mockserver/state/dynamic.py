"""Dynamic TaskInfos: a schema-valid TaskInfo for any task id, the same one for the same id, always.

Like Prism's dynamic responses: when the mock is asked about a task it does not
know (and dynamic mode is on), it answers with a TaskInfo generated from the
compiled schema instead of ManagedObjectNotFound. The generator walks the XSD
components (sequences in order, one alternative of a choice, ``minOccurs`` /
``maxOccurs``, enumerations, patterns, integer ranges) with a
``random.Random`` seeded by SHA-256 of the task id, so the answer is stable
across processes, runs and Python versions (never the salted ``hash()``).

No Hypothesis here: the server imports this module.

After the walk, :func:`make_consistent` applies the vim25 rules a schema
cannot express (see its docstring), so the TaskInfo is one a real vCenter
could send, not just one the XSD accepts.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import random
import re
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from xmlschema.validators import XsdElement, XsdGroup

from vismock.codec import Codec, default_codec
from vismock.codec.model import build_spec, builtin_ancestors, decode_form
from vismock.codec.taskinfo import entity_of
from vismock.codec.values import INTEGER_RANGES, XsDateTime
from vismock.errors import VismockError
from vismock.schemas import RESPONSE_ROOT, TaskMethod, entity_types, fault_types, task_methods

__all__ = ["SchemaSampler", "dynamic_task_info", "make_consistent", "seed_for"]

MAX_REPEATS: Final = 3  # an unbounded maxOccurs is drawn up to this many times
MAX_TEXT: Final = 12
MAX_ATTEMPTS: Final = 50  # draws of one value before giving up on a facet we cannot satisfy
# Printable, XML-safe, readable: no control characters (lxml refuses most, and \r would not survive a
# round trip), a few non-ASCII letters so clients meet UTF-8.
TEXT_ALPHABET: Final = string.ascii_letters + string.digits + " .-_:/" + "éüßøæ中文"
NAME_START: Final = string.ascii_letters + "_"
NAME_CHARS: Final = string.ascii_letters + string.digits + "._-"
# Unbounded integer types (xs:integer) are drawn from this span: big enough to surprise, printable.
INTEGER_SPAN: Final = 10**9
# Timestamps a monitoring client could meet: the vCenter era, not year 1 or 9999.
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2035, 12, 31, tzinfo=UTC)
XSD: Final = "{http://www.w3.org/2001/XMLSchema}"
CACHE_SIZE: Final = 4096

# Facets the text generators honour by construction; any other facet is checked with xmlschema.
HONOURED_FACETS: Final = frozenset({"enumeration", "minInclusive", "maxInclusive", "whiteSpace"})

Entries = list[tuple[str, Any]]


def seed_for(task_id: str) -> int:
    """A 64-bit seed from SHA-256 of *task_id*: the same in every process, run and Python version."""
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def dynamic_task_info(task_id: str, *, codec: Codec | None = None) -> dict[str, Any]:
    """The generated TaskInfo of *task_id* (decode form, ``key`` and ``Task`` equal to it).

    A fresh copy each call: callers may change it.
    """
    return copy.deepcopy(_generated(task_id, codec or default_codec()))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _generated(task_id: str, codec: Codec) -> dict[str, Any]:
    rng = random.Random(seed_for(task_id))
    sampler = SchemaSampler(codec, rng)
    info = sampler.value(sampler.find("TaskInfo"))
    return make_consistent(info, task_id, sampler)


class SchemaSampler:
    """Random values of schema elements, in the codec's decode form, drawn from *rng*."""

    def __init__(self, codec: Codec, rng: random.Random, operation: str | None = None) -> None:
        self.codec = codec
        self.rng = rng
        self.schema = codec.schema(operation)

    def find(self, local_name: str) -> XsdElement:
        """The first element declaration named *local_name* below the response root."""
        for element in self.schema.elements[RESPONSE_ROOT].iter():
            if isinstance(element, XsdElement) and element.local_name == local_name:
                return element
        raise KeyError(f"no element {local_name!r} in the response schema")

    def child(self, parent: XsdElement, local_name: str) -> XsdElement:
        """The declaration of *parent*'s child element *local_name*."""
        content: Any = getattr(parent.type, "content", None)
        for element in content.iter_elements() if content is not None else ():
            if element.local_name == local_name:
                found: XsdElement = element
                return found
        raise KeyError(f"{parent.local_name!r} has no child element {local_name!r}")

    def value(self, xsd_element: XsdElement) -> Any:
        """A value of *xsd_element*: a dict (None when empty) for complex content, else a typed value."""
        xsd_type: Any = xsd_element.type
        if xsd_type.is_simple() or xsd_type.has_simple_content():
            return self._simple_value(xsd_element)
        content = xsd_type.content
        return decode_form(content, self._entries(content))

    # -- content models ------------------------------------------------------------------------

    def _entries(self, particle: Any) -> Entries:
        """(element name, value) pairs of one occurrence of *particle*, in document order."""
        if isinstance(particle, XsdGroup):
            if particle.model == "choice":
                alternatives = list(particle)
                return self._repeated(particle, lambda: self._entries(self.rng.choice(alternatives)))
            return self._repeated(
                particle, lambda: [entry for child in particle for entry in self._entries(child)]
            )
        name = str(particle.local_name)
        return self._repeated(particle, lambda: [(name, self.value(particle))])

    def _repeated(self, particle: Any, one: Callable[[], Entries]) -> Entries:
        entries: Entries = []
        for _ in range(self._occurrences(particle)):
            entries.extend(one())
        return entries

    def _occurrences(self, particle: Any) -> int:
        # A group's occurs apply to the group itself; the top-level content group occurs once.
        low = int(particle.min_occurs)
        high = particle.max_occurs
        high = max(low, min(MAX_REPEATS, high if high is not None else MAX_REPEATS))
        return self.rng.randint(low, high)

    # -- simple values ---------------------------------------------------------------------------

    def _simple_value(self, xsd_element: XsdElement) -> Any:
        spec = build_spec(xsd_element)
        assert spec.parse is not None
        declared: Any = xsd_element.type
        xsd_type = declared if declared.is_simple() else declared.content
        text = xsd_element.fixed if xsd_element.fixed is not None else self.text(xsd_type)
        if spec.collapse:
            text = " ".join(text.split())
        return spec.parse(text) if text else None

    def text(self, xsd_type: Any) -> str:
        """A lexical value valid for the simple type *xsd_type*."""
        enumeration = getattr(xsd_type, "enumeration", None)
        if enumeration:
            return str(self.rng.choice(list(enumeration)))
        checks = _checks(xsd_type)
        for _ in range(MAX_ATTEMPTS):
            candidate = self._candidate(xsd_type)
            if all(check(candidate) for check in checks):
                return candidate
        raise VismockError(f"cannot generate a value of type {_type_name(xsd_type)} in {MAX_ATTEMPTS} draws")

    def _candidate(self, xsd_type: Any) -> str:
        names = builtin_ancestors(xsd_type)
        integer = next((n for n in names if n in INTEGER_RANGES), None)
        if integer is not None:
            return str(self._integer(integer, xsd_type))
        builtin = names[0] if names else "string"
        regexes = _own_patterns(xsd_type)
        if builtin in ("string", "normalizedString", "token") and regexes:
            return RegexSampler(self.rng).sample(self.rng.choice(regexes))
        make = self._BUILTINS.get(builtin, SchemaSampler._string)
        return make(self)

    def _integer(self, builtin: str, xsd_type: Any) -> int:
        low, high = INTEGER_RANGES[builtin]
        type_low, type_high = getattr(xsd_type, "min_value", None), getattr(xsd_type, "max_value", None)
        if isinstance(type_low, int):
            low = type_low if low is None else max(low, type_low)
        if isinstance(type_high, int):
            high = type_high if high is None else min(high, type_high)
        low = -INTEGER_SPAN if low is None else low
        high = max(low, INTEGER_SPAN) if high is None else high
        return self.rng.randint(min(low, high), high)  # a bound far below -INTEGER_SPAN moves low

    def _string(self) -> str:
        # Never empty: an empty element decodes to None, and no vCenter id or name is empty.
        return "".join(self.rng.choices(TEXT_ALPHABET, k=self.rng.randint(1, MAX_TEXT)))

    def _name(self) -> str:
        rest = "".join(self.rng.choices(NAME_CHARS, k=self.rng.randint(0, MAX_TEXT - 1)))
        return self.rng.choice(NAME_START) + rest

    def _token(self) -> str:
        return " ".join(self._name() for _ in range(self.rng.randint(1, 3)))

    def _boolean(self) -> str:
        return self.rng.choice(["true", "false"])

    def _date_time(self) -> str:
        return date_time_text(self.moment(EARLIEST, LATEST), self.zone())

    def _date(self) -> str:
        return f"{self.moment(EARLIEST, LATEST).date().isoformat()}Z"

    def _decimal(self) -> str:
        return f"{self.rng.uniform(-INTEGER_SPAN, INTEGER_SPAN):.3f}"

    def _double(self) -> str:
        return repr(self.rng.uniform(-INTEGER_SPAN, INTEGER_SPAN))

    _BUILTINS: Final[dict[str, Callable[[SchemaSampler], str]]] = {
        "string": _string,
        "normalizedString": _string,
        "token": _token,
        "NCName": _name,
        "Name": _name,
        "ID": _name,
        "IDREF": _name,
        "NMTOKEN": _name,
        "boolean": _boolean,
        "dateTime": _date_time,
        "date": _date,
        "decimal": _decimal,
        "double": _double,
        "float": _double,
    }

    # -- helpers also used by the consistency rules ---------------------------------------------

    def moment(self, earliest: datetime, latest: datetime) -> datetime:
        """A time between *earliest* and *latest*, to the microsecond."""
        span_us = int((latest - earliest) / timedelta(microseconds=1))
        return earliest + timedelta(microseconds=self.rng.randint(0, max(span_us, 0)))

    def zone(self) -> timezone:
        """UTC half the time (as vCenter sends), else a whole-quarter-hour offset."""
        if self.rng.random() < 0.5:
            return UTC
        return timezone(timedelta(minutes=15 * self.rng.randint(-12 * 4, 14 * 4)))


def date_time_text(moment: datetime, zone: timezone) -> str:
    return str(XsDateTime.from_datetime(moment.astimezone(zone)))


def _own_patterns(xsd_type: Any) -> list[re.Pattern[str]]:
    """The pattern facets of *xsd_type*'s nearest restriction that has some (alternatives of each other)."""
    current = xsd_type
    while current is not None and not _is_builtin(current):
        patterns = getattr(current, "patterns", None)
        if patterns:
            return list(patterns.patterns)
        current = getattr(current, "base_type", None)
    return []


def _checks(xsd_type: Any) -> list[Callable[[str], bool]]:
    """Cheap regex checks for every pattern step; xmlschema's is_valid when another facet needs it."""
    checks: list[Callable[[str], bool]] = []
    facets: set[str] = set()
    current = xsd_type
    while current is not None and not _is_builtin(current):
        facets.update(str(name)[len(XSD) :] for name in (getattr(current, "facets", None) or {}) if name)
        patterns = getattr(current, "patterns", None)
        if patterns:
            step = re.compile("|".join(f"(?:{p.pattern})" for p in patterns.patterns))
            checks.append(_Matches(step))
        current = getattr(current, "base_type", None)
    if not facets <= HONOURED_FACETS | {"pattern"}:
        checks.append(lambda text: bool(xsd_type.is_valid(text)))
    return checks


class _Matches:
    """Does a text match one restriction step's patterns? (xmlschema's anchored translations)"""

    def __init__(self, step: re.Pattern[str]) -> None:
        self.step = step

    def __call__(self, text: str) -> bool:
        return self.step.match(text) is not None


def _is_builtin(xsd_type: Any) -> bool:
    return str(getattr(xsd_type, "name", None) or "").startswith(XSD)


def _type_name(xsd_type: Any) -> str:
    return str(getattr(xsd_type, "local_name", None) or getattr(xsd_type, "prefixed_name", None) or xsd_type)


# -- texts matching a regular expression, without Hypothesis ----------------------------------------------


class RegexSampler:
    """Random texts matching a Python regex (as xmlschema translates XSD patterns).

    Walks the regex's parse tree: literals, classes, categories, alternatives,
    groups and bounded repeats. Anchors and lookarounds produce nothing (the
    caller re-checks the text against the pattern).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sample(self, compiled: re.Pattern[str]) -> str:
        from re import _parser  # type: ignore[attr-defined]  # the stdlib's own regex parser

        return "".join(self._nodes(_parser.parse(compiled.pattern, compiled.flags)))

    def _nodes(self, nodes: Any) -> Iterator[str]:
        for opcode, argument in nodes:
            yield self._node(str(opcode), argument)

    def _node(self, opcode: str, argument: Any) -> str:
        if opcode == "LITERAL":
            return chr(argument)
        if opcode in ("ANY", "NOT_LITERAL", "IN", "CATEGORY"):
            items = [(opcode, argument)] if opcode != "IN" else list(argument)
            return self._char(items)
        if opcode == "BRANCH":
            return "".join(self._nodes(self.rng.choice(argument[1])))
        if opcode == "SUBPATTERN":
            return "".join(self._nodes(argument[-1]))
        if opcode in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = argument
            count = self.rng.randint(low, min(high, low + MAX_REPEATS))
            return "".join("".join(self._nodes(body)) for _ in range(count))
        return ""  # AT (anchors), ASSERT / ASSERT_NOT: no text of their own

    def _char(self, items: list[tuple[Any, Any]]) -> str:
        pool = TEXT_ALPHABET + "".join(_range_samples(items))
        matching = [c for c in dict.fromkeys(pool) if _in_class(items, c)]
        if not matching:
            raise VismockError(f"no character of the generator's alphabet matches {items!r}")
        return self.rng.choice(matching)


_CATEGORY_REGEX: Final = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


def _range_samples(items: list[tuple[Any, Any]]) -> Iterator[str]:
    """The bounds of literal ranges and literals, so classes outside the alphabet still have members."""
    for opcode, argument in items:
        if str(opcode) == "RANGE":
            yield chr(argument[0])
            yield chr(argument[1])
        elif str(opcode) == "LITERAL":
            yield chr(argument)


def _in_class(items: list[tuple[Any, Any]], char: str) -> bool:
    negated = False
    found = False
    for opcode, argument in items:
        name = str(opcode)
        if name == "NEGATE":
            negated = True
        elif name == "ANY":
            found = found or char != "\n"
        elif name == "LITERAL":
            found = found or ord(char) == argument
        elif name == "NOT_LITERAL":
            found = found or ord(char) != argument
        elif name == "RANGE":
            found = found or argument[0] <= ord(char) <= argument[1]
        elif name == "CATEGORY":
            found = found or re.match(_CATEGORY_REGEX[str(argument)], char) is not None
    return found != negated


# -- vim25 consistency ------------------------------------------------------------------------------------

FINAL_STATES: Final = frozenset({"success", "error"})
CANCELED_FAULT: Final = "RequestCanceled"
MAX_QUEUE_SECONDS: Final = 600
MAX_RUN_SECONDS: Final = 3600


def make_consistent(info: dict[str, Any], task_id: str, sampler: SchemaSampler) -> dict[str, Any]:
    """*info* changed to obey the vim25 rules the XSD cannot state; returns it.

    - ``key`` and ``Task`` are the requested id;
    - ``name`` is a vim25 task method with its ``descriptionId``, the entity one of its type;
    - ``startTime`` is present once the task left "queued", ``completeTime`` only in a final
      state (success, error), and queueTime <= startTime <= completeTime;
    - ``error`` is present exactly when the state is "error", ``result`` only on success,
      ``progress`` never while queued (and 100 on success when present);
    - ``cancelled`` is true only for a cancelable task that ended in error with RequestCanceled;
    - an error's fault is one the SOAP face can serve (a fault type of the vim25 schema),
      so both faces name the same fault;
    - ``entityName`` only together with an entity.
    """
    info["key"] = info["Task"] = task_id
    _name_the_method(info, sampler)
    state = info["state"]
    _fix_times(info, state, sampler)
    if state == "error":
        error = info.get("error") or sampler.value(sampler.child(sampler.find("TaskInfo"), "error"))
        info["error"] = error
    else:
        info.pop("error", None)
    if state != "success":
        info.pop("result", None)
    if state == "queued":
        info.pop("progress", None)
    elif state == "success" and info.get("progress") is not None:
        info["progress"] = 100
    _fix_fault(info, sampler)
    if entity_of(info) is None:
        info.pop("entityName", None)
    return _in_schema_order(info, sampler)


def _name_the_method(info: dict[str, Any], sampler: SchemaSampler) -> None:
    """A real vim25 task method as ``name``, its ``descriptionId``, and an entity of its type."""
    method = sampler.rng.choice(_entity_task_methods())
    info["name"] = method.name
    info["descriptionId"] = method.description_id
    if isinstance(info.get("description"), dict):
        info["description"]["key"] = method.description_id
    entity = entity_of(info)
    if entity is not None and entity[0] != method.type:
        info[method.type] = info.pop(entity[0])


@functools.cache
def _entity_task_methods() -> tuple[TaskMethod, ...]:
    """The task methods declared on a managed entity type (a TaskInfo's entity can be of it)."""
    types = set(entity_types())
    return tuple(method for _, method in sorted(task_methods().items()) if method.type in types)


def _fix_times(info: dict[str, Any], state: str, sampler: SchemaSampler) -> None:
    queued: datetime = XsDateTime(info["queueTime"]).datetime
    zone = queued.tzinfo if isinstance(queued.tzinfo, timezone) else UTC
    info.pop("startTime", None)
    info.pop("completeTime", None)
    if state == "queued":
        return
    started = sampler.moment(queued, queued + timedelta(seconds=MAX_QUEUE_SECONDS))
    info["startTime"] = XsDateTime(date_time_text(started, zone))
    if state in FINAL_STATES:
        completed = sampler.moment(started, started + timedelta(seconds=MAX_RUN_SECONDS))
        info["completeTime"] = XsDateTime(date_time_text(completed, zone))


def _fix_fault(info: dict[str, Any], sampler: SchemaSampler) -> None:
    error = info.get("error")
    if info.get("cancelled") and error is not None and info.get("cancelable"):
        error["fault"] = CANCELED_FAULT
    else:
        info["cancelled"] = False
    if error is not None and error["fault"] not in fault_types():
        error["fault"] = sampler.rng.choice(sorted(fault_types()))


def _in_schema_order(info: dict[str, Any], sampler: SchemaSampler) -> dict[str, Any]:
    """The keys in the schema's order (added keys went to the end): reprs and dumps read naturally."""
    task_info_type: Any = sampler.find("TaskInfo").type
    order = [element.local_name for element in task_info_type.content.iter_elements()]
    return {name: info[name] for name in order if name in info}
