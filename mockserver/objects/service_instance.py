"""ServiceInstance: where a vim25 client starts (RetrieveServiceContent, before any login), and
the mock's clock as vCenter's (CurrentTime, ``serverClock``)."""

from __future__ import annotations

from datetime import datetime

from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.state.registry import ManagedObject, derived
from vismock.mockserver.vim25.values import Data, MoRef

API_VERSION = "8.0.3.0"
SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")
ROOT_FOLDER = MoRef("Folder", "group-d1")
# The managers vismock serves, and only those: a client dereferences whatever is listed (govc panics
# on a listed manager that does not answer).
MANAGERS = {
    "propertyCollector": MoRef("PropertyCollector", "propertyCollector"),
    "viewManager": MoRef("ViewManager", "ViewManager"),
    "sessionManager": MoRef("SessionManager", "SessionManager"),
    "eventManager": MoRef("EventManager", "EventManager"),
    "taskManager": MoRef("TaskManager", "TaskManager"),
    "searchIndex": MoRef("SearchIndex", "SearchIndex"),
    "customFieldsManager": MoRef("CustomFieldsManager", "CustomFieldsManager"),
}
ABOUT = Data(
    "AboutInfo",
    name="VMware vCenter Server",
    fullName=f"VMware vCenter Server {API_VERSION[:5]} build-vismock (vismock mock vCenter)",
    vendor="VMware, Inc.",
    version=API_VERSION[:5],
    build="0",
    localeVersion="INTL",
    localeBuild="000",
    osType="linux-x64",
    productLineId="vpx",
    apiType="VirtualCenter",
    apiVersion=API_VERSION,
    instanceUuid="7669736d-6f63-6b00-0000-000000000001",
    licenseProductName="VMware VirtualCenter Server",
    licenseProductVersion="8.0",
)


class ServiceInstance(ManagedObject):
    vim_type = "ServiceInstance"
    permanent = True
    public_properties = frozenset({"content"})

    @derived
    def content(self) -> Data:
        return Data("ServiceContent", rootFolder=ROOT_FOLDER, about=ABOUT, **MANAGERS)

    def _server_clock(self) -> datetime:
        return datetime.fromtimestamp(self.state.now_us() / 1e6).astimezone()

    serverClock = derived(_server_clock, volatile=True)  # the time: never remembered

    @vim_method("RetrieveServiceContent", authenticated=False)
    def retrieve_service_content(self, ctx: Context) -> Data:
        content: Data = self.read("content")
        return content

    @vim_method("CurrentTime")
    def current_time(self, ctx: Context) -> datetime:
        """The mock's clock (frozen, advanced or real: the time its tasks and sessions are stamped with)."""
        now: datetime = self.read("serverClock")
        return now
