"""``vismock run REQUEST.xml`` (and ``vismock retrieve-task-status REQUEST.xml``): run a VIS operation
against a vCenter, as the adapter does.

The request's own ``soap-url``, ``transport``, ``user-name`` and ``password``
win; the options are the adapter's configured defaults for empty fields. The
response envelope goes to stdout. Exit status: 0 success, 1 an error envelope
(unknown task, bad credentials, unreachable host, timeout), 2 an unreadable
request or bad options.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path
from typing import Any

from vismock.adapter.vcenter import DEFAULT_TIMEOUT_SECONDS, Settings, run_over_soap
from vismock.codec import CodecError, default_codec
from vismock.codec.parsing import ParseFailure
from vismock.schemas import REQUEST_ROOT

PASSWORD_ENV = "VISMOCK_VCENTER_PASSWORD"


def register(subparsers: Any) -> None:
    _add_arguments(
        subparsers.add_parser(
            "run",
            help="run any VIS operation (Retrieve_Task_Status, Power_Off_VM...) against a vCenter over SOAP",
            description="Execute a <vmware-infrastructure-request> of any operation in the catalog the way "
            "the VIS adapter does: connect to soap-url, log in, run the operation (read tasks, power a VM "
            "on or off...) and print the response envelope.",
        ),
        "run",
    )
    _add_arguments(
        subparsers.add_parser(
            "retrieve-task-status",
            help="run Retrieve_Task_Status against a vCenter (or the mock's /sdk) over SOAP",
            description="Execute a <vmware-infrastructure-request> for Retrieve_Task_Status the way the VIS "
            "adapter does: connect to soap-url, log in, read each task's info and print the response "
            "envelope. (`vismock run` runs any operation the same way.)",
        ),
        "retrieve-task-status",
    )


def _add_arguments(parser: Any, name: str) -> None:
    parser.add_argument("request", metavar="REQUEST.xml", help="the request envelope ('-' for stdin)")
    add_connection_options(parser, when=" when the request has none")
    parser.set_defaults(handler=run, command_name=name)


def add_connection_options(parser: argparse.ArgumentParser, *, when: str = "") -> None:
    """The options that say how to reach and log in to a vCenter (every command talking to one
    uses them: retrieve-task-status, record); *when* qualifies the help (" when the request has none")."""
    parser.add_argument("--soap-url", help=f"vCenter SOAP URL{when} (https://HOST[:PORT]/sdk)")
    parser.add_argument("--transport", choices=("https-rpc", "http-rpc"), help=f"https or http{when}")
    parser.add_argument("--user", help=f"user name{when}")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", metavar="FILE", help=f"file holding the password{when}")
    secret.add_argument(
        "--password-env",
        metavar="NAME",
        help=f"environment variable holding the password{when} (default {PASSWORD_ENV}, if set)",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--ca-file",
        metavar="FILE",
        help="trust the CA certificate(s) in this PEM file (vismock serve --tls prints its CA file)",
    )
    trust.add_argument(
        "--insecure", action="store_true", help="accept a self-signed or unverifiable certificate"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to wait for vCenter on each call (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = connection_settings(args)
        request = _decoded_request(args.request)
    except CodecError as error:
        print(f"vismock {_command(args)}: {args.request}: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"vismock {_command(args)}: {error}", file=sys.stderr)
        return 2
    response = run_over_soap(request, settings)
    sys.stdout.buffer.write(default_codec().encode(response, root="vmware-infrastructure-response"))
    sys.stdout.flush()
    return 0 if response["metadata"]["status"] == "success" else 1


def _command(args: argparse.Namespace) -> str:
    return str(getattr(args, "command_name", "run"))


def _decoded_request(name: str) -> dict[str, Any]:
    """The request envelope in file *name*: a usage error when it is another document (a response)."""
    codec = default_codec()
    try:
        tree = codec.parse(_read_request(name))
    except ParseFailure as failure:
        where = f"{name}:{failure.issue.line}" if failure.issue.line else name
        raise ValueError(f"{where}: {failure.issue.reason}") from None
    root = str(tree.getroot().tag)
    if root != REQUEST_ROOT:
        raise ValueError(f"{name}: the root element is <{root}>; expected a <{REQUEST_ROOT}>")
    return codec.decode_tree(tree)


def _read_request(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def connection_settings(args: argparse.Namespace) -> Settings:
    """The Settings the options of :func:`add_connection_options` give (ValueError when they are bad)."""
    if args.timeout <= 0:
        raise ValueError("--timeout must be a positive number of seconds")
    return Settings(
        soap_url=args.soap_url,
        transport=args.transport,
        user=args.user,
        password=_default_password(args),
        insecure=args.insecure,
        timeout=args.timeout,
        ca_file=_checked_ca_file(args.ca_file),
    )


def _checked_ca_file(name: str | None) -> str | None:
    """*name* once it is known to hold a PEM certificate ssl can trust (else a usage error)."""
    if name is None:
        return None
    try:
        ssl.create_default_context(cafile=name)
    except FileNotFoundError:
        raise ValueError(f"--ca-file {name}: no such file") from None
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise ValueError(f"--ca-file {name}: not a PEM CA certificate ({reason})") from None
    return name


def _default_password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
    if args.password_env is None:
        return os.environ.get(PASSWORD_ENV)  # the default variable may be unset: no default password
    if args.password_env not in os.environ:
        raise ValueError(f"--password-env {args.password_env}: that environment variable is not set")
    return os.environ[args.password_env]
