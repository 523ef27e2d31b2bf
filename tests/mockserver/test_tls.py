"""mockserver/tls.py: the throwaway CA and server certificate, the user's own, thumbprints, contexts.

Real handshakes throughout: in memory (ssl.MemoryBIO) for host-name checks, and real HTTPS
servers (werkzeug with the module's SSLContext, granian with its files) for urllib, pyVmomi, the
``retrieve-task-status`` command and govc (when built at /tmp/govc).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.serving import make_server

from tests.support import DATA
from tests.support.components import required
from vismock.errors import VismockError
from vismock.mockserver import tls
from vismock.mockserver.app import create_app

GOVC = Path(os.environ.get("VISMOCK_GOVC", "/tmp/govc"))
GOVC_HOW = "build it with ../shared/anchors/govc/build.sh, or set VISMOCK_GOVC"
THUMBPRINT = re.compile(r"^(?:[0-9A-F]{2}:){19}[0-9A-F]{2}$")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tls.TLSFiles:
    return tls.generate(tmp_path_factory.mktemp("tls"), ["vismock.test", "10.9.8.7"])


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str) -> bytes:
    """A complete TLS handshake in memory; returns the server certificate the client saw (DER)."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(client_in, client_out, server_hostname=server_hostname)
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            peer = client_side.getpeercert(binary_form=True)
            assert peer is not None
            return peer
    raise AssertionError("the in-memory handshake did not finish")


def _strict_client(ca_file: Path) -> ssl.SSLContext:
    """The CA alone, with Python 3.13's stricter X.509 checks on whatever Python runs the tests."""
    context = tls.client_context(ca_file)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@contextmanager
def _https_server(app: Any, context: ssl.SSLContext) -> Iterator[int]:
    """*app* on a free loopback port over HTTPS (werkzeug's server, as the pytest plugin runs it)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _hello(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello over TLS"]


@pytest.fixture(scope="module")
def mock_over_https(generated: tls.TLSFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The real mock vCenter (all faces) over HTTPS with the generated certificate."""
    database = tmp_path_factory.mktemp("db") / "state.sqlite3"
    app = create_app({"VISMOCK_DB": str(database)})
    with _https_server(app, tls.server_context(generated)) as port:
        yield port


# -- generated files ---------------------------------------------------------------------------


def test_generate_writes_the_three_files_with_a_private_key_file(generated: tls.TLSFiles) -> None:
    folder = generated.cert_file.parent
    assert generated.ca_file == folder / "ca.pem"
    assert generated.cert_file == folder / "cert.pem"
    assert generated.key_file == folder / "key.pem"
    assert stat.S_IMODE(generated.key_file.stat().st_mode) == 0o600
    assert generated.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    ca = x509.load_pem_x509_certificate(generated.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(generated.cert_file.read_bytes())
    assert server.issuer == ca.subject != server.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # The CA's private key is nowhere: only these three files.
    assert sorted(path.name for path in folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert b"PRIVATE" not in generated.ca_file.read_bytes() + generated.cert_file.read_bytes()


def test_generate_covers_the_given_hosts_and_the_loopback_names(generated: tls.TLSFiles) -> None:
    server = x509.load_pem_x509_certificate(generated.cert_file.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["vismock.test", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.9.8.7", "127.0.0.1", "::1"]
    assert generated.hosts == ("vismock.test", "10.9.8.7", "localhost", "127.0.0.1", "::1")


def test_a_key_file_that_existed_with_wide_permissions_is_made_private(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("old")
    (tmp_path / "key.pem").chmod(0o644)
    files = tls.generate(tmp_path)
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    assert files.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_every_start_makes_a_new_ca(tmp_path: Path) -> None:
    first = tls.generate(tmp_path / "a")
    second = tls.generate(tmp_path / "b")
    assert first.ca_file is not None and second.ca_file is not None
    assert first.ca_file.read_bytes() != second.ca_file.read_bytes()
    assert first.thumbprint != second.thumbprint


def test_an_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(tls.TLSError, match=r"^cannot create the certificate folder .*file") as raised:
        tls.generate(blocker / "tls")
    assert "\n" not in str(raised.value)


# -- thumbprint ----------------------------------------------------------------------------------


def test_thumbprint_is_govcs_form_of_the_certificate_the_client_sees(generated: tls.TLSFiles) -> None:
    """govmomi's soap.ThumbprintSHA1: sha1 of PeerCertificates[0].Raw, "%02X" pairs joined by ":"."""
    assert generated.ca_file is not None
    assert THUMBPRINT.match(generated.thumbprint), generated.thumbprint
    seen = _handshake(tls.server_context(generated), _strict_client(generated.ca_file), "localhost")
    digest = hashlib.sha1(seen).hexdigest().upper()
    assert generated.thumbprint == ":".join(digest[i : i + 2] for i in range(0, 40, 2))


# -- verification against the CA ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "vismock.test", "10.9.8.7"])
def test_the_certificate_verifies_against_the_ca(generated: tls.TLSFiles, host: str) -> None:
    assert generated.ca_file is not None
    _handshake(tls.server_context(generated), _strict_client(generated.ca_file), host)


def test_a_host_not_in_the_certificate_fails_verification(generated: tls.TLSFiles) -> None:
    assert generated.ca_file is not None
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(tls.server_context(generated), _strict_client(generated.ca_file), "other.example")


def test_another_ca_does_not_verify_the_certificate(generated: tls.TLSFiles, tmp_path: Path) -> None:
    other = tls.generate(tmp_path)
    assert other.ca_file is not None
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        _handshake(tls.server_context(generated), _strict_client(other.ca_file), "127.0.0.1")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_the_server_context_refuses_tls_1_1(generated: tls.TLSFiles) -> None:
    assert generated.ca_file is not None
    client = tls.client_context(generated.ca_file)
    client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(tls.server_context(generated), client, "127.0.0.1")


# -- a real HTTPS server ----------------------------------------------------------------------------------


def test_werkzeug_over_https_is_reachable_with_the_ca_and_refused_without(generated: tls.TLSFiles) -> None:
    assert generated.ca_file is not None
    with _https_server(_hello, tls.server_context(generated)) as port:
        for host in ("127.0.0.1", "localhost"):
            context = tls.client_context(generated.ca_file)
            with urllib.request.urlopen(f"https://{host}:{port}/", context=context, timeout=10) as answer:
                assert answer.read() == b"hello over TLS"
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(
                f"https://127.0.0.1:{port}/", context=ssl.create_default_context(), timeout=10
            )
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in str(refused.value.reason)


def test_pyvmomi_smartconnect_trusts_the_ca_and_reads_a_task(
    generated: tls.TLSFiles, mock_over_https: int
) -> None:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    assert generated.ca_file is not None
    si = SmartConnect(
        host="127.0.0.1",
        port=mock_over_https,
        user="vismock",
        pwd="vismock",
        sslContext=tls.client_context(generated.ca_file),
    )
    try:
        assert vim.Task("task-525", si._stub).info.state == "success"
    finally:
        Disconnect(si)


def test_pyvmomi_smartconnect_fails_cleanly_on_an_untrusted_certificate(mock_over_https: int) -> None:
    from pyVim.connect import SmartConnect

    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        SmartConnect(
            host="127.0.0.1",
            port=mock_over_https,
            user="vismock",
            pwd="vismock",
            sslContext=ssl.create_default_context(),
        )


def _retrieve(port: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vismock",
            "retrieve-task-status",
            str(DATA / "seed" / "request.xml"),
            "--soap-url",
            f"https://127.0.0.1:{port}/sdk",
            "--transport",
            "https-rpc",
            "--user",
            "vismock",
            "--password-env",
            "VIS_PASSWORD",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VIS_PASSWORD": "vismock", **env},
        check=False,
    )


def test_retrieve_task_status_over_https_rpc_trusts_the_ca_through_ssl_cert_file(
    generated: tls.TLSFiles, mock_over_https: int
) -> None:
    """The command verifies with Python's default trust store, which SSL_CERT_FILE points at the CA."""
    assert generated.ca_file is not None
    result = _retrieve(mock_over_https, {"SSL_CERT_FILE": str(generated.ca_file)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<status>success</status>" in result.stdout
    assert "<key>task-525</key>" in result.stdout


def test_retrieve_task_status_without_the_ca_is_a_clear_certificate_error(mock_over_https: int) -> None:
    result = _retrieve(mock_over_https, {"SSL_CERT_FILE": str(DATA / "seed" / "request.xml")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Cannot verify the certificate of vCenter at https://127.0.0.1:" in result.stdout
    assert "unable to get local issuer certificate" in result.stdout
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _granian(files: tls.TLSFiles, app_folder: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """granian (vismock's default server) serving a trivial WSGI app with *files*, as serve will."""
    (app_folder / "hello_app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'hello from granian']\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--ssl-certificate",
            str(files.cert_file),
            "--ssl-keyfile",
            str(files.key_file),
            "--ssl-protocol-min",
            "tls1.2",
            "hello_app:app",
        ],
        cwd=app_folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get_when_up(url: str, context: ssl.SSLContext, process: subprocess.Popen[str]) -> bytes:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"granian exited with {process.returncode}: {output}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as answer:
                return answer.read()
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLError):
                raise
            time.sleep(0.1)
    raise AssertionError(f"granian did not answer {url} within 30 s")


@pytest.mark.slow
def test_granian_serves_the_generated_files(generated: tls.TLSFiles, tmp_path: Path) -> None:
    assert generated.ca_file is not None
    with _granian(generated, tmp_path) as (port, process):
        url = f"https://127.0.0.1:{port}/"
        assert _get_when_up(url, tls.client_context(generated.ca_file), process) == b"hello from granian"


@pytest.mark.slow
def test_granian_serves_a_users_pkcs1_key(tmp_path: Path) -> None:
    """A user's 'BEGIN RSA PRIVATE KEY' file, as load() accepts it (granian's help says PKCS#8 only)."""
    generated = tls.generate(tmp_path / "tls")
    assert generated.ca_file is not None
    key = serialization.load_pem_private_key(generated.key_file.read_bytes(), password=None)
    pkcs1 = tmp_path / "rsa-key.pem"
    pkcs1.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    assert pkcs1.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    with _granian(tls.load(generated.cert_file, pkcs1), tmp_path) as (port, process):
        url = f"https://localhost:{port}/"
        assert _get_when_up(url, tls.client_context(generated.ca_file), process) == b"hello from granian"


@pytest.mark.slow
def test_govc_pins_the_thumbprint_and_refuses_without_it(
    generated: tls.TLSFiles, mock_over_https: int, tmp_path: Path
) -> None:
    govc_binary = required(GOVC, "govc", GOVC_HOW)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"127.0.0.1:{mock_over_https} {generated.thumbprint}\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GOVMOMI_HOME": str(tmp_path / "govmomi"),
        "GOVC_URL": f"https://vismock:vismock@127.0.0.1:{mock_over_https}/sdk",
    }

    def govc(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(govc_binary), "about"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra},
            check=False,
        )

    pinned = govc(GOVC_TLS_KNOWN_HOSTS=str(known_hosts))
    assert pinned.returncode == 0, pinned.stderr
    assert "API type:     VirtualCenter" in pinned.stdout
    trusted = govc(GOVC_TLS_CA_CERTS=str(generated.ca_file))
    assert trusted.returncode == 0, trusted.stderr
    refused = govc()
    assert refused.returncode != 0
    assert "x509: certificate signed by unknown authority" in refused.stderr
    known_hosts.write_text(f"127.0.0.1:{mock_over_https} {'00:' * 19}00\n")
    mismatched = govc(GOVC_TLS_KNOWN_HOSTS=str(known_hosts))
    assert mismatched.returncode != 0
    assert "thumbprint does not match" in mismatched.stderr


# -- the user's own certificate ------------------------------------------------------------------------


def test_load_accepts_a_matching_pair_and_reads_its_thumbprint_and_hosts(generated: tls.TLSFiles) -> None:
    users = tls.load(generated.cert_file, generated.key_file)
    assert users.ca_file is None
    assert users.thumbprint == generated.thumbprint
    assert set(users.hosts) == set(generated.hosts)
    assert isinstance(tls.server_context(users), ssl.SSLContext)


def test_load_takes_a_chain_and_pins_its_first_certificate(generated: tls.TLSFiles, tmp_path: Path) -> None:
    assert generated.ca_file is not None
    chain = tmp_path / "chain.pem"
    chain.write_bytes(generated.cert_file.read_bytes() + generated.ca_file.read_bytes())
    assert tls.load(chain, generated.key_file).thumbprint == generated.thumbprint


def test_load_takes_an_ec_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert_file, key_file = _self_signed(key, tmp_path)
    files = tls.load(cert_file, key_file)
    assert THUMBPRINT.match(files.thumbprint)
    assert files.hosts == ("ec.test",)


def _self_signed(key: Any, folder: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("ec.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "ec-cert.pem", folder / "ec-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _refusal(cert: Path, key: Path) -> str:
    with pytest.raises(tls.TLSError) as raised:
        tls.load(cert, key)
    message = str(raised.value)
    assert isinstance(raised.value, VismockError)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_load_refuses_a_missing_file(generated: tls.TLSFiles, tmp_path: Path) -> None:
    assert (
        _refusal(tmp_path / "nope.pem", generated.key_file) == f"--cert {tmp_path / 'nope.pem'}: no such file"
    )
    assert (
        _refusal(generated.cert_file, tmp_path / "nope.pem") == f"--key {tmp_path / 'nope.pem'}: no such file"
    )


def test_load_refuses_a_folder(generated: tls.TLSFiles, tmp_path: Path) -> None:
    assert _refusal(tmp_path, generated.key_file) == f"--cert {tmp_path}: is a folder, not a PEM file"


def test_load_refuses_an_unreadable_file(
    generated: tls.TLSFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable = tmp_path / "key.pem"
    shutil.copy(generated.key_file, unreadable)
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse this one as the kernel would refuse others
        original = Path.read_bytes

        def read_bytes(path: Path) -> bytes:
            if path == unreadable:
                raise PermissionError(13, "Permission denied", str(path))
            return original(path)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert (
        _refusal(generated.cert_file, unreadable) == f"--key {unreadable}: cannot read it: permission denied"
    )


def test_load_refuses_files_that_are_not_pem(generated: tls.TLSFiles, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    assert _refusal(garbage, generated.key_file).startswith(f"--cert {garbage}: not a PEM certificate")
    assert _refusal(generated.cert_file, garbage).startswith(f"--key {garbage}: not a PEM private key")
    # The two swapped: a key given as the certificate.
    assert _refusal(generated.key_file, generated.cert_file).startswith(
        f"--cert {generated.key_file}: not a PEM certificate"
    )


def test_load_refuses_an_encrypted_key(generated: tls.TLSFiles, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(generated.key_file.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret-passphrase"),
        )
    )
    message = _refusal(generated.cert_file, encrypted)
    assert message == f"--key {encrypted}: the private key is encrypted; give an unencrypted PEM key"
    assert "secret-passphrase" not in message


def test_load_refuses_a_key_of_another_certificate(generated: tls.TLSFiles, tmp_path: Path) -> None:
    other_key = tmp_path / "other-key.pem"
    other_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert _refusal(generated.cert_file, other_key) == (
        f"--key {other_key} does not match the certificate in --cert {generated.cert_file}"
    )


# -- host names and the start-up line ----------------------------------------------------------------------


def test_san_hosts_for_a_bind_address() -> None:
    assert tls.san_hosts("127.0.0.1") == ("127.0.0.1", "localhost", "::1")
    assert tls.san_hosts("vc.example", ["VC.example", "alias.example"]) == (
        "vc.example",
        "localhost",
        "127.0.0.1",
        "::1",
        "alias.example",
    )
    assert tls.san_hosts("[::1]") == ("::1", "localhost", "127.0.0.1")


def test_san_hosts_for_a_wildcard_bind_names_this_machine() -> None:
    hosts = tls.san_hosts("0.0.0.0")
    assert "0.0.0.0" not in hosts
    assert hosts[0] == socket.gethostname()
    assert {"localhost", "127.0.0.1", "::1"} <= set(hosts)


def test_the_startup_line_gives_the_url_the_ca_file_and_the_thumbprint(generated: tls.TLSFiles) -> None:
    line = tls.startup_line("https://127.0.0.1:8443/", generated, server="granian")
    assert line == (
        f"vismock serving on https://127.0.0.1:8443/ (granian); CA file: {generated.ca_file}; "
        f"SHA-1 thumbprint: {generated.thumbprint}"
    )
    users = tls.load(generated.cert_file, generated.key_file)
    assert f"certificate: {generated.cert_file}; SHA-1 thumbprint: " in tls.startup_line("https://h/", users)
    assert "PRIVATE" not in line and str(generated.key_file) not in line
