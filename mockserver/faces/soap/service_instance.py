"""ServiceInstance: where a vim25 client starts (RetrieveServiceContent, before any login)."""

from __future__ import annotations

from lxml import etree

from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.wire import MoRef, Value

SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")
PROPERTY_COLLECTOR = MoRef("PropertyCollector", "propertyCollector")
SESSION_MANAGER = MoRef("SessionManager", "SessionManager")
TASK_MANAGER = MoRef("TaskManager", "TaskManager")
VIEW_MANAGER = MoRef("ViewManager", "ViewManager")
EVENT_MANAGER = MoRef("EventManager", "EventManager")
SEARCH_INDEX = MoRef("SearchIndex", "SearchIndex")
ROOT_FOLDER = MoRef("Folder", "group-d1")

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

service_instance = managed_type("ServiceInstance", singleton=SERVICE_INSTANCE.value)


def service_content() -> Value:
    """What a client starts from: the managers vismock serves, and only those (a client
    dereferences whatever is listed: govc panics on a listed manager that does not answer)."""

    def fill(element: etree._Element) -> None:
        wire.sub_moref(element, "rootFolder", ROOT_FOLDER)
        wire.sub_moref(element, "propertyCollector", PROPERTY_COLLECTOR)
        wire.sub_moref(element, "viewManager", VIEW_MANAGER)
        about = wire.sub(element, "about")
        for name, text in ABOUT:
            wire.sub(about, name, text)
        wire.sub_moref(element, "sessionManager", SESSION_MANAGER)
        wire.sub_moref(element, "eventManager", EVENT_MANAGER)
        wire.sub_moref(element, "taskManager", TASK_MANAGER)
        wire.sub_moref(element, "searchIndex", SEARCH_INDEX)

    return Value("ServiceContent", fill)


@service_instance.method("RetrieveServiceContent", authenticated=False)
def retrieve_service_content(call: Call) -> Value:
    return service_content()


@service_instance.property("content", default=True, public=True)
def content(call: Call, ref: MoRef, loaded: object) -> Value:
    return service_content()


@service_instance.method("CurrentTime")
def current_time(call: Call) -> Value:
    """The mock's clock (frozen, advanced or real: the time its tasks and sessions are stamped with)."""
    call.observation.not_remembered()
    return wire.datetime_value(call.backend.clock.now())


@service_instance.property("serverClock")
def server_clock(call: Call, ref: MoRef, loaded: object) -> Value:
    call.observation.not_remembered()
    return wire.datetime_value(call.backend.clock.now())
