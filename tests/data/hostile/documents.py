"""Hostile documents for the codec and both faces of the mock: built from ``cases.toml`` and a few generators.

Loaded by path (``tests/data`` is not a package) from the hostile tests and ``bench/soak.py``::

    documents = load_documents_module()  # see the tests
    for case in documents.entity_cases(): case.adapter_document(canary_url, secret_url)
"""

from __future__ import annotations

import gzip
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
CASES_FILE = HERE / "cases.toml"
SEED_REQUEST = HERE.parent / "seed" / "request.xml"
ADAPTER_ROOT = "vmware-infrastructure-request"
SOAP_ROOT = "soapenv:Envelope"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12ENV = "http://www.w3.org/2003/05/soap-envelope"

ADAPTER_TEMPLATE = (
    "{prolog}<vmware-infrastructure-request{attributes}>\n"
    "<operation-type>Monitor_Vm</operation-type>\n"
    "<operation-name>Retrieve_Task_Status</operation-name>\n"
    "<parameters><spec-set><object-set><task>{reference}</task></object-set></spec-set></parameters>\n"
    "</vmware-infrastructure-request>\n"
)
SOAP_TEMPLATE = (
    '{prolog}<soapenv:Envelope xmlns:soapenv="' + SOAPENV + '"{attributes}><soapenv:Body>'
    '<Fetch xmlns="urn:vim25"><_this type="Task">{reference}</_this><prop>info</prop></Fetch>'
    "</soapenv:Body></soapenv:Envelope>\n"
)


@dataclass(frozen=True, slots=True)
class EntityCase:
    """One hostile document shape (DTD, entities, XInclude, schema hints), for both faces."""

    name: str
    description: str
    prolog: str
    reference: str
    codec: str
    adapter: int
    soap: str
    attributes: str = ""
    encoding: str = "utf-8"
    filler: int = 0
    repeat: int = 1

    def adapter_document(self, canary: str, secret_file: str) -> bytes:
        return self._build(ADAPTER_TEMPLATE, ADAPTER_ROOT, canary, secret_file)

    def soap_document(self, canary: str, secret_file: str) -> bytes:
        return self._build(SOAP_TEMPLATE, SOAP_ROOT, canary, secret_file)

    def _build(self, template: str, root: str, canary: str, secret_file: str) -> bytes:
        text = template.replace("{prolog}", self.prolog).replace("{attributes}", self.attributes)
        text = text.replace("{reference}", self.reference * self.repeat)
        for placeholder, value in (
            ("{root}", root),
            ("{canary}", canary),
            ("{secret_file}", secret_file),
            ("{filler}", "A" * self.filler),
        ):
            text = text.replace(placeholder, value)
        return text.encode(self.encoding)


def entity_cases() -> list[EntityCase]:
    with CASES_FILE.open("rb") as handle:
        table = tomllib.load(handle)
    return [EntityCase(name=name, **fields) for name, fields in table.items()]


# -- documents that are hostile by size or shape rather than by XML feature ------------------------


def seed_request() -> bytes:
    return SEED_REQUEST.read_bytes()


def with_task(task: str) -> bytes:
    return seed_request().replace(b"task-525", task.encode())


def deep_nesting(depth: int = 100_000) -> bytes:
    """A request whose <task> holds *depth* nested elements (libxml2 stops at 256)."""
    return with_task("<a>" * depth + "</a>" * depth)


def long_text(size: int) -> bytes:
    return with_task("task-" + "5" * size)


def long_attribute(size: int) -> bytes:
    return seed_request().replace(b"<parameters>", b'<parameters note="' + b"x" * size + b'">')


def many_attributes(count: int) -> bytes:
    names = " ".join(f'a{index}="x"' for index in range(count))
    return seed_request().replace(b"<parameters>", f"<parameters {names}>".encode())


def many_unknown_elements(count: int) -> bytes:
    return seed_request().replace(b"<parameters>", b"<parameters>" + b"<bogus/>" * count)


def invalid_utf8() -> bytes:
    return seed_request().replace(b"Monitor_Vm", b"Monitor\xff\xfe\xc0Vm")


def truncated() -> bytes:
    data = seed_request()
    return data[: len(data) // 2]


def gzip_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """*size* bytes of spaces after a request's root, gzipped (about 64 KB on the wire)."""
    return gzip.compress(seed_request() + b" " * size, compresslevel=9)


def prolog_backtracking(count: int = 40) -> bytes:
    """Many empty comments before the root: a prolog a regex with nested lazy repeats backtracks on."""
    return b"<!---->" * count + seed_request()


def prolog_pi_backtracking(count: int = 40) -> bytes:
    return b"<?v?>" * count + seed_request()


def soap_envelope(call: str, *, namespace: str = SOAPENV) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="{namespace}">'
        f"<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>\n"
    ).encode()


def soap_login(user: str, password: str) -> bytes:
    return soap_envelope(
        '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
        f"<userName>{user}</userName><password>{password}</password></Login>"
    )


def soap_fetch_task_info(task_id: str) -> bytes:
    return soap_envelope(
        f'<Fetch xmlns="urn:vim25"><_this type="Task">{task_id}</_this><prop>info</prop></Fetch>'
    )


def soap_retrieve_task_info(task_id: str) -> bytes:
    return soap_envelope(
        '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
        "<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet>"
        f'<objectSet><obj type="Task">{task_id}</obj></objectSet></specSet><options/></RetrievePropertiesEx>'
    )


def adapter_request(task_ids: list[str], user: str = "", password: str = "") -> bytes:
    objects = "".join(f"<object-set><task>{task_id}</task></object-set>" for task_id in task_ids)
    return (
        "<vmware-infrastructure-request>\n<operation-type>Monitor_Vm</operation-type>\n"
        "<operation-name>Retrieve_Task_Status</operation-name>\n"
        f"<user-name>{user}</user-name>\n<password>{password}</password>\n"
        f"<parameters><spec-set>{objects}</spec-set></parameters>\n</vmware-infrastructure-request>\n"
    ).encode()


# -- test support: a canary HTTP server and a bounded run ------------------------------------------


class Canary:
    """An HTTP server on loopback that records every request: a hostile document must never reach it."""

    def __init__(self) -> None:
        import http.server
        import threading

        requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                body = b'<!ENTITY exfil "canary-was-contacted">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.requests = requests
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def finishes_within(function: Callable[[], object], seconds: float) -> bool:
    """Whether ``function()`` returns within *seconds*, run in a forked child that is killed otherwise.

    For CPU-exhaustion defects only: the bound is generous (the fixed code takes
    milliseconds) and a hang must not take the test process down with it.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    child = context.Process(target=function, daemon=True)
    child.start()
    child.join(seconds)
    if child.is_alive():
        child.kill()
        child.join()
        return False
    return child.exitcode == 0
