"""Contract-testing helpers: Hypothesis strategies derived from the XSDs.

Needs Hypothesis (``pip install 'vismock[testing]'``); nothing else in vismock imports it.
"""

from __future__ import annotations

from vismock.extras import require

require("hypothesis", extra="testing", feature="vismock.testing")

from vismock.testing.strategies import (  # noqa: E402  (after the check: a clear message, not a traceback)
    ABSENT,
    PRESENT,
    InvalidDocument,
    SchemaStrategies,
    invalid_requests,
    invalid_responses,
    request_documents,
    requests,
    response_documents,
    responses,
    task_infos,
)

__all__ = [
    "ABSENT",
    "PRESENT",
    "InvalidDocument",
    "SchemaStrategies",
    "invalid_requests",
    "invalid_responses",
    "request_documents",
    "requests",
    "response_documents",
    "responses",
    "task_infos",
]
