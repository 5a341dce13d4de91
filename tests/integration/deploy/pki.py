"""Throwaway certificates for the nginx tests, made with ``cryptography``.

The city's CA signs both proxies' server certificates and one office terminal's client
certificate; a second, unrelated CA signs a client certificate nginx must not accept.
File names are those deploy/nginx/*.conf name under /etc/madoguchi/tls/.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pki:
    """Where the certificates are, and the terminal's fingerprint as nginx passes it."""

    folder: Path
    city_ca: Path
    terminal_cert: Path
    terminal_key: Path
    foreign_cert: Path
    foreign_key: Path
    terminal_fingerprint: str


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "見本県デモ市"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: str, issuer: x509.Name, key: _Key) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _ca(common_name: str) -> tuple[x509.Certificate, _Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _leaf(
    common_name: str, ca: tuple[x509.Certificate, _Key], *, server: bool
) -> tuple[x509.Certificate, _Key]:
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(common_name, ca_certificate.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(folder: Path, stem: str, certificate: x509.Certificate, key: _Key | None) -> Path:
    path = folder / f"{stem}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = folder / f"{stem}.key"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
    return path


def make_pki(folder: Path) -> Pki:
    """Write the city CA, both proxies' server certificates and two client certificates."""
    folder.mkdir(parents=True, exist_ok=True)
    city = _ca("Demo City Terminal CA")
    city_ca = _write(folder, "terminal-ca", city[0], None)
    for zone in ("issuance", "reservation"):
        _write(folder, zone, *_leaf(f"{zone}.madoguchi.test", city, server=True))
    terminal = _leaf("counter-1", city, server=False)
    foreign = _leaf("counter-1", _ca("Some Other CA"), server=False)
    return Pki(
        folder=folder,
        city_ca=city_ca,
        terminal_cert=_write(folder, "terminal", *terminal),
        terminal_key=folder / "terminal.key",
        foreign_cert=_write(folder, "foreign", *foreign),
        foreign_key=folder / "foreign.key",
        # nginx's $ssl_client_fingerprint: SHA-1 of the DER certificate, lower-case hex.
        terminal_fingerprint=terminal[0].fingerprint(hashes.SHA1()).hex(),
    )
