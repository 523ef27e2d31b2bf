"""What the tests read SOAP answers with: the namespaces, a fault's type, a time as the wire writes it,
and what the adapter's TaskInfo dict (the codec's) names: its entity, its reason types."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from vismock.codec import XsDateTime
from vismock.codec.taskinfo import ENTITY_GROUP, REASON_GROUP, task_info_model
from vismock.mockserver.vim25.taskinfo import task_entity
from vismock.mockserver.vim25.xml import SOAPENV, VIM25, XSD, XSI, XSI_TYPE

__all__ = [
    "SOAPENV",
    "VIM25",
    "XSD",
    "XSI",
    "XSI_TYPE",
    "entity_types",
    "fault_type_of",
    "format_datetime",
    "reason_types",
    "task_entity",
]


def fault_type_of(response: bytes) -> str | None:
    """The xsi:type of a SOAP fault's detail, or None for a non-fault response."""
    root = etree.fromstring(response)
    detail = root.find(f"{{{SOAPENV}}}Body/{{{SOAPENV}}}Fault/detail")
    if detail is None or len(detail) == 0:
        return None
    return detail[0].get(XSI_TYPE)


def format_datetime(value: datetime) -> str:
    """An aware datetime as the wire writes it (the codec's canonical xs:dateTime)."""
    return str(XsDateTime.from_datetime(value))


def reason_types() -> tuple[str, ...]:
    """The TaskReason types a TaskInfo dict's reason may be (the adapter schema's TaskReason group)."""
    return task_info_model().slot(REASON_GROUP).elements


def entity_types() -> tuple[str, ...]:
    """The managed entity types a TaskInfo dict's entity may be (the adapter schema's ManagedEntity group)."""
    return task_info_model().slot(ENTITY_GROUP).elements
