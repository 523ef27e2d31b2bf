"""What keeps web pages out of the admin API: the checks a browser's request from another site fails.

Two ways a page the developer happens to open could drive the admin API of a mock on their laptop:

- **Cross-site requests.** A page may make the browser send a "simple" request anywhere without
  asking first (no CORS preflight): a GET, or a POST whose ``Content-Type`` is ``text/plain``, a
  form type, or none. The page cannot read the answer, but the POST's change is made. So every
  POST, PUT and PATCH must say ``Content-Type: application/json`` (415 otherwise), which a browser
  sends to another origin only after a preflight that the admin API never grants: it answers no
  ``Access-Control-*`` header at all, so reads (journal, tasks) stay unreadable to other origins
  too. And a request whose ``Origin`` is not the server's own is refused (403): browsers send
  ``Origin`` with every cross-origin request and with every POST, PUT, PATCH and DELETE.
- **DNS rebinding.** A page served from a name its author controls can re-point that name at
  127.0.0.1: its requests are then same-origin, so they may send anything, but they carry that name
  in ``Host``. So, when no admin token is set, ``Host`` must name this server: ``localhost``, a
  loopback address (127.0.0.0/8, ::1), or a name or address in ``allowed`` (``vismock serve`` puts
  its ``--host`` there, and each ``--allow-host``; the setting is ``VISMOCK_ALLOWED_HOSTS``).
  With a token the token decides: a browser never adds an ``Authorization`` header by itself, and a
  page of another origin cannot read the one the dashboard keeps in its tab's sessionStorage.

Refusals name what to send instead. Requests without ``Origin`` and with a JSON type (curl,
scripts, the pytest plugin's clients) pass as before.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

JSON = "application/json"
WRITES = frozenset({"POST", "PUT", "PATCH"})  # the methods that carry a body
ALLOW_OPTION = "--allow-host"
ALLOW_SETTING = "VISMOCK_ALLOWED_HOSTS"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name (labels of letters, digits, '-' and '_', as docker and compose name services).
HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
SHOWN = 100  # characters of a refused header's value quoted back

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the HTTP status and a message saying what to send instead."""

    status: int
    message: str


def refusal(request: Request, allowed: Iterable[str], *, check_host: bool) -> Refusal | None:
    """Why *request* must not reach the admin API, or None: a foreign ``Host`` (when *check_host*:
    no admin token is set), a foreign ``Origin``, a write without ``Content-Type: application/json``."""
    if check_host:
        refused = _foreign_host(request.headers.get("Host"), tuple(allowed))
        if refused is not None:
            return refused
    return _foreign_origin(request) or _not_json(request)


def normalised_host(text: str) -> str | None:
    """A host name or IP address as the checks compare it (lower case, no trailing dot, IPv6
    without brackets), or None when *text* is neither (a scheme, a port, a path, spaces...)."""
    bare = text.strip().lower().removeprefix("[").removesuffix("]")
    if _address(bare) is not None:
        return bare  # an IP address, IPv6 with or without its brackets
    parts = _split_host(text)
    return parts[0] if parts is not None and parts[1] is None else None


def _split_host(text: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[ipv6][:port]`` (a ``Host`` header, a URL's authority) as (normalised
    name or address, port or None); None when malformed."""
    text = text.strip().lower()
    if text.startswith("["):
        name, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")) or _address(name) is None:
            return None
        port_text = rest[1:] if rest else None
    else:
        name, colon, after = text.partition(":")  # an IPv6 address needs its brackets here
        port_text = after if colon else None
        name = name.rstrip(".")
        if _address(name) is None and not HOST_NAME.fullmatch(name):
            return None
    if port_text is None:
        return name, None
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        return None
    return name, int(port_text)


def is_wildcard(host: str) -> bool:
    """Whether a server listening on *host* listens on every address (``0.0.0.0``, ``::``, empty)."""
    address = _address(host.strip("[]"))
    return host.strip("[]") in ("", "*") or (address is not None and address.is_unspecified)


def is_loopback(host: str) -> bool:
    """Whether *host* (a listening address or a Host name) is this machine only: localhost, 127/8, ::1."""
    address = _address(host.strip("[]"))
    return host.strip("[]").lower() == "localhost" or (address is not None and address.is_loopback)


def _address(name: str) -> Address | None:
    """*name* as an IP address (an IPv4-mapped IPv6 one as its IPv4 address; no zone), or None."""
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=16)
def _allowed(allowed: tuple[str, ...]) -> tuple[frozenset[str], frozenset[Address]]:
    """The allowed names and addresses, each compared in its own form (``::1`` is ``0:0::1``)."""
    addresses = [_address(host) for host in allowed]
    return frozenset({*allowed, "localhost"}), frozenset(a for a in addresses if a is not None)


def _is_allowed_host(name: str, allowed: tuple[str, ...]) -> bool:
    names, addresses = _allowed(allowed)
    address = _address(name)
    if address is None:
        return name in names
    return address.is_loopback or address in addresses


def _foreign_host(header: str | None, allowed: tuple[str, ...]) -> Refusal | None:
    if header is None:
        return None  # HTTP/1.0 without Host: not a browser (every browser sends Host)
    parts = _split_host(header)
    if parts is not None and _is_allowed_host(parts[0], allowed):
        return None
    if parts is None:
        return Refusal(
            403, f"admin API: malformed Host header {_shown(header)}; use 127.0.0.1, [::1] or localhost"
        )
    return Refusal(
        403,
        f"admin API: Host {_shown(header)} is not a name of this server (a web page's DNS rebinding"
        " would send one); use 127.0.0.1, [::1] or localhost, or allow the name: vismock serve"
        f" {ALLOW_OPTION} {parts[0]} (or {ALLOW_SETTING}), or start it with --admin-token",
    )


def _foreign_origin(request: Request) -> Refusal | None:
    origin = request.headers.get("Origin")
    if origin is None or _same_origin(origin, request):
        return None
    return Refusal(
        403,
        f"admin API: refused a request from the web page at Origin {_shown(origin)}: only this"
        " server's own pages (the dashboard, /_vismock/ui/) may call it; other clients send no Origin",
    )


def _same_origin(origin: str, request: Request) -> bool:
    """Whether *origin* is the scheme-less host and port this request was sent to (``Host``)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in DEFAULT_PORTS or parts.path or parts.query or "@" in parts.netloc:
        return False  # "null" (a sandboxed frame, file:), another scheme, a malformed value
    theirs = _split_host(parts.netloc)
    ours = _split_host(request.host)
    if theirs is None or ours is None:
        return False
    ours_default = DEFAULT_PORTS.get(request.scheme, 80)
    return _endpoint(theirs, DEFAULT_PORTS[parts.scheme]) == _endpoint(ours, ours_default)


def _endpoint(parts: tuple[str, int | None], default_port: int) -> tuple[Address | str, int]:
    name, port = parts
    address = _address(name)
    return name if address is None else address, default_port if port is None else port


def _not_json(request: Request) -> Refusal | None:
    if request.method not in WRITES or request.mimetype == JSON:
        return None
    sent = f"'Content-Type: {_cut(request.content_type)}'" if request.content_type else "no Content-Type"
    return Refusal(
        415,
        f"admin API: send 'Content-Type: {JSON}' with every POST, PUT and PATCH, even one without a"
        f" body (this {request.method} had {sent}): a web page of any site can send the other types",
    )


def _shown(value: str) -> str:
    return repr(_cut(value))


def _cut(value: str) -> str:
    return value if len(value) <= SHOWN else value[:SHOWN] + "..."
