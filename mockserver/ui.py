"""The live dashboard: ``ui_blueprint``, served at ``/_vismock/ui/`` next to the admin API.

Register it with the admin API's prefix::

    app.register_blueprint(ui_blueprint, url_prefix="/_vismock")

``landing_blueprint`` (no prefix) answers ``GET /`` with a page of links (``mockserver/ui/landing.html``).

``/_vismock/ui`` redirects to ``/_vismock/ui/``, the page (``mockserver/ui/index.html``); its
script and style sheet are ``/_vismock/ui/app.js`` and ``/_vismock/ui/style.css``, package data
read once per process. Nothing is fetched from anywhere else: a Content-Security-Policy header
lets the page load only its own files and call only its own server, and the page polls the admin
API's JSON every second (tasks, journal, fault rules, clock) and acts through the same API.

Access is the admin API's. Without an admin token the page and its files answer loopback clients
only, through the admin blueprint's own guard (others get its 403). With ``--admin-token`` a
browser cannot send the token when it loads a page, so the page and its two files, which hold no
state, are served to any client; every call the page makes carries ``Authorization: Bearer``
with the token the user gives it (a form on the page, or ``/_vismock/ui/#token=...``, kept in the
tab's sessionStorage) and is checked by the admin API as any other call is.
"""

from __future__ import annotations

import functools
from importlib import resources

from flask import Blueprint, Response, current_app, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from vismock.mockserver.faces.admin import _guard as admin_guard

ui_blueprint = Blueprint("ui", __name__)
# ``GET /``: the URL ``vismock serve`` prints, a page of links to what the server serves.
landing_blueprint = Blueprint("landing", __name__)
LANDING = "landing.html"

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# The landing page loads nothing at all.
LANDING_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Only the page's own files and its own server: no CDN, no fonts, no images from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@ui_blueprint.before_request
def _guard() -> Response | None:
    if current_app.config.get("VISMOCK_ADMIN_TOKEN"):
        return None  # static files only; every call the page makes is checked by the admin API
    guarded: Response | None = admin_guard()
    return guarded


@ui_blueprint.get("/ui")
def page_without_slash() -> BaseResponse:
    """``/_vismock/ui`` -> ``/_vismock/ui/``, so that the page's relative links resolve."""
    return redirect(url_for("ui.page"), code=308)


@ui_blueprint.get("/ui/")
def page() -> Response:
    return _asset_response("index.html")


@ui_blueprint.get("/ui/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found\n", status=404, mimetype="text/plain")
    return _asset_response(name)


@landing_blueprint.get("/")
def landing() -> Response:
    """Links to the dashboard, the faces, the admin API's OpenAPI document and the docs. Served to
    any client, like ``/_vismock/health``: it holds nothing of the mock's state."""
    response = _file_response(LANDING, ASSETS["index.html"])
    response.headers["Content-Security-Policy"] = LANDING_CONTENT_SECURITY_POLICY
    return response


@functools.cache
def asset_bytes(name: str) -> bytes:
    """One of the dashboard's files (package data ``mockserver/ui/NAME``)."""
    return resources.files("vismock.mockserver").joinpath("ui", name).read_bytes()


def _asset_response(name: str) -> Response:
    response = _file_response(name, ASSETS[name])
    if name == "index.html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _file_response(name: str, content_type: str) -> Response:
    response = Response(asset_bytes(name), status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
