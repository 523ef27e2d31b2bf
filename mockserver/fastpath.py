"""The fast path: a WSGI layer in front of Flask that sends a face's requests straight to it.

A poller sends the same small body again and again; Flask's routing and request objects cost
more than answering it. A POST to a face's path (``/adapter``, ``/sdk``, ``/sdk/vim``) is eligible:
it goes to the face's one path (:func:`vismock.mockserver.faces.common.serve`), the very function
Flask's views call, which also remembers answers that still hold. Everything else goes to Flask.
So this layer decides eligibility and nothing else: no rule of a face is here.

``VISMOCK_FAST_PATH: False`` turns it off (every request through Flask's views, same answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vismock.mockserver.faces.common import send, serve

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

    from vismock.mockserver.services import Services


class FastPath:
    """WSGI middleware: a face's POST to the face, everything else to *wrapped* (Flask)."""

    def __init__(self, services: Services, wrapped: WSGIApplication) -> None:
        self.services = services
        self.wrapped = wrapped

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        face = self.services.faces.get(environ.get("PATH_INFO", ""))
        if face is None or environ.get("REQUEST_METHOD") != "POST":
            return self.wrapped(environ, start_response)
        return send(serve(face, environ, self.services), environ, start_response)


def install(app: Flask, services: Services) -> None:
    """Put the fast path in front of *app*'s WSGI callable (Flask still serves everything else)."""
    app.wsgi_app = FastPath(services, app.wsgi_app)  # type: ignore[method-assign]
