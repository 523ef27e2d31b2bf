"""``vismock serve --tls`` and ``--cert/--key`` for real: the start-up line, pyVmomi, govc, the
``retrieve-task-status`` command over ``https-rpc``, an adapter-face client, TLS versions, clients
that do not trust the certificate, the plugin's ``https_url``, and the refusals."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import vismock.codec as codec
from tests.support import DATA
from tests.support.components import required
from tests.support.served import Served, serve_command, served
from vismock.mockserver import tls
from vismock.mockserver.pytest_plugin import VismockServer

GOVC = Path(os.environ.get("VISMOCK_GOVC", "/tmp/govc"))
GOVC_HOW = "build it with ../shared/anchors/govc/build.sh, or set VISMOCK_GOVC"
SEED_REQUEST = (DATA / "seed" / "request.xml").read_bytes()
STARTUP = re.compile(
    r"^vismock serving on https://127\.0\.0\.1:(\d+)/ \(granian\); "
    r"CA file: (\S+); SHA-1 thumbprint: ((?:[0-9A-F]{2}:){19}[0-9A-F]{2})$",
    re.MULTILINE,
)

pytestmark = pytest.mark.slow  # real `vismock serve` processes


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serve-tls")
    arguments = [
        "--tls",
        "--tls-dir",
        str(folder / "tls"),
        "--db",
        str(folder / "s.sqlite3"),
    ]
    with served(*arguments) as server:
        yield server


def _startup(mock: Served) -> tuple[int, Path, str]:
    found = STARTUP.search(mock.output)
    assert found, mock.output
    return int(found.group(1)), Path(found.group(2)), found.group(3)


def _served_certificate(port: int) -> bytes:
    """The DER certificate the server presents (not verified: this is what a pinning client sees)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_the_startup_line_gives_the_https_url_the_ca_file_and_the_thumbprint(mock: Served) -> None:
    port, ca_file, thumbprint = _startup(mock)
    assert port == mock.port
    assert ca_file.is_file() and ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    served = hashlib.sha1(_served_certificate(port)).hexdigest().upper()
    assert thumbprint == ":".join(served[i : i + 2] for i in range(0, len(served), 2))


def test_an_adapter_face_client_trusting_the_ca_gets_its_answer(mock: Served) -> None:
    _, ca_file, _ = _startup(mock)
    request = urllib.request.Request(
        f"https://127.0.0.1:{mock.port}/adapter", data=SEED_REQUEST, headers={"Content-Type": "text/xml"}
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        body = answer.read()
    info = codec.decode(body)["RetrieveTaskStatusResponse"]["returnval"][0]["propSet"]["TaskInfo"]
    assert (info["key"], info["state"]) == ("task-525", "success")
    # localhost is in the certificate too
    with urllib.request.urlopen(
        f"https://localhost:{mock.port}/_vismock/health", context=context, timeout=10
    ) as answer:
        assert answer.status == 200


def test_a_client_that_does_not_trust_the_certificate_gets_a_clear_tls_error(mock: Served) -> None:
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(
            f"https://127.0.0.1:{mock.port}/_vismock/health", context=ssl.create_default_context(), timeout=10
        )
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert "certificate verify failed: unable to get local issuer certificate" in str(refused.value.reason)


@pytest.mark.parametrize(("version", "accepted"), [("TLSv1_2", True), ("TLSv1_3", True), ("TLSv1_1", False)])
def test_tls_1_2_and_1_3_are_accepted_and_older_refused(mock: Served, version: str, accepted: bool) -> None:
    """TLS 1.2 for older clients (Java 8, the BMC adapter's JVM): granian's own minimum is 1.3."""
    _, ca_file, _ = _startup(mock)
    context = ssl.create_default_context(cafile=str(ca_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1: deprecated, on purpose
        context.minimum_version = context.maximum_version = ssl.TLSVersion[version]
    if version == "TLSv1_1":
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
    with socket.create_connection(("127.0.0.1", mock.port), timeout=10) as raw:
        if accepted:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped:
                assert wrapped.version() == version.replace("_", ".")
        else:
            with (
                pytest.raises(ssl.SSLError) as refused,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                pass
            assert "ALERT_HANDSHAKE_FAILURE" in str(refused.value)  # the server's alert: it refused


def test_pyvmomi_smartconnect_with_the_ca(mock: Served) -> None:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    _, ca_file, _ = _startup(mock)
    si = SmartConnect(
        host="127.0.0.1",
        port=mock.port,
        user="vismock",
        pwd="vismock",
        sslContext=tls.client_context(ca_file),
    )
    try:
        assert si.content.about.apiType == "VirtualCenter"
        assert vim.Task("task-525", si._stub).info.state == "success"
    finally:
        Disconnect(si)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        SmartConnect(
            host="127.0.0.1",
            port=mock.port,
            user="vismock",
            pwd="vismock",
            sslContext=ssl.create_default_context(),
        )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_pyvmomi_without_an_ssl_context_connects_to_loopback_unverified(mock: Served, host: str) -> None:
    """What docs/operations.md warns about: pyVmomi turns verification off for loopback host names
    when no sslContext is given, so this connects although nothing here trusts the CA."""
    from pyVim.connect import Disconnect, SmartConnect

    si = SmartConnect(host=host, port=mock.port, user="vismock", pwd="vismock")
    try:
        assert si.content.about.apiType == "VirtualCenter"
    finally:
        Disconnect(si)


def _curl(port: int, *options: str) -> subprocess.CompletedProcess[str]:
    binary = required(Path(shutil.which("curl") or "/usr/bin/curl"), "curl", "apt-get install curl")
    command = [str(binary), "-sS", *options, f"https://127.0.0.1:{port}/_vismock/health"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_curl_trusts_the_ca_with_cacert_and_refuses_without(mock: Served) -> None:
    _, ca_file, _ = _startup(mock)
    trusted = _curl(mock.port, "--cacert", str(ca_file))
    assert trusted.returncode == 0, trusted.stderr
    assert '"status":"ok"' in trusted.stdout.replace(" ", "")
    refused = _curl(mock.port)
    assert refused.returncode == 60
    assert "SSL certificate problem: unable to get local issuer certificate" in refused.stderr


def _retrieve(port: int, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "vismock", "retrieve-task-status", str(DATA / "seed" / "request.xml")]
    command += ["--soap-url", f"https://127.0.0.1:{port}/sdk/vim", "--transport", "https-rpc"]
    command += ["--user", "vismock", "--password-env", "VIS_PASSWORD", *options]
    environment = {**os.environ, "VIS_PASSWORD": "vismock"}
    environment.pop("SSL_CERT_FILE", None)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment, check=False)


def test_retrieve_task_status_over_https_rpc_with_the_ca_file(mock: Served) -> None:
    _, ca_file, _ = _startup(mock)
    result = _retrieve(mock.port, "--ca-file", str(ca_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<status>success</status>" in result.stdout and "<key>task-525</key>" in result.stdout


def test_retrieve_task_status_without_the_ca_says_how_to_trust_it(mock: Served) -> None:
    result = _retrieve(mock.port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"Cannot verify the certificate of vCenter at https://127.0.0.1:{mock.port}/sdk/vim" in result.stdout
    )
    assert "trust its CA with --ca-file" in result.stdout
    assert "Traceback" not in result.stderr


def test_retrieve_task_status_refuses_a_ca_file_that_is_not_one(mock: Served, tmp_path: Path) -> None:
    missing = _retrieve(mock.port, "--ca-file", str(tmp_path / "nope.pem"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        f"vismock retrieve-task-status: --ca-file {tmp_path / 'nope.pem'}: no such file",
    )
    not_pem = _retrieve(mock.port, "--ca-file", str(DATA / "seed" / "request.xml"))
    assert not_pem.returncode == 2
    assert not_pem.stderr.startswith(
        f"vismock retrieve-task-status: --ca-file {DATA / 'seed' / 'request.xml'}:"
    )
    assert "not a PEM CA certificate" in not_pem.stderr


def _govc(
    arguments: list[str], port: int, home: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    binary = required(GOVC, "govc", GOVC_HOW)
    return subprocess.run(
        [str(binary), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": os.environ.get("PATH", ""),
            "GOVMOMI_HOME": str(home),
            "GOVC_URL": f"https://vismock:vismock@127.0.0.1:{port}/sdk",
            **environment,
        },
        check=False,
    )


def test_govc_pins_the_printed_thumbprint(mock: Served, tmp_path: Path) -> None:
    _, ca_file, thumbprint = _startup(mock)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"127.0.0.1:{mock.port} {thumbprint}\n")
    pinned = _govc(["about"], mock.port, tmp_path, GOVC_TLS_KNOWN_HOSTS=str(known_hosts))
    assert pinned.returncode == 0, pinned.stderr
    assert "API type:     VirtualCenter" in pinned.stdout
    trusted = _govc(["about"], mock.port, tmp_path, GOVC_TLS_CA_CERTS=str(ca_file))
    assert trusted.returncode == 0, trusted.stderr
    refused = _govc(["about"], mock.port, tmp_path)
    assert refused.returncode != 0
    assert "x509: certificate signed by unknown authority" in refused.stderr


# -- the user's own certificate, other servers, refusals ---------------------------------------------


def test_the_users_own_certificate_and_key(tmp_path: Path) -> None:
    """--cert/--key: served as given; the start-up line names the certificate instead of a CA."""
    own = tls.generate(tmp_path / "own", ["mock.example.test"])
    assert own.ca_file is not None
    context = ssl.create_default_context(cafile=str(own.ca_file))
    arguments = [
        "--cert",
        str(own.cert_file),
        "--key",
        str(own.key_file),
        "--db",
        str(tmp_path / "s.sqlite3"),
    ]
    with served(*arguments, context=context) as mock:
        line = next(line for line in mock.output.splitlines() if line.startswith("vismock serving on"))
        assert line == (
            f"vismock serving on https://127.0.0.1:{mock.port}/ (granian); "
            f"certificate: {own.cert_file}; SHA-1 thumbprint: {own.thumbprint}"
        )
        status, body = mock.call("POST", "/adapter", SEED_REQUEST)
        assert status == 200 and b"<key>task-525</key>" in body
        assert mock.stop(signal.SIGTERM) == 0


def test_gunicorn_serves_tls_too(tmp_path: Path) -> None:
    arguments = ["--tls", "--server", "gunicorn", "--db", str(tmp_path / "s.sqlite3")]
    with served(*arguments) as mock:
        assert mock.call("GET", "/_vismock/health")["status"] == "ok"
        status, body = mock.call("POST", "/adapter", SEED_REQUEST)
        assert status == 200 and b"<key>task-525</key>" in body
        ca_folder = Path(re.search(r"CA file: (\S+);", mock.output).group(1)).parent  # type: ignore[union-attr]
        assert mock.stop(signal.SIGTERM) == 0
    assert not ca_folder.exists()  # the temporary certificate folder goes with the server


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--tls", "--server", "waitress"],
            "waitress cannot serve TLS; use --server granian (the default) or gunicorn",
        ),
        (["--cert", "c.pem"], "--cert needs --key too (the certificate and its private key)"),
        (["--key", "k.pem"], "--key needs --cert too (the certificate and its private key)"),
        (["--tls-dir", "x"], "--tls-dir needs --tls"),
        (["--cert", "c.pem", "--key", "k.pem"], "--cert c.pem: no such file"),
    ],
)
def test_tls_start_up_errors_are_one_line_and_exit_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    finished = subprocess.run(
        serve_command("--port", "0", *arguments), capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (finished.returncode, finished.stderr.strip(), finished.stdout) == (
        2,
        f"vismock serve: {message}",
        "",
    )


# -- the pytest plugin ----------------------------------------------------------------------------


def test_the_plugin_serves_the_same_mock_over_https(vismock_server: VismockServer) -> None:
    assert vismock_server.https_url.startswith("https://127.0.0.1:")
    assert vismock_server.ca_file.is_file()
    context = ssl.create_default_context(cafile=str(vismock_server.ca_file))
    request = urllib.request.Request(
        f"{vismock_server.https_url}/adapter", data=SEED_REQUEST, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        assert b"<key>task-525</key>" in answer.read()
    vismock_server.assert_requested(task="task-525", times=1)  # the one state, the one journal
    served_thumbprint = hashlib.sha1(_served_certificate(int(vismock_server.https_url.rsplit(":", 1)[1])))
    assert vismock_server.thumbprint.replace(":", "") == served_thumbprint.hexdigest().upper()
