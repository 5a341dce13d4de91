"""Zone keys: an Ed25519 signing pair and an X25519 encryption pair per zone, and pins.

A key id is the hex SHA-256 of the raw 32-byte public key; a fingerprint is the first
128 bits of it in groups of four, short enough to read aloud over the phone.
"""

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync_format.errors import KeyFileError, RotationRefused

ZoneId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
HexKey = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
HexSignature = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{128}$")]

SIGNING_KEY_FILE = "signing.key"
ENCRYPTION_KEY_FILE = "encryption.key"
PUBLIC_KEYS_FILE = "public_keys.json"
TRUSTED_DIR = "trusted"
RETIRED_DIR = "retired"
PUBLIC_KEYS_FORMAT = "madoguchi-public-keys/1"
ROTATION_FORMAT = "madoguchi-key-rotation/1"
# Domain separation: a rotation signature can never be replayed as a bundle signature.
_ROTATION_CONTEXT = b"madoguchi key rotation v1\x00"


def key_id(public_key: bytes) -> str:
    """Return the key id of a raw public key: hex SHA-256 of its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()


def fingerprint(key_identifier: str) -> str:
    """Return a key id as eight groups of four hex digits, for reading aloud."""
    head = key_identifier[:32].upper()
    return " ".join(head[index : index + 4] for index in range(0, len(head), 4))


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class ZonePublicKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The public half of a zone's keys, as exported and pinned by the other zone."""

    format: Literal["madoguchi-public-keys/1"] = "madoguchi-public-keys/1"
    zone: ZoneId
    signing_key: HexKey
    signing_key_id: HexKey
    encryption_key: HexKey
    encryption_key_id: HexKey

    @classmethod
    def from_raw(cls, zone: str, signing_key: bytes, encryption_key: bytes) -> "ZonePublicKeys":
        """Build the export from raw 32-byte public keys, computing their ids."""
        return cls(
            zone=zone,
            signing_key=signing_key.hex(),
            signing_key_id=key_id(signing_key),
            encryption_key=encryption_key.hex(),
            encryption_key_id=key_id(encryption_key),
        )

    def verifier(self) -> Ed25519PublicKey:
        """Return the Ed25519 key that verifies this zone's signatures."""
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.signing_key))

    def encryption_public(self) -> X25519PublicKey:
        """Return the X25519 key that bundles for this zone are encrypted to."""
        return X25519PublicKey.from_public_bytes(bytes.fromhex(self.encryption_key))

    def check(self) -> "ZonePublicKeys":
        """Return self if the ids match the keys, else raise KeyFileError."""
        signing, encryption = bytes.fromhex(self.signing_key), bytes.fromhex(self.encryption_key)
        if key_id(signing) != self.signing_key_id or key_id(encryption) != self.encryption_key_id:
            msg = f"public keys of zone {self.zone!r}: a key id does not match its key"
            raise KeyFileError(msg)
        return self


@dataclass(frozen=True)
class ZoneSecretKeys:
    """A zone's private keys; retired encryption keys still open bundles sent before rotation."""

    zone: str
    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey
    retired_encryption: tuple[X25519PrivateKey, ...] = field(default=())

    @classmethod
    def generate(cls, zone: str) -> "ZoneSecretKeys":
        """Generate a fresh pair of key pairs for a zone (in memory only)."""
        return cls(zone, Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    def public(self) -> ZonePublicKeys:
        """Return the public keys to export."""
        return ZonePublicKeys.from_raw(
            self.zone,
            _raw_public(self.signing.public_key()),
            _raw_public(self.encryption.public_key()),
        )

    def encryption_key_for(self, key_identifier: str) -> X25519PrivateKey | None:
        """Return the current or retired encryption key with this id, if this zone holds it."""
        for key in (self.encryption, *self.retired_encryption):
            if key_id(_raw_public(key.public_key())) == key_identifier:
                return key
        return None


def _write_private(path: Path, key: Ed25519PrivateKey | X25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL refuses to overwrite; the mode is set at creation so the key is never readable.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        msg = f"{path} already exists; refusing to overwrite a private key"
        raise KeyFileError(msg) from error
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def _read_private(path: Path) -> Ed25519PrivateKey | X25519PrivateKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as error:
        msg = f"cannot read private key {path}: {error.strerror}"
        raise KeyFileError(msg) from error
    if mode & 0o077:
        msg = f"{path} is readable by other users (mode {mode & 0o777:o}); chmod 600 it"
        raise KeyFileError(msg)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        msg = f"{path} is not a PEM private key"
        raise KeyFileError(msg) from error
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        msg = f"{path} holds an unexpected key type"
        raise KeyFileError(msg)
    return key


def write_public_keys(path: Path, keys: ZonePublicKeys) -> None:
    """Write a public keys export file (JSON, safe to carry and publish)."""
    path.write_bytes(msgspec.json.format(msgspec.json.encode(keys)) + b"\n")


def read_public_keys(path: Path) -> ZonePublicKeys:
    """Read and check a public keys export file."""
    try:
        keys = msgspec.json.decode(path.read_bytes(), type=ZonePublicKeys)
    except OSError as error:
        msg = f"cannot read {path}: {error.strerror}"
        raise KeyFileError(msg) from error
    except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
        msg = f"{path} is not a public keys file: {error}"
        raise KeyFileError(msg) from error
    return keys.check()


def init_keys(directory: Path, zone: str) -> ZonePublicKeys:
    """Create a zone's key pairs in directory (private files mode 0600); never overwrite."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in (SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE, PUBLIC_KEYS_FILE):
        if (directory / name).exists():
            msg = f"{directory / name} already exists; refusing to overwrite zone keys"
            raise KeyFileError(msg)
    secret = ZoneSecretKeys.generate(zone)
    public = secret.public()
    msgspec.convert(msgspec.to_builtins(public), ZonePublicKeys)  # validates the zone id
    _write_private(directory / SIGNING_KEY_FILE, secret.signing)
    _write_private(directory / ENCRYPTION_KEY_FILE, secret.encryption)
    write_public_keys(directory / PUBLIC_KEYS_FILE, public)
    return public


def load_secret_keys(directory: Path) -> ZoneSecretKeys:
    """Load a zone's private keys (and retired encryption keys) from its key directory."""
    public = read_public_keys(directory / PUBLIC_KEYS_FILE)
    signing = _read_private(directory / SIGNING_KEY_FILE)
    encryption = _read_private(directory / ENCRYPTION_KEY_FILE)
    if not isinstance(signing, Ed25519PrivateKey) or not isinstance(encryption, X25519PrivateKey):
        msg = f"{directory}: signing.key must be Ed25519 and encryption.key X25519"
        raise KeyFileError(msg)
    retired: list[X25519PrivateKey] = []
    retired_root = directory / RETIRED_DIR
    if retired_root.is_dir():
        for path in sorted(retired_root.glob(f"*/{ENCRYPTION_KEY_FILE}")):
            key = _read_private(path)
            if isinstance(key, X25519PrivateKey):
                retired.append(key)
    secret = ZoneSecretKeys(public.zone, signing, encryption, tuple(retired))
    if secret.public() != public:
        msg = f"{directory}: private keys do not match {PUBLIC_KEYS_FILE}"
        raise KeyFileError(msg)
    return secret


class RotationBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a rotation statement says: this zone's old signing key hands over to new keys."""

    zone: ZoneId
    old_signing_key_id: HexKey
    new_keys: ZonePublicKeys
    created_at: datetime


class RotationStatement(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A rotation body (kept as its exact bytes) signed by both the old and the new key."""

    format: Literal["madoguchi-key-rotation/1"] = "madoguchi-key-rotation/1"
    body: msgspec.Raw
    old_signature: HexSignature
    new_signature: HexSignature

    def decoded_body(self) -> RotationBody:
        """Decode the signed body bytes."""
        try:
            return msgspec.json.decode(self.body, type=RotationBody)
        except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
            msg = f"rotation statement body is malformed: {error}"
            raise RotationRefused(msg) from error


def sign_rotation(old: ZoneSecretKeys, new: ZoneSecretKeys) -> RotationStatement:
    """Return a statement, signed by both signing keys, that new replaces old."""
    body = RotationBody(
        zone=old.zone,
        old_signing_key_id=old.public().signing_key_id,
        new_keys=new.public(),
        created_at=datetime.now(UTC),
    )
    body_bytes = msgspec.json.encode(body)
    message = _ROTATION_CONTEXT + body_bytes
    return RotationStatement(
        body=msgspec.Raw(body_bytes),
        old_signature=old.signing.sign(message).hex(),
        new_signature=new.signing.sign(message).hex(),
    )


def read_rotation(path: Path) -> RotationStatement:
    """Read a rotation statement file (not yet verified)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=RotationStatement)
    except OSError as error:
        msg = f"cannot read {path}: {error.strerror}"
        raise KeyFileError(msg) from error
    except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
        msg = f"{path} is not a rotation statement: {error}"
        raise RotationRefused(msg) from error


def rotate_keys(directory: Path) -> tuple[ZonePublicKeys, Path]:
    """Replace a zone's keys with new ones; keep the old ones retired; write the statement."""
    old = load_secret_keys(directory)
    new = ZoneSecretKeys.generate(old.zone)
    statement = sign_rotation(old, new)
    old_id = old.public().signing_key_id
    retired = directory / RETIRED_DIR / old_id[:16]
    retired.mkdir(mode=0o700, parents=True, exist_ok=False)
    for name in (SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE, PUBLIC_KEYS_FILE):
        (directory / name).rename(retired / name)
    _write_private(directory / SIGNING_KEY_FILE, new.signing)
    _write_private(directory / ENCRYPTION_KEY_FILE, new.encryption)
    public = new.public()
    write_public_keys(directory / PUBLIC_KEYS_FILE, public)
    statement_path = directory / f"rotation-{old_id[:16]}-{public.signing_key_id[:16]}.json"
    statement_path.write_bytes(msgspec.json.encode(statement) + b"\n")
    return public, statement_path


class TrustStore:
    """The other zones' public keys, pinned by the operator; looked up by signing key id."""

    def __init__(self, pinned: Iterable[ZonePublicKeys] = ()) -> None:
        self._by_zone: dict[str, ZonePublicKeys] = {}
        for keys in pinned:
            self.pin(keys)

    def pin(self, keys: ZonePublicKeys) -> None:
        """Pin a zone's keys; refuse to silently replace different keys already pinned."""
        keys.check()
        current = self._by_zone.get(keys.zone)
        if current is not None and current != keys:
            msg = (
                f"zone {keys.zone!r} is already pinned to signing key "
                f"{fingerprint(current.signing_key_id)}; use a rotation statement to change it"
            )
            raise KeyFileError(msg)
        self._by_zone[keys.zone] = keys

    def for_zone(self, zone: str) -> ZonePublicKeys | None:
        """Return the keys pinned for zone, if any."""
        return self._by_zone.get(zone)

    def signer(self, signing_key_id: str) -> ZonePublicKeys | None:
        """Return the pinned keys whose signing key has this id, if any."""
        for keys in self._by_zone.values():
            if keys.signing_key_id == signing_key_id:
                return keys
        return None

    def zones(self) -> list[ZonePublicKeys]:
        """Return every pinned zone's keys, sorted by zone."""
        return [self._by_zone[zone] for zone in sorted(self._by_zone)]

    def accept_rotation(self, statement: RotationStatement) -> ZonePublicKeys:
        """Re-pin a zone to new keys if both signatures verify (old against the pin)."""
        body = statement.decoded_body()
        pinned = self._by_zone.get(body.zone)
        if pinned is None or pinned.signing_key_id != body.old_signing_key_id:
            msg = f"rotation for zone {body.zone!r} does not start from the pinned signing key"
            raise RotationRefused(msg)
        new_keys = body.new_keys.check()
        if new_keys.zone != body.zone:
            msg = "rotation statement names a different zone for the new keys"
            raise RotationRefused(msg)
        message = _ROTATION_CONTEXT + bytes(statement.body)
        try:
            pinned.verifier().verify(bytes.fromhex(statement.old_signature), message)
            new_keys.verifier().verify(bytes.fromhex(statement.new_signature), message)
        except (InvalidSignature, ValueError) as error:
            msg = "rotation statement signatures do not verify against the old and new keys"
            raise RotationRefused(msg) from error
        self._by_zone[body.zone] = new_keys
        return new_keys

    def save(self, directory: Path) -> None:
        """Write every pin as ``trusted/<zone>.json`` under a key directory."""
        folder = directory / TRUSTED_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for keys in self._by_zone.values():
            write_public_keys(folder / f"{keys.zone}.json", keys)

    @classmethod
    def load(cls, directory: Path) -> "TrustStore":
        """Read the pins under a key directory (an empty store if there are none)."""
        store = cls()
        folder = directory / TRUSTED_DIR
        with contextlib.suppress(FileNotFoundError):
            for path in sorted(folder.glob("*.json")):
                store.pin(read_public_keys(path))
        return store
