"""One VIS request run both ways the adapter can meet a vCenter: the operation over pyVmomi
against one mock's /sdk, and the other mock's adapter face, each mock prepared alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tests.support.soap import T0, LiveServer
from vismock.adapter.vcenter import Settings, run_over_soap
from vismock.codec import decode, encode
from vismock.mockserver.state import Backend
from vismock.mockserver.state.behaviour import Behaviour

Prepare = Callable[[Backend], None]
ServerPair = tuple[LiveServer, LiveServer]  # (the one /sdk is called on, the one whose adapter face is)


def both(
    servers: ServerPair, request: bytes, prepare: Prepare, behaviours: Mapping[str, Behaviour] | None = None
) -> tuple[bytes, bytes]:
    """The envelope from the operation over SOAP, and from the adapter face: each mock reset, its
    clock frozen at T0, given *behaviours* (when any) and *prepare*d first."""
    over_soap, adapter_face = servers
    for server in servers:
        server.backend.reset()
        server.backend.freeze(T0)
        if behaviours is not None:
            server.backend.operations.set_behaviours(behaviours)
        prepare(server.backend)
    settings = Settings(soap_url=f"{over_soap.url}/sdk")
    by_soap = encode(run_over_soap(decode(request), settings), root="vmware-infrastructure-response")
    response = adapter_face.app.test_client().post("/adapter", data=request, content_type="text/xml")
    assert response.status_code == 200
    return by_soap, bytes(response.data)


def nothing(backend: Backend) -> None:
    """No preparation beyond the reset."""
