"""VIS operations against a real vCenter (or the mock's /sdk), over SOAP with pyVmomi.

This is what the VIS adapter does with a request: take ``soap-url``, ``transport``,
``user-name`` and ``password`` from it (empty ones fall back to the configured
:class:`Settings`), log in, run the operation and answer the
``<vmware-infrastructure-response>``. The operation is the same module the mock's adapter face
runs (:mod:`vismock.adapter.operations`), here against :class:`PyVmomiVCenter`; pyVmomi's
TaskInfo is turned into the codec's TaskInfo dict by the one TaskInfo model, so both answer the
same envelope for the same task.

Failures become error envelopes with a clear message: unknown task
(ManagedObjectNotFound), bad credentials (InvalidLogin), unreachable host
(HostCommunication) and timeout (RequestTimeout). Passwords never appear in them.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

from vismock.adapter.operations import VirtualMachine, error_response, respond
from vismock.codec import XsDateTime
from vismock.codec.parsing import ParseFailure, parse
from vismock.codec.taskinfo import ENTITY_GROUP, REASON_GROUP, Slot, task_info_model
from vismock.faults import (
    HostUnreachable,
    InvalidLogin,
    NotAuthenticated,
    RequestTimedOut,
    TaskNotFound,
    VimFault,
)
from vismock.mockserver.vim25.values import MoRef

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_PATH = "/sdk"
TRANSPORT_SCHEMES = {"https-rpc": "https", "http-rpc": "http"}


@dataclass(frozen=True, slots=True)
class Settings:
    """The adapter's configuration: used where a request leaves a connection field empty."""

    soap_url: str | None = None
    transport: str | None = None  # "https-rpc" | "http-rpc" | None (from the URL)
    user: str | None = None
    password: str | None = None
    insecure: bool = False  # accept a self-signed / unverifiable certificate
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    ca_file: str | None = None  # PEM CA certificate(s) to trust instead of the system's (vismock serve --tls)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the SOAP endpoint is: scheme, host:port and path (never any credentials)."""

    scheme: str
    netloc: str
    path: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def versions_url(self) -> str:
        base = self.path[: -len("/vim")] if self.path.endswith("/vim") else self.path
        return f"{self.scheme}://{self.netloc}{base.rstrip('/')}/vimServiceVersions.xml"


def settings_for(request: Mapping[str, Any], defaults: Settings) -> Settings:
    """*defaults* overridden by the request's non-empty connection fields."""
    user = str(request.get("user-name") or "").strip()
    return replace(
        defaults,
        soap_url=str(request.get("soap-url") or "").strip() or defaults.soap_url,
        transport=str(request.get("transport") or "").strip() or defaults.transport,
        user=user or defaults.user,
        password=str(request.get("password") or "") if user else defaults.password,
    )


def endpoint_of(settings: Settings) -> Endpoint:
    """The endpoint *settings* name: ``transport`` decides the scheme, else the URL's, else https."""
    if not settings.soap_url:
        raise HostUnreachable("No soap-url: the request has none and no default is configured")
    url = settings.soap_url if "//" in settings.soap_url else f"//{settings.soap_url}"
    parts = urlsplit(url)
    if settings.transport and settings.transport not in TRANSPORT_SCHEMES:
        raise HostUnreachable(f"Unknown transport {settings.transport!r}; expected https-rpc or http-rpc")
    scheme = TRANSPORT_SCHEMES.get(settings.transport or "") or parts.scheme or "https"
    if scheme not in ("http", "https") or not parts.hostname:
        raise HostUnreachable(f"soap-url {_redacted(settings.soap_url)!r} is not an http(s) URL with a host")
    try:
        port = parts.port
    except ValueError:
        raise HostUnreachable(f"soap-url {_redacted(settings.soap_url)!r} has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port else host
    return Endpoint(scheme, netloc, parts.path or DEFAULT_PATH)


def _redacted(url: str) -> str:
    """*url* without any user:password@ part."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    return parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")).geturl()


# -- the operation ---------------------------------------------------------------------------------


def run_over_soap(request: Mapping[str, Any], defaults: Settings) -> dict[str, Any]:
    """The response envelope (dict) of a decoded request, run against the vCenter it names."""
    try:
        settings = settings_for(request, defaults)
        with connect(settings) as vcenter:
            return respond(request, vcenter)
    except VimFault as fault:
        return error_response(fault.message, fault.fault_type)


class PyVmomiVCenter:
    """A vCenter reached with pyVmomi through a logged-in stub (the VCenter of the operations)."""

    def __init__(self, stub: Any, endpoint: Endpoint, timeout: float, content: Any = None) -> None:
        self._stub = stub
        self._endpoint = endpoint
        self._timeout = timeout
        self._content = content  # the ServiceContent (its rootFolder and propertyCollector)

    @property
    def stub(self) -> Any:
        """The logged-in pyVmomi stub, for commands that make calls of their own (``record``)."""
        return self._stub

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def translated_errors(self) -> AbstractContextManager[None]:
        """pyVmomi's and the network's exceptions raised inside as vismock faults (VimFault)."""
        return _translated_errors(self._endpoint, self._timeout)

    def task_info(self, task_id: str) -> dict[str, Any]:
        vim, vmodl = _pyvmomi()
        with _translated_errors(self._endpoint, self._timeout):
            try:
                info = vim.Task(task_id, self._stub).info
            except vmodl.fault.ManagedObjectNotFound:
                raise TaskNotFound(task_id) from None
        return task_info_dict(info)

    def virtual_machines(self, name: str) -> list[VirtualMachine]:
        """The VMs named *name*, found by walking the datacenters' VM folders (Folder.childEntity,
        Datacenter.vmFolder: what every vCenter, and the mock, serves), then read in one call."""
        with _translated_errors(self._endpoint, self._timeout):
            found = [
                ref for ref, props in self._retrieve(self._all_vms(), ["name"]) if props.get("name") == name
            ]
            paths = ["runtime.powerState", "summary.config.template", "recentTask"]
            vms = []
            for vm, props in self._retrieve(found, paths):
                template = bool(props.get("summary.config.template"))
                busy = None if template else self._running(props.get("recentTask") or [])
                vms.append(VirtualMachine(_mo_id(vm), name, str(props["runtime.powerState"]), template, busy))
            return vms

    def read(self, ref: MoRef, path: str) -> Any:
        """Property *path* of *ref*, as vim25 values (one PropertyCollector call)."""
        from vismock.mockserver.vim25.pyvmomi import from_pyvmomi, to_pyvmomi

        with _translated_errors(self._endpoint, self._timeout):
            ((_found, props),) = self._retrieve([to_pyvmomi(ref, self._stub)], [path])
            return from_pyvmomi(props.get(path))

    def find(self, inventory_path: str) -> MoRef | None:
        from vismock.mockserver.vim25.pyvmomi import from_pyvmomi

        with _translated_errors(self._endpoint, self._timeout):
            found = from_pyvmomi(self._content.searchIndex.FindByInventoryPath(inventory_path))
        return found if isinstance(found, MoRef) else None

    def call(self, ref: MoRef, method: str, **args: Any) -> Any:
        """vim25 method *method* of *ref*, its arguments as pyVmomi wants them; a task's id."""
        from vismock.mockserver.vim25.pyvmomi import from_pyvmomi, to_pyvmomi

        with _translated_errors(self._endpoint, self._timeout):
            target = to_pyvmomi(ref, self._stub)
            given = {name: to_pyvmomi(value, self._stub) for name, value in args.items() if value is not None}
            result = from_pyvmomi(getattr(target, method)(**given))
        return result.value if isinstance(result, MoRef) and result.type == "Task" else result

    def _all_vms(self) -> list[Any]:
        vim, _vmodl = _pyvmomi()
        vms: list[Any] = []
        level: list[Any] = [self._content.rootFolder]
        while level:
            following: list[Any] = []
            for _ref, props in self._retrieve(level, ["childEntity", "vmFolder"]):
                following.extend(
                    child
                    for child in props.get("childEntity") or ()
                    if not isinstance(child, vim.VirtualMachine)
                )
                vms.extend(
                    child for child in props.get("childEntity") or () if isinstance(child, vim.VirtualMachine)
                )
                if props.get("vmFolder") is not None:
                    following.append(props["vmFolder"])
            level = [ref for ref in following if isinstance(ref, vim.Folder | vim.Datacenter)]
        return vms

    def _running(self, tasks: list[Any]) -> str | None:
        """The first of *tasks* still queued or running (TaskInProgress names it)."""
        for task, props in self._retrieve(tasks, ["info.state"]):
            if props.get("info.state") in ("queued", "running"):
                return _mo_id(task)
        return None

    def _retrieve(self, refs: list[Any], paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """The properties *paths* of the objects *refs* (those of them their type has), in one
        PropertyCollector call: ``[(ref, {path: value})]`` in the order of *refs*."""
        if not refs:
            return []
        _vim, vmodl = _pyvmomi()
        collector = vmodl.query.PropertyCollector
        types = {type(ref): [path for path in paths if _has_property(type(ref), path)] for ref in refs}
        spec = collector.FilterSpec(
            objectSet=[collector.ObjectSpec(obj=ref) for ref in refs],
            propSet=[
                collector.PropertySpec(type=kind, pathSet=wanted) for kind, wanted in types.items() if wanted
            ],
        )
        contents = self._content.propertyCollector.RetrieveContents([spec]) or []
        found = {
            _mo_id(content.obj): {prop.name: prop.val for prop in content.propSet or ()}
            for content in contents
        }
        return [(ref, found.get(_mo_id(ref), {})) for ref in refs]


@contextmanager
def connect(settings: Settings) -> Iterator[PyVmomiVCenter]:
    """A logged-in vCenter for *settings*; logs out when done."""
    vim, _vmodl = _pyvmomi()
    from pyVmomi import SoapAdapter

    stub_adapter: Any = SoapAdapter.SoapStubAdapter
    endpoint = endpoint_of(settings)
    if not settings.user:
        raise InvalidLogin("No user-name: the request has none and no default is configured")
    if settings.password is None:  # an empty password given on purpose is still tried
        raise InvalidLogin(
            f"No password for {settings.user!r}: the request has none and no default is configured"
        )
    context = _ssl_context(settings) if endpoint.scheme == "https" else None
    with _translated_errors(endpoint, settings.timeout):
        version = negotiate_version(endpoint, context, settings.timeout)
        stub = stub_adapter(
            url=endpoint.url,
            version=version,
            sslContext=context,
            httpConnectionTimeout=settings.timeout,
            acceptCompressedResponses=False,
        )
        content = vim.ServiceInstance("ServiceInstance", stub).RetrieveContent()
        content.sessionManager.Login(settings.user, settings.password or "")
    try:
        yield PyVmomiVCenter(stub, endpoint, settings.timeout, content)
    finally:
        _logout(content, endpoint, settings.timeout)
        stub.DropConnections()  # no keep-alive socket outlives the operation


def _pyvmomi() -> tuple[Any, Any]:
    """pyVmomi's ``vim`` and ``vmodl`` namespaces, typed loosely: their members are made at run time."""
    import pyVmomi

    module: Any = pyVmomi
    return module.vim, module.vmodl


def _logout(content: Any, endpoint: Endpoint, timeout: float) -> None:
    try:
        with _translated_errors(endpoint, timeout):
            content.sessionManager.Logout()
    except VimFault:
        pass  # the answer is already decided; a failed logout only leaves a session to expire


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    if settings.insecure:
        return ssl._create_unverified_context()
    return ssl.create_default_context(cafile=settings.ca_file)


def negotiate_version(endpoint: Endpoint, context: ssl.SSLContext | None, timeout: float) -> str:
    """The newest vim25 version both pyVmomi and the server speak (``vimServiceVersions.xml``),
    fetched with the timeout pyVmomi's own negotiation lacks."""
    from pyVmomi import VmomiSupport

    support: Any = VmomiSupport
    version_ids = support.versionIdMap
    known = list(support.GetServiceVersions("vim25"))
    served = _served_versions(endpoint, context, timeout)
    for version in known:
        if version_ids.get(version) in served:
            return str(version)
    # No version document (older servers): a version every vCenter since 6.5 understands.
    return next((str(v) for v in known if version_ids.get(v) == "6.5"), str(known[-1]))


def _served_versions(endpoint: Endpoint, context: ssl.SSLContext | None, timeout: float) -> set[str]:
    try:
        with urllib.request.urlopen(endpoint.versions_url, timeout=timeout, context=context) as answer:
            document = answer.read(1024 * 1024)
    except urllib.error.HTTPError:
        return set()
    except urllib.error.URLError as error:
        reason = error.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None
    try:
        root = parse(document).getroot()
    except ParseFailure:
        return set()
    versions = root.xpath("namespace[name='urn:vim25']//version/text()")
    return {str(version).strip() for version in versions} if isinstance(versions, list) else set()


@contextmanager
def _translated_errors(endpoint: Endpoint, timeout: float) -> Iterator[None]:
    """pyVmomi's and the network's exceptions as vismock faults with messages that say what failed."""
    vim, vmodl = _pyvmomi()
    where = f"vCenter at {endpoint.url}"
    try:
        yield
    except VimFault:
        raise
    except vim.fault.InvalidLogin:
        raise InvalidLogin() from None
    except vim.fault.NotAuthenticated:
        raise NotAuthenticated() from None
    except vmodl.MethodFault as fault:
        raise _vim_fault(fault) from None
    except TimeoutError:
        raise RequestTimedOut(f"{where} did not answer within {timeout:g} s") from None
    except ssl.SSLCertVerificationError as error:
        raise HostUnreachable(
            f"Cannot verify the certificate of {where} ({error.verify_message}); "
            "trust its CA with --ca-file, or accept a self-signed certificate with --insecure"
        ) from None
    except ssl.SSLError as error:
        if error.reason != "WRONG_VERSION_NUMBER":
            raise HostUnreachable(f"Cannot reach {where}: {_reason(error)}") from None
        # What a plain-HTTP server (vismock serve without --tls) answers a TLS handshake with.
        raise HostUnreachable(
            f"Cannot reach {where}: it does not answer over TLS ([SSL: WRONG_VERSION_NUMBER]); for a "
            "plain-HTTP server, give an http:// soap-url or --transport http-rpc (a soap-url without "
            "a scheme means https)"
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise HostUnreachable(f"Cannot reach {where}: {_reason(error)}") from None
    except ExpatError:
        raise HostUnreachable(f"{where} did not answer as a vim25 SOAP endpoint") from None


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text)


def _vim_fault(fault: Any) -> VimFault:
    converted = VimFault(str(getattr(fault, "msg", None) or type(fault).__name__))
    converted.fault_type = _wsdl_name(fault)
    return converted


# -- pyVmomi TaskInfo -> codec TaskInfo dict --------------------------------------------------------


def task_info_dict(info: Any) -> dict[str, Any]:
    """pyVmomi's ``vim.TaskInfo`` in vismock.codec's dict form, field by field of the TaskInfo model."""
    data: dict[str, Any] = {}
    for slot in task_info_model().slots:
        value = getattr(info, slot.vim25_name, None)
        if value is None or (slot.repeated and not value):
            continue
        data.update(_slot_entry(slot, value))
    return data


def _slot_entry(slot: Slot, value: Any) -> dict[str, Any]:
    """One TaskInfo field of pyVmomi's as the codec's dict holds it (nothing if it cannot)."""
    if slot.name == REASON_GROUP:
        return _reason_entry(value)
    if slot.is_reference:
        kind = _wsdl_name(value) if slot.is_group else slot.name
        return {kind: _mo_id(value)} if kind in slot.elements else {}
    if slot.type_name == "ManagedEntityRef":
        entity_types = task_info_model().slot(ENTITY_GROUP).elements
        refs = [{_wsdl_name(mo): _mo_id(mo)} for mo in value if _wsdl_name(mo) in entity_types]
        return {slot.name: refs} if refs else {}
    if slot.type_name == "LocalizableMessage":
        return {slot.name: _localizable_message(value)}
    if slot.type_name == "LocalizedMethodFault":
        return {slot.name: _error(value)}
    return {slot.name: _simple(slot, value)}


def _simple(slot: Slot, value: Any) -> Any:
    if slot.builtin == "dateTime":
        return _datetime(value)
    if slot.builtin == "boolean":
        return bool(value)
    if slot.builtin == "int":
        return int(value)
    if hasattr(value, "_moId"):
        return _mo_id(value)  # result: a managed object
    if slot.vim25_any and not isinstance(value, str | int | float | bool):
        return _wsdl_name(value)  # result: a data object, named by its type
    return _method_name(value)  # text; name: a method object (a known one, or not)


def _set_if(data: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        data[key] = value


def _has_property(kind: Any, path: str) -> bool:
    """Whether managed object type *kind* (pyVmomi's) has the property *path* starts with."""
    head = path.split(".", 1)[0]
    try:
        kind._GetPropertyInfo(head)
    except AttributeError:
        return False
    return True


def _wsdl_name(obj: Any) -> str:
    return str(getattr(type(obj), "_wsdlName", type(obj).__name__))


def _mo_id(obj: Any) -> str:
    return str(getattr(obj, "_moId", obj))


def _method_name(method: Any) -> str:
    info = getattr(method, "info", None)
    return str(getattr(info, "wsdlName", None) or getattr(method, "name", None) or method)


def _datetime(value: datetime) -> XsDateTime:
    return XsDateTime.from_datetime(value)


def _error(fault: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"fault": _wsdl_name(fault)}
    message = getattr(fault, "msg", None)
    if message:
        error["localizedMessage"] = str(message)
    return error


def _localizable_message(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"key": message.key}
    args = [{"key": arg.key, "value": str(arg.value)} for arg in message.arg or ()]
    if args:
        data["arg"] = args
    _set_if(data, "message", message.message)
    return data


def _reason_entry(reason: Any) -> dict[str, Any]:
    kind = _wsdl_name(reason)
    if kind == "TaskReasonUser":
        return {kind: {"userName": reason.userName}}
    if kind == "TaskReasonAlarm":
        return {
            kind: {
                "alarm": _mo_id(reason.alarm),
                "alarmName": reason.alarmName,
                "entity": _mo_id(reason.entity),
                "entityName": reason.entityName,
            }
        }
    if kind == "TaskReasonSchedule":
        return {kind: {"name": reason.name, "scheduledTask": _mo_id(reason.scheduledTask)}}
    return {"TaskReasonSystem": None}
