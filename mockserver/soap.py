"""The vim25 SOAP face of the mock vCenter: ``/sdk`` (and ``/sdk/vim``) for pyVmomi, govc and the adapter.

It serves what a client needs to read and wait for tasks: the service content,
sessions (Login sets the ``vmware_soap_session`` cookie), ``Fetch`` (how
pyVmomi reads a property), the property collector (RetrieveProperties[Ex],
filters and WaitForUpdates[Ex] with real versions), ``CancelTask`` and
TaskManager's ``recentTask``. Any other method is a MethodNotFound fault.

State lives in the Backend (tasks, clock, sessions, journal, fault rules) and,
for property filters, in a small SQLite table next to it, so several worker
processes serve one client consistently. Collector versions carry their own
snapshot (see :class:`Snapshot`), so no per-version state is kept anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, request
from lxml import etree
from werkzeug.exceptions import RequestEntityTooLarge

from vismock.faults import (
    InvalidLogin,
    InvalidRequest,
    ManagedObjectNotFound,
    MethodNotFound,
    NotAuthenticated,
    RequestCanceled,
    TaskNotFound,
    VimFault,
)
from vismock.mockserver import observe, store
from vismock.mockserver import vim25 as wire
from vismock.mockserver.models import Backend
from vismock.mockserver.vim25 import (
    InvalidArgument,
    InvalidCollectorVersion,
    InvalidProperty,
    MoRef,
    SoapRequest,
    SystemError,
    Value,
)

soap_blueprint = Blueprint("soap", __name__)
log = logging.getLogger("vismock.mockserver")
INTERNAL_ERROR = "vismock could not answer this call (internal error; see the server log)"

COOKIE_NAME = "vmware_soap_session"
CONTENT_TYPE = "text/xml; charset=utf-8"
FILTER_STORE_KEY = "vismock.soap.filters"
# WaitForUpdates without maxWaitSeconds blocks until a change; a worker is given
# back after this long (the client sees an empty update and simply waits again).
DEFAULT_MAX_WAIT_SECONDS = 300.0
WAIT_POLL_SECONDS = 0.05

SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")
PROPERTY_COLLECTOR = MoRef("PropertyCollector", "propertyCollector")
SESSION_MANAGER = MoRef("SessionManager", "SessionManager")
TASK_MANAGER = MoRef("TaskManager", "TaskManager")
ROOT_FOLDER = MoRef("Folder", "group-d1")
UNAUTHENTICATED_METHODS = frozenset({"RetrieveServiceContent", "Login"})


# -- the routes -------------------------------------------------------------------------------------


@soap_blueprint.get("/sdk/vimServiceVersions.xml")
def service_versions() -> Response:
    return Response(wire.service_versions_document(), status=200, content_type=CONTENT_TYPE)


@soap_blueprint.post("/sdk")
@soap_blueprint.post("/sdk/vim")
def soap_call() -> Response:
    try:
        call = parsed_call(_body())
    except VimFault as fault:
        observation = observe.begin("soap", "(unparsed)")
        observation.outcome = fault.fault_type
        return fault_response(fault)
    try:
        return dispatch(call)
    except Exception:
        # A bug or a store failure: a SOAP fault the client can read, the details in the log
        # (never the request body: a Login carries a password).
        log.exception("SOAP face: unexpected error answering %s", call.method)
        current = observe.current()
        if current is not None:
            current.outcome = "SystemError"
        return fault_response(SystemError(INTERNAL_ERROR), context=call.this)


_parsed = threading.local()
PARSE_CACHE_ENTRIES = 256
PARSE_CACHE_MAX_BODY = 8 * 1024


def parsed_call(body: bytes) -> SoapRequest:
    """The parsed call; a client polling a task sends the same bytes again and again, so small
    bodies are parsed once per worker thread (the tree is only read afterwards, never changed)."""
    if len(body) > PARSE_CACHE_MAX_BODY:
        return wire.parse_request(body)
    cache: dict[bytes, SoapRequest] | None = getattr(_parsed, "cache", None)
    if cache is None:
        cache = _parsed.cache = {}
    call = cache.get(body)
    if call is None:
        call = wire.parse_request(body)  # raises for a bad body: nothing cached
        if call.method == "Login":
            return call  # a password is not kept around longer than the call needs it
        if len(cache) >= PARSE_CACHE_ENTRIES:
            cache.pop(next(iter(cache)))  # oldest first
        cache[body] = call
    return call


def _body() -> bytes:
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        raise InvalidRequest(f"The request body is larger than the limit of {limit} bytes") from None


def dispatch(call: SoapRequest) -> Response:
    backend = observe.backend()
    session = session_key()
    user = backend.session_user(session) if session else None
    observation = observe.begin("soap", call.method, task_ids=requested_task_ids(call), user=user)
    try:
        if user is None and call.method not in UNAUTHENTICATED_METHODS:
            raise NotAuthenticated()
        rule = observe.injected_fault(observation)
        if rule is not None:
            return observe.fault_response(observation, rule, _render_injected_fault(call))
        method = METHODS.get(call.method)
        if method is None or (method.this_type and (call.this is None or call.this.type != method.this_type)):
            raise MethodNotFound(call.method)
        return method.handler(Context(backend, call, session if user else None, user))
    except VimFault as fault:
        observation.outcome = fault.fault_type
        return fault_response(fault, context=call.this)


def fault_response(fault: VimFault, *, context: MoRef | None = None) -> Response:
    return Response(wire.fault_envelope(fault, context=context), status=500, content_type=CONTENT_TYPE)


def ok_response(body: bytes) -> Response:
    return Response(body, status=200, content_type=CONTENT_TYPE)


def _render_injected_fault(call: SoapRequest) -> Callable[[str, str], Response]:
    def render(fault_type: str, message: str) -> Response:
        fault = VimFault(message)
        fault.fault_type = fault_type
        return fault_response(fault, context=call.this)

    return render


def session_key() -> str | None:
    return request.cookies.get(COOKIE_NAME) or None


def requested_task_ids(call: SoapRequest) -> list[str]:
    """The Task morefs a call names (its ``_this`` or spec objects), for the journal and fault rules."""
    ids = [(element.text or "").strip() for element in call.call.iter() if element.get("type") == "Task"]
    return list(dict.fromkeys(ids))


# -- method table -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Context:
    backend: Backend
    call: SoapRequest
    session: str | None
    user: str | None

    @property
    def this(self) -> MoRef:
        assert self.call.this is not None  # dispatch checked it
        return self.call.this

    def required_session(self) -> str:
        if self.session is None:
            raise NotAuthenticated()
        return self.session


@dataclass(frozen=True, slots=True)
class Method:
    handler: Callable[[Context], Response]
    this_type: str | None  # None: any managed object


METHODS: dict[str, Method] = {}


def method(
    name: str, this_type: str | None
) -> Callable[[Callable[[Context], Response]], Callable[[Context], Response]]:
    def register(handler: Callable[[Context], Response]) -> Callable[[Context], Response]:
        METHODS[name] = Method(handler, this_type)
        return handler

    return register


# -- service instance and sessions ------------------------------------------------------------------


@method("RetrieveServiceContent", "ServiceInstance")
def retrieve_service_content(ctx: Context) -> Response:
    return ok_response(wire.response_envelope("RetrieveServiceContent", _returnval_fill(service_content())))


@method("Login", "SessionManager")
def login(ctx: Context) -> Response:
    user = ctx.call.text("userName") or ""
    password = ctx.call.text("password") or ""
    if not user or not ctx.backend.check_login(user, password):
        raise InvalidLogin()
    key = ctx.backend.create_session(user)
    observation = observe.current()
    if observation is not None:
        observation.user = user
    session = user_session(ctx.backend, key, user)
    response = ok_response(wire.response_envelope("Login", _returnval_fill(session)))
    response.headers["Set-Cookie"] = f"{COOKIE_NAME}={key}; Path=/; HttpOnly"
    return response


@method("Logout", "SessionManager")
def logout(ctx: Context) -> Response:
    session = ctx.required_session()
    ctx.backend.end_session(session)
    filter_store().drop_session(session)
    return ok_response(wire.response_envelope("Logout"))


@method("SessionIsActive", "SessionManager")
def session_is_active(ctx: Context) -> Response:
    key = ctx.call.text("sessionID") or ""
    user = ctx.call.text("userName") or ""
    active = bool(key) and ctx.backend.session_user(key) == user

    def fill(response: etree._Element) -> None:
        wire.sub(response, "returnval", wire.bool_text(active))

    return ok_response(wire.response_envelope("SessionIsActive", fill))


def service_content() -> Value:
    def fill(element: etree._Element) -> None:
        wire.sub_moref(element, "rootFolder", ROOT_FOLDER)
        wire.sub_moref(element, "propertyCollector", PROPERTY_COLLECTOR)
        about = wire.sub(element, "about")
        for name, text in ABOUT:
            wire.sub(about, name, text)
        wire.sub_moref(element, "sessionManager", SESSION_MANAGER)
        wire.sub_moref(element, "taskManager", TASK_MANAGER)

    return Value("ServiceContent", fill)


ABOUT = (
    ("name", "VMware vCenter Server"),
    ("fullName", f"VMware vCenter Server {wire.API_VERSION[:5]} build-vismock (vismock mock vCenter)"),
    ("vendor", "VMware, Inc."),
    ("version", wire.API_VERSION[:5]),
    ("build", "0"),
    ("localeVersion", "INTL"),
    ("localeBuild", "000"),
    ("osType", "linux-x64"),
    ("productLineId", "vpx"),
    ("apiType", "VirtualCenter"),
    ("apiVersion", wire.API_VERSION),
    ("instanceUuid", "7669736d-6f63-6b00-0000-000000000001"),
    ("licenseProductName", "VMware VirtualCenter Server"),
    ("licenseProductVersion", "8.0"),
)


def user_session(backend: Backend, key: str, user: str) -> Value:
    now = wire.format_datetime(backend.now())

    def fill(element: etree._Element) -> None:
        # The key is a hash of the cookie, never the cookie itself: it identifies, it does not authenticate.
        wire.sub(element, "key", hashlib.sha256(key.encode()).hexdigest()[:36])
        wire.sub(element, "userName", user)
        wire.sub(element, "fullName", user)
        wire.sub(element, "loginTime", now)
        wire.sub(element, "lastActiveTime", now)
        wire.sub(element, "locale", "en")
        wire.sub(element, "messageLocale", "en")
        wire.sub(element, "extensionSession", "false")
        wire.sub(element, "ipAddress", request.remote_addr or "")
        wire.sub(element, "userAgent", request.headers.get("User-Agent", ""))
        wire.sub(element, "callCount", "0")

    return Value("UserSession", fill)


def _returnval_fill(value: Value, *, typed: bool = False) -> Callable[[etree._Element], None]:
    """Fill a response with ``<returnval>`` holding *value* (``xsi:type`` when the result is polymorphic)."""

    def fill(response: etree._Element) -> None:
        if typed:
            wire.sub_value(response, "returnval", value)
        else:
            value.fill(wire.sub(response, "returnval"))

    return fill


# -- the object model: which managed objects exist and what their properties are --------------------


Property = Callable[[Context, MoRef, bool], Value | None]
"""A property reader: (context, object, poll) -> its value now, None when unset."""


def _task_info(ctx: Context, ref: MoRef, poll: bool) -> dict[str, Any]:
    return ctx.backend.task_info(ref.value, poll=poll)


def _task_property(path: str) -> Property:
    def read(ctx: Context, ref: MoRef, poll: bool) -> Value | None:
        info = _task_info(ctx, ref, poll)
        return task_info_part(info, path)

    return read


TASK_INFO_FIELDS: dict[str, str] = {
    "key": "xsd:string",
    "name": "xsd:string",
    "descriptionId": "xsd:string",
    "entityName": "xsd:string",
    "state": "TaskInfoState",
    "cancelled": "xsd:boolean",
    "cancelable": "xsd:boolean",
    "progress": "xsd:int",
    "queueTime": "xsd:dateTime",
    "startTime": "xsd:dateTime",
    "completeTime": "xsd:dateTime",
    "eventChainId": "xsd:int",
    "changeTag": "xsd:string",
    "parentTaskKey": "xsd:string",
    "rootTaskKey": "xsd:string",
    "activationId": "xsd:string",
}


def task_info_part(info: Mapping[str, Any], path: str) -> Value | None:
    """``info`` or ``info.<field>`` of a task, from its codec TaskInfo dict."""
    if path == "info":
        return wire.task_info_value(info)
    field_name = path.removeprefix("info.")
    if field_name in ("task",):
        return _moref_value(MoRef("Task", str(info["Task"])))
    if field_name == "entity":
        entity = wire.task_entity(info)
        return None if entity is None else _moref_value(entity)
    if field_name == "error":
        error = info.get("error")
        if error is None:
            return None

        def fill_error(element: etree._Element) -> None:
            wire.fill_localized_fault(element, error, context=wire.task_entity(info), info=info)

        return Value("LocalizedMethodFault", fill_error)
    if field_name == "result":
        result = info.get("result")
        return None if result is None else wire.text_value("xsd:string", str(result))
    raw = info.get(field_name)
    if raw is None:
        return None
    text = wire.bool_text(raw) if isinstance(raw, bool) else str(raw)
    return wire.text_value(TASK_INFO_FIELDS[field_name], text)


def _moref_value(ref: MoRef) -> Value:
    def fill(element: etree._Element) -> None:
        element.set("type", ref.type)
        element.text = ref.value

    return Value("ManagedObjectReference", fill)


def _recent_tasks(ctx: Context, ref: MoRef, poll: bool) -> Value:
    return wire.moref_array([MoRef("Task", spec.id) for spec in ctx.backend.list_tasks()])


def _current_session(ctx: Context, ref: MoRef, poll: bool) -> Value | None:
    if ctx.session is None or ctx.user is None:
        return None
    return user_session(ctx.backend, ctx.session, ctx.user)


def _content(ctx: Context, ref: MoRef, poll: bool) -> Value:
    return service_content()


def _vm_runtime(ctx: Context, ref: MoRef, poll: bool) -> Value:
    def fill(element: etree._Element) -> None:
        wire.sub(element, "connectionState", "connected")
        wire.sub(element, "powerState", "poweredOn")
        wire.sub(element, "toolsInstallerMounted", "false")
        wire.sub(element, "numMksConnections", "0")

    return Value("VirtualMachineRuntimeInfo", fill)


def _entity_name(ctx: Context, ref: MoRef, poll: bool) -> Value:
    if ref == ROOT_FOLDER:
        return wire.text_value("xsd:string", "Datacenters")
    names = [spec.entity_name for spec in ctx.backend.list_tasks() if spec.entity_id == ref.value]
    return wire.text_value("xsd:string", next((name for name in names if name), ref.value))


TASK_PROPERTIES: dict[str, Property] = {
    "info": _task_property("info"),
    **{
        f"info.{name}": _task_property(f"info.{name}")
        for name in (*TASK_INFO_FIELDS, "task", "entity", "error", "result")
    },
}

# type -> property path -> reader; the first path of each type is what "all" returns
# (plus every path listed in ALL_PROPERTIES).
PROPERTIES: dict[str, dict[str, Property]] = {
    "ServiceInstance": {"content": _content},
    "SessionManager": {"currentSession": _current_session},
    "TaskManager": {"recentTask": _recent_tasks},
    "Task": TASK_PROPERTIES,
    "VirtualMachine": {"name": _entity_name, "runtime": _vm_runtime},
    "Folder": {"name": _entity_name},
}
ALL_PROPERTIES: dict[str, tuple[str, ...]] = {
    "ServiceInstance": ("content",),
    "SessionManager": ("currentSession",),
    "TaskManager": ("recentTask",),
    "Task": ("info",),
    "VirtualMachine": ("name", "runtime"),
    "Folder": ("name",),
}
ENTITY_PROPERTIES: dict[str, Property] = {"name": _entity_name}
SINGLETONS = frozenset({SERVICE_INSTANCE, SESSION_MANAGER, TASK_MANAGER, PROPERTY_COLLECTOR, ROOT_FOLDER})


def check_exists(ctx: Context, ref: MoRef) -> None:
    """ManagedObjectNotFound unless *ref* is an object the mock serves."""
    if ref in SINGLETONS:
        return
    if ref.type == "Task":
        ctx.backend.task_info(ref.value, poll=False)  # raises TaskNotFound (unless dynamic mode serves it)
        return
    if ref.type in wire.MANAGED_ENTITY_TYPES and any(
        spec.entity_type == ref.type and spec.entity_id == ref.value for spec in ctx.backend.list_tasks()
    ):
        return
    raise ManagedObjectNotFound(ref.type, ref.value)


def property_reader(ref: MoRef, path: str) -> Property:
    readers = PROPERTIES.get(ref.type) or (ENTITY_PROPERTIES if ref.type in wire.MANAGED_ENTITY_TYPES else {})
    reader = readers.get(path)
    if reader is None:
        raise InvalidProperty(path)
    return reader


def read_properties(
    ctx: Context, ref: MoRef, paths: Sequence[str], *, poll: bool
) -> list[tuple[str, Value | None]]:
    """The values of *paths* of *ref* now; one backend read per task, however many paths."""
    readers = [(path, property_reader(ref, path)) for path in paths]
    if ref.type == "Task" and readers:
        info = ctx.backend.task_info(ref.value, poll=poll)
        info_key = repr(info)  # every field and value: what the rendering depends on
        return [(path, _keyed(task_info_part(info, path), f"{path}={info_key}")) for path, _reader in readers]
    check_exists(ctx, ref)
    return [(path, reader(ctx, ref, poll)) for path, reader in readers]


def _keyed(value: Value | None, key: str) -> Value | None:
    return None if value is None else Value(value.xsi_type, value.fill, key)


def respond(
    ctx: Context, values: Sequence[Value | None], extra: str, render: Callable[[], bytes]
) -> Response:
    """The rendered response, reused when this same call (a poller's repeated body, parsed once
    per thread) reads values with the same content keys again: rendering is most of a read."""
    keys = [("-" if value is None else value.key) for value in values]
    if any(key is None for key in keys):
        return ok_response(render())
    content = "\0".join([extra, *(key for key in keys if key is not None)])
    last = ctx.call.memo.get("response")
    if last is not None and last[0] == content:
        return ok_response(last[1])
    body = render()
    ctx.call.memo["response"] = (content, body)
    return ok_response(body)


def filter_specs(ctx: Context, name: str) -> list[FilterSpec]:
    """The call's FilterSpecs in argument *name*, parsed once per call object."""
    memo_key = f"specs:{name}"
    specs: list[FilterSpec] | None = ctx.call.memo.get(memo_key)
    if specs is None:
        specs = [parse_filter_spec(spec) for spec in ctx.call.args(name)]
        ctx.call.memo[memo_key] = specs
    return specs


# -- Fetch, RetrieveProperties[Ex], CancelTask ------------------------------------------------------


@method("Fetch", None)
def fetch(ctx: Context) -> Response:
    path = ctx.call.text("prop")
    if not path:
        raise InvalidRequest("Fetch needs a <prop>")
    ((_path, value),) = read_properties(ctx, ctx.this, [path], poll=True)
    fill = None if value is None else _returnval_fill(value, typed=True)
    return respond(ctx, [value], "", lambda: wire.response_envelope("Fetch", fill))


@dataclass(frozen=True, slots=True)
class PropertySpec:
    type: str
    all: bool
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """A PropertyFilterSpec: the objects named (selectSet traversal is not followed) and what to read."""

    objects: tuple[tuple[MoRef, bool], ...]  # (object, skip)
    props: tuple[PropertySpec, ...]

    def targets(self) -> Iterator[MoRef]:
        for ref, skip in self.objects:
            if not skip:
                yield ref

    def paths_for(self, ref: MoRef) -> tuple[str, ...]:
        paths: list[str] = []
        for spec in self.props:
            if spec.type == ref.type or (
                spec.type == "ManagedEntity" and ref.type in wire.MANAGED_ENTITY_TYPES
            ):
                paths.extend(ALL_PROPERTIES.get(ref.type, ("name",)) if spec.all else spec.paths)
        return tuple(dict.fromkeys(paths))

    def to_json(self) -> Any:
        return {
            "o": [[ref.type, ref.value, skip] for ref, skip in self.objects],
            "p": [[spec.type, spec.all, list(spec.paths)] for spec in self.props],
        }

    @classmethod
    def from_json(cls, data: Any) -> FilterSpec:
        return cls(
            objects=tuple((MoRef(str(t), str(v)), bool(skip)) for t, v, skip in data["o"]),
            props=tuple(
                PropertySpec(str(t), bool(a), tuple(str(p) for p in paths)) for t, a, paths in data["p"]
            ),
        )


def parse_filter_spec(element: etree._Element) -> FilterSpec:
    objects = []
    for object_spec in wire.children(element, "objectSet"):
        obj = object_spec.find(f"{{{wire.VIM25}}}obj")
        if obj is None:
            raise InvalidRequest("An ObjectSpec needs an <obj>")
        objects.append((wire.moref_of(obj), wire.child_bool(object_spec, "skip")))
    props = []
    for prop_spec in wire.children(element, "propSet"):
        mo_type = wire.child_text(prop_spec, "type")
        if not mo_type:
            raise InvalidRequest("A PropertySpec needs a <type>")
        paths = tuple((path.text or "").strip() for path in wire.children(prop_spec, "pathSet"))
        props.append(PropertySpec(mo_type, wire.child_bool(prop_spec, "all"), paths))
    return FilterSpec(tuple(objects), tuple(props))


@dataclass(frozen=True, slots=True)
class ObjectContent:
    values: list[tuple[str, Value | None]]
    fill: Callable[[etree._Element], None]


def object_content(ctx: Context, spec: FilterSpec, ref: MoRef, *, poll: bool) -> ObjectContent:
    values = read_properties(ctx, ref, spec.paths_for(ref), poll=poll)

    def fill(element: etree._Element) -> None:
        wire.sub_moref(element, "obj", ref)
        for path, value in values:
            if value is not None:
                prop = wire.sub(element, "propSet")
                wire.sub(prop, "name", path)
                wire.sub_value(prop, "val", value)

    return ObjectContent(values, fill)


def _all_values(contents: Sequence[ObjectContent]) -> list[Value | None]:
    return [value for content in contents for _path, value in content.values]


@method("RetrieveProperties", "PropertyCollector")
def retrieve_properties(ctx: Context) -> Response:
    specs = filter_specs(ctx, "specSet")
    contents = [object_content(ctx, spec, ref, poll=True) for spec in specs for ref in spec.targets()]

    def fill(response: etree._Element) -> None:
        for content in contents:
            content.fill(wire.sub(response, "returnval"))

    return respond(ctx, _all_values(contents), "", lambda: wire.response_envelope("RetrieveProperties", fill))


@method("RetrievePropertiesEx", "PropertyCollector")
def retrieve_properties_ex(ctx: Context) -> Response:
    specs = filter_specs(ctx, "specSet")
    options = ctx.call.arg("options")
    max_objects = None if options is None else wire.child_int(options, "maxObjects")
    page = RetrievePage(specs, 0, max_objects if max_objects and max_objects > 0 else None)
    return page.respond(ctx, "RetrievePropertiesEx")


@method("ContinueRetrievePropertiesEx", "PropertyCollector")
def continue_retrieve_properties_ex(ctx: Context) -> Response:
    page = RetrievePage.from_token(ctx.call.text("token") or "", ctx.required_session())
    return page.respond(ctx, "ContinueRetrievePropertiesEx")


@dataclass(frozen=True, slots=True)
class RetrievePage:
    """One page of a RetrievePropertiesEx result; the token of the next page carries the query itself."""

    specs: Sequence[FilterSpec]
    offset: int
    size: int | None

    def respond(self, ctx: Context, method_name: str) -> Response:
        targets = [(spec, ref) for spec in self.specs for ref in spec.targets()]
        end = len(targets) if self.size is None else min(len(targets), self.offset + self.size)
        contents = [object_content(ctx, spec, ref, poll=True) for spec, ref in targets[self.offset : end]]
        token = self.token(end, ctx.required_session()) if end < len(targets) else None

        def fill(response: etree._Element) -> None:
            if not contents and method_name == "RetrievePropertiesEx":
                return  # no objects: no RetrieveResult at all
            result = wire.sub(response, "returnval")
            if token is not None:
                wire.sub(result, "token", token)
            for content in contents:
                content.fill(wire.sub(result, "objects"))

        def render() -> bytes:
            return wire.response_envelope(method_name, fill)

        return respond(ctx, _all_values(contents), token or "", render)

    def token(self, offset: int, session: str) -> str:
        data = {
            "s": _session_tag(session),
            "o": offset,
            "n": self.size,
            "q": [s.to_json() for s in self.specs],
        }
        return _pack(data)

    @classmethod
    def from_token(cls, token: str, session: str) -> RetrievePage:
        try:
            data = _unpack(token)
            if data["s"] != _session_tag(session):
                raise ValueError("token of another session")
            return cls([FilterSpec.from_json(q) for q in data["q"]], int(data["o"]), data["n"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("The token is not valid for this session", "token") from None


@method("CancelTask", "Task")
def cancel_task(ctx: Context) -> Response:
    ctx.backend.cancel_task(ctx.this.value)
    return ok_response(wire.response_envelope("CancelTask"))


# -- property filters and WaitForUpdates ------------------------------------------------------------


@method("CreateFilter", "PropertyCollector")
def create_filter(ctx: Context) -> Response:
    spec_element = ctx.call.arg("spec")
    if spec_element is None:
        raise InvalidRequest("CreateFilter needs a <spec>")
    spec = parse_filter_spec(spec_element)
    for ref in spec.targets():
        check_exists(ctx, ref)
        for path in spec.paths_for(ref):
            property_reader(ref, path)  # InvalidProperty now rather than on every wait
    partial = ctx.call.text("partialUpdates") in ("true", "1")
    filter_id = filter_store().create(ctx.required_session(), spec, partial)

    def fill(response: etree._Element) -> None:
        wire.sub_moref(response, "returnval", MoRef("PropertyFilter", filter_id))

    return ok_response(wire.response_envelope("CreateFilter", fill))


@method("DestroyPropertyFilter", "PropertyFilter")
def destroy_property_filter(ctx: Context) -> Response:
    if not filter_store().destroy(ctx.required_session(), ctx.this.value):
        raise ManagedObjectNotFound("PropertyFilter", ctx.this.value)
    return ok_response(wire.response_envelope("DestroyPropertyFilter"))


@method("WaitForUpdates", "PropertyCollector")
def wait_for_updates(ctx: Context) -> Response:
    version = ctx.call.text("version")
    cap = float(current_app.config.get("VISMOCK_SOAP_MAX_WAIT", DEFAULT_MAX_WAIT_SECONDS))
    update = wait(ctx, version, cap)
    fill = update.fill if update is not None else Updates(version or "", []).fill
    return ok_response(wire.response_envelope("WaitForUpdates", _returnval_fill(Value("UpdateSet", fill))))


@method("WaitForUpdatesEx", "PropertyCollector")
def wait_for_updates_ex(ctx: Context) -> Response:
    version = ctx.call.text("version")
    options = ctx.call.arg("options")
    max_wait = None if options is None else wire.child_int(options, "maxWaitSeconds")
    cap = float(current_app.config.get("VISMOCK_SOAP_MAX_WAIT", DEFAULT_MAX_WAIT_SECONDS))
    update = wait(ctx, version, cap if max_wait is None else min(float(max_wait), cap))
    body = None if update is None else _returnval_fill(Value("UpdateSet", update.fill))
    return ok_response(wire.response_envelope("WaitForUpdatesEx", body))


@dataclass(slots=True)
class ObjectChange:
    kind: str  # enter, modify, leave
    ref: MoRef
    changes: list[tuple[str, Value | None]] = field(default_factory=list)


@dataclass(slots=True)
class Updates:
    """An UpdateSet about to be sent."""

    version: str
    filters: list[tuple[str, list[ObjectChange]]]

    def fill(self, element: etree._Element) -> None:
        wire.sub(element, "version", self.version)
        for filter_id, changes in self.filters:
            filter_update = wire.sub(element, "filterSet")
            wire.sub_moref(filter_update, "filter", MoRef("PropertyFilter", filter_id))
            for change in changes:
                update = wire.sub(filter_update, "objectSet")
                wire.sub(update, "kind", change.kind)
                wire.sub_moref(update, "obj", change.ref)
                for path, value in change.changes:
                    prop = wire.sub(update, "changeSet")
                    wire.sub(prop, "name", path)
                    wire.sub(prop, "op", "assign")
                    if value is not None:
                        wire.sub_value(prop, "val", value)


Snapshot = dict[str, dict[str, dict[str, str]]]
"""filter id -> "Type:id" -> property path -> digest of the value last reported."""


def wait(ctx: Context, version: str | None, max_wait: float) -> Updates | None:
    """Block until something the session's filters watch differs from *version*, or *max_wait* passes.

    An empty *version* reports everything at once. A version is the snapshot of
    what was reported, packed: so any worker can compare against it.
    """
    session = ctx.required_session()
    seen: Snapshot = unpack_version(version, session) if version else {}
    deadline = time.monotonic() + max(0.0, max_wait)
    poll = True  # the first look of each call counts as a client poll, re-checks do not
    while True:
        snapshot, changed = look(ctx, session, seen, poll=poll)
        if changed or not version:
            return Updates(pack_version(snapshot, session), changed)
        if time.monotonic() >= deadline:
            return None
        time.sleep(WAIT_POLL_SECONDS)
        poll = False
        if ctx.backend.session_user(session) is None:
            raise RequestCanceled("The session ended while waiting for updates.")


def look(
    ctx: Context, session: str, seen: Snapshot, *, poll: bool
) -> tuple[Snapshot, list[tuple[str, list[ObjectChange]]]]:
    snapshot: Snapshot = {}
    changed: list[tuple[str, list[ObjectChange]]] = []
    for filter_id, spec in filter_store().filters(session):
        before = seen.get(filter_id, {})
        now: dict[str, dict[str, str]] = {}
        changes: list[ObjectChange] = []
        for ref in spec.targets():
            key = f"{ref.type}:{ref.value}"
            change = _object_change(ctx, spec, ref, before.get(key), now, key, poll=poll)
            if change is not None:
                changes.append(change)
        changes.extend(ObjectChange("leave", MoRef(*key.split(":", 1))) for key in before if key not in now)
        snapshot[filter_id] = now
        if changes:
            changed.append((filter_id, changes))
    return snapshot, changed


def _object_change(
    ctx: Context,
    spec: FilterSpec,
    ref: MoRef,
    before: dict[str, str] | None,
    now: dict[str, dict[str, str]],
    key: str,
    *,
    poll: bool,
) -> ObjectChange | None:
    try:
        values = read_properties(ctx, ref, spec.paths_for(ref), poll=poll)
    except (TaskNotFound, ManagedObjectNotFound):
        return None  # gone: reported as "leave" when it was seen before
    digests = {path: _digest(value) for path, value in values}
    now[key] = digests
    if before is None:
        return ObjectChange("enter", ref, [(path, value) for path, value in values if value is not None])
    changed = [(path, value) for path, value in values if before.get(path) != digests[path]]
    return ObjectChange("modify", ref, changed) if changed else None


def _digest(value: Value | None) -> str:
    if value is None:
        return "-"
    element = etree.Element("v")
    value.fill(element)
    return hashlib.blake2b(etree.tostring(element), digest_size=6).hexdigest()


def pack_version(snapshot: Snapshot, session: str) -> str:
    return _pack({"s": _session_tag(session), "f": snapshot})


def unpack_version(version: str, session: str) -> Snapshot:
    try:
        data = _unpack(version)
        if data["s"] != _session_tag(session):
            raise ValueError("version of another session")
        snapshot: Snapshot = data["f"]
        return snapshot
    except (ValueError, KeyError, TypeError):
        raise InvalidCollectorVersion() from None


def _session_tag(session: str) -> str:
    return hashlib.blake2b(session.encode(), digest_size=6).hexdigest()


def _pack(data: Any) -> str:
    raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    try:
        return json.loads(zlib.decompress(base64.urlsafe_b64decode(padded.encode()), bufsize=1 << 16))
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


# -- where filters live -----------------------------------------------------------------------------


class FilterStore:
    """Property filters per session, in the Backend's SQLite database (shared by worker processes).

    Filters are not task state: writing them leaves the store's revision alone.
    """

    def __init__(self, database: store.Database) -> None:
        self._database = database  # its schema has the soap_filters table

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._database.write(changes_state=False)

    def _conn(self) -> sqlite3.Connection:
        return self._database.connection()

    def create(self, session: str, spec: FilterSpec, partial: bool) -> str:
        filter_id = f"filter-{uuid.uuid4().hex}"
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO soap_filters (id, session, spec, partial) VALUES (?, ?, ?, ?)",
                (filter_id, session, json.dumps(spec.to_json()), int(partial)),
            )
        return filter_id

    def destroy(self, session: str, filter_id: str) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM soap_filters WHERE id = ? AND session = ?", (filter_id, session)
            )
            return cursor.rowcount > 0

    def drop_session(self, session: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM soap_filters WHERE session = ?", (session,))

    def filters(self, session: str) -> list[tuple[str, FilterSpec]]:
        rows = (
            self._conn()
            .execute("SELECT id, spec FROM soap_filters WHERE session = ? ORDER BY rowid", (session,))
            .fetchall()
        )
        return [(str(filter_id), FilterSpec.from_json(json.loads(spec))) for filter_id, spec in rows]


_store_lock = threading.Lock()


def filter_store() -> FilterStore:
    store: FilterStore | None = current_app.extensions.get(FILTER_STORE_KEY)
    if store is None:
        with _store_lock:
            store = current_app.extensions.get(FILTER_STORE_KEY)
            if store is None:
                store = FilterStore(current_app.extensions[observe.BACKEND_KEY].database)
                current_app.extensions[FILTER_STORE_KEY] = store
    return store
