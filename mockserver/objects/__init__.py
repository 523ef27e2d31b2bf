"""The vim25 managed objects the mock serves, one module per type (as govmomi's simulator has
them): each defines its class, its properties (stored, or derived from others) and its methods.

Importing this package registers every type (:data:`vismock.mockserver.state.registry.KINDS`).
"""

from __future__ import annotations

# The state package first: its Backend imports these modules, in an order that works; importing one
# of them first (vismock.mockserver.objects.base, say) would otherwise start that cycle in its middle.
import vismock.mockserver.state  # noqa: F401  # isort: skip
from vismock.mockserver.objects import (  # noqa: F401  (each module registers its type)
    compute_resource,
    custom_fields,
    datacenter,
    datastore,
    folder,
    host_system,
    managed_entity,
    network,
    resource_pool,
    task,
    virtual_machine,
    virtual_machine_snapshot,
)
from vismock.mockserver.objects.custom_fields import CustomFieldsManager
from vismock.mockserver.objects.event_manager import EventManager
from vismock.mockserver.objects.property_collector import PropertyCollector
from vismock.mockserver.objects.search_index import SearchIndex
from vismock.mockserver.objects.service_instance import ServiceInstance
from vismock.mockserver.objects.session_manager import SessionManager
from vismock.mockserver.objects.view_manager import ViewManager
from vismock.mockserver.state.registry import ManagedObject


def service_objects() -> list[ManagedObject]:
    """The service's singletons (ServiceInstance and the managers it lists), as a new state holds
    them (the TaskManager is the state's own: it numbers the tasks)."""
    return [
        ServiceInstance("ServiceInstance"),
        SessionManager(),
        PropertyCollector.service(),
        ViewManager(),
        EventManager(),
        SearchIndex(),
        CustomFieldsManager(),
    ]
