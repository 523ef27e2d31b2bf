"""HTTPS for ``vismock serve --tls``: a throwaway CA and server certificate, or the user's own.

``generate(folder, hosts)`` makes a new CA and a server certificate signed by it (SANs: the
given host names and addresses, ``localhost``, ``127.0.0.1`` and ``::1``) and writes
``ca.pem`` (what clients trust), ``cert.pem`` and ``key.pem`` (mode 0600) into *folder*. The CA's
private key is never written anywhere: nothing else can be signed with that CA once the
certificate exists. ``load(cert, key)`` checks the user's own ``--cert``/``--key`` files.
Both return :class:`TLSFiles`, whose ``thumbprint`` is the server certificate's SHA-1 thumbprint
in the form govc pins (``GOVC_TLS_KNOWN_HOSTS`` lines ``host:port THUMBPRINT``;
govmomi's ``soap.ThumbprintSHA1``: uppercase hex pairs joined by colons).
``server_context(files)`` is an ``ssl.SSLContext`` for a Python server (werkzeug);
granian and gunicorn take the two file paths. Every problem is a :class:`TLSError`, one line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vismock.errors import VismockError

CA_FILE = "ca.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 30  # a throwaway certificate: a new one at every start
CLOCK_SKEW = dt.timedelta(hours=1)  # valid from an hour ago, for clients whose clock is behind
RSA_BITS = 2048  # what vCenter itself uses; every vim25 client (Java's included) takes it
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "*"})


class TLSError(VismockError):
    """A certificate or key that cannot be used (missing, unreadable, not PEM, mismatched)."""


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """Where a server's certificate and key are, and what clients pin or trust."""

    cert_file: Path  # PEM: the server certificate (then any intermediates)
    key_file: Path  # PEM: its private key
    ca_file: Path | None  # PEM: the CA clients trust; None for the user's own certificate
    thumbprint: str  # SHA-1 of the server certificate, "AB:CD:..." (govc's form)
    hosts: tuple[str, ...]  # the DNS names and IP addresses the certificate is valid for


def thumbprint_sha1(certificate: x509.Certificate) -> str:
    """The SHA-1 thumbprint as govc and vCenter show it: ``"3F:0A:...:9C"`` (20 uppercase pairs)."""
    return ":".join(f"{byte:02X}" for byte in certificate.fingerprint(hashes.SHA1()))


def san_hosts(bind_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The names a certificate for a server listening on *bind_host* should carry.

    Always ``localhost``, ``127.0.0.1`` and ``::1``; the bind address itself unless it is a
    wildcard (``0.0.0.0``, ``::``), in which case this machine's host names instead; then *extra*.
    """
    hosts: list[str] = []
    if bind_host.strip("[]") in WILDCARD_ADDRESSES:
        hosts += [socket.gethostname(), socket.getfqdn()]
    else:
        hosts.append(bind_host.strip("[]"))
    return _unique([*hosts, *DEFAULT_HOSTS, *extra])


def _unique(hosts: Iterable[str]) -> tuple[str, ...]:
    """*hosts* without blanks and repeats (host names compared case-insensitively), in order."""
    unique: dict[str, str] = {}
    for host in hosts:
        if host:
            unique.setdefault(host.lower(), host)
    return tuple(unique.values())


def generate(
    folder: str | os.PathLike[str], hosts: Sequence[str] = DEFAULT_HOSTS, *, days: int = VALID_DAYS
) -> TLSFiles:
    """A new throwaway CA and a server certificate for *hosts* (plus the loopback names).

    Writes ``ca.pem``, ``cert.pem`` and ``key.pem`` (mode 0600) into *folder*, created if missing.
    """
    names = _unique([*(host.strip("[]") for host in hosts), *DEFAULT_HOSTS])
    target = Path(folder)
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise TLSError(f"cannot create the certificate folder {target}: {_reason(error)}") from None
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vismock"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"vismock throwaway CA {now:%Y-%m-%d %H:%M:%S}Z"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vismock"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(
        cert_file=target / CERT_FILE,
        key_file=target / KEY_FILE,
        ca_file=target / CA_FILE,
        thumbprint=thumbprint_sha1(server_cert),
        hosts=names,
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        _write(files.key_file, key_pem, private=True)
        _write(files.cert_file, server_cert.public_bytes(serialization.Encoding.PEM))
        _write(target / CA_FILE, ca_cert.public_bytes(serialization.Encoding.PEM))
    except OSError as error:
        raise TLSError(f"cannot write the certificate files in {target}: {_reason(error)}") from None
    return files


def load(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]) -> TLSFiles:
    """The user's own certificate (``--cert``, PEM; intermediates may follow) and key (``--key``).

    Refuses, each in one line naming the option and the file: a missing or unreadable file, a
    file that is not a PEM certificate or an unencrypted PEM private key, a key that does not
    belong to the certificate.
    """
    cert_path, key_path = Path(cert_file), Path(key_file)
    cert_pem = _read("--cert", cert_path)
    key_pem = _read("--key", key_path)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise TLSError(f"--cert {cert_path}: not a PEM certificate ('-----BEGIN CERTIFICATE-----')") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TLSError(
            f"--key {key_path}: the private key is encrypted; give an unencrypted PEM key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSError(
            f"--key {key_path}: not a PEM private key ('-----BEGIN ... PRIVATE KEY-----')"
        ) from None
    leaf = chain[0]
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise TLSError(f"--key {key_path} does not match the certificate in --cert {cert_path}")
    return TLSFiles(
        cert_file=cert_path,
        key_file=key_path,
        ca_file=None,
        thumbprint=thumbprint_sha1(leaf),
        hosts=_certificate_hosts(leaf),
    )


def server_context(files: TLSFiles) -> ssl.SSLContext:
    """A server-side ``ssl.SSLContext`` (TLS 1.2 or newer) serving *files*' certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as error:
        raise TLSError(f"cannot use {files.cert_file} with {files.key_file}: {_reason(error)}") from None
    return context


def client_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client-side context that trusts *ca_file* only (for tests and pyVmomi's ``sslContext``)."""
    return ssl.create_default_context(cafile=os.fspath(ca_file))


def startup_line(url: str, files: TLSFiles, *, server: str = "granian") -> str:
    """``vismock serving on https://...`` with what a client needs: the CA file and the thumbprint."""
    trust = f"CA file: {files.ca_file}" if files.ca_file is not None else f"certificate: {files.cert_file}"
    return f"vismock serving on {url} ({server}); {trust}; SHA-1 thumbprint: {files.thumbprint}"


# -- helpers


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _certificate_hosts(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        [
            *names.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in names.get_values_for_type(x509.IPAddress)),
        ]
    )


def _public_der(key: object) -> bytes:
    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        return b""
    der: bytes = public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _read(option: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TLSError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise TLSError(f"{option} {path}: is a folder, not a PEM file") from None
    except OSError as error:
        raise TLSError(f"{option} {path}: cannot read it: {_reason(error)}") from None


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write *data*; a private file is created 0600 and made 0600 if it already existed."""
    mode = 0o600 if private else 0o644
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as stream:
        if private:
            os.fchmod(stream.fileno(), mode)
        stream.write(data)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
