"""Write, open and inspect bundle files: signed, encrypted, streamed record containers.

Sign, then encrypt: the Ed25519 signature covers the header, which carries the SHA-256
of the plaintext payload; the payload is encrypted to the recipient zone (see
``sync_format.stream``). Reading verifies the whole file before any record is released.
"""

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import msgspec
from cryptography.exceptions import InvalidSignature

from sync_format.errors import (
    BadSignature,
    MalformedRecord,
    SizeCapExceeded,
    SyncFormatError,
    Tampered,
    Truncated,
    UnknownSigner,
    WrongRecipient,
)
from sync_format.header import (
    MAX_FRAME_RECORDS,
    SIGNATURE_CONTEXT,
    SIGNATURE_SIZE,
    BundleHeader,
    Mode,
    check_header,
    decode_header,
    encode_envelope,
    envelope_size,
    header_capacity,
    read_envelope,
    read_exact,
)
from sync_format.keys import TrustStore, ZonePublicKeys, ZoneSecretKeys, fingerprint
from sync_format.stream import (
    FrameWriter,
    StreamEncryptor,
    array_length,
    ciphertext_length,
    decrypt_stream,
    recipient_payload_key,
    sender_payload_key,
    split_frames,
)
from sync_format.v1.records import (
    RECORD_TYPES,
    SCHEMA_VERSION,
    BundleKind,
    EligibilityRevoke,
    EligibilityUpsert,
    Receipt,
    Record,
    ReservationRecord,
    count_by_type,
    explain_error,
)

# Records per frame: large enough to keep per-frame costs small, small enough that a
# frame (and a decoded batch) stays well inside the caches and bounded memory.
FRAME_RECORDS = 8192

_DECODERS: dict[str, msgspec.msgpack.Decoder[list[Record]]] = {
    "eligibility": msgspec.msgpack.Decoder(list[EligibilityUpsert | EligibilityRevoke]),
    "reservations": msgspec.msgpack.Decoder(list[ReservationRecord]),
    "receipt": msgspec.msgpack.Decoder(list[Receipt]),
}


def fsync_directory(directory: Path) -> None:
    """Flush a folder's entries to disk, so that a rename in it survives a power cut."""
    # The rename is only durable (on a USB stick pulled right after) once the folder is synced.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_bundle(
    path: Path,
    *,
    kind: BundleKind,
    records: Iterable[Record],
    sender: ZoneSecretKeys,
    recipient: ZonePublicKeys,
    sequence: int,
    mode: Mode = "full",
    base_sequence: int | None = None,
    bundle_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    frame_records: int = FRAME_RECORDS,
    overwrite: bool = False,
) -> BundleHeader:
    """Stream records into a signed bundle encrypted to recipient, published atomically.

    Source and target zone come from the sender's and recipient's keys. Only ciphertext
    touches the disk: the payload goes to a temporary file beside path, behind space
    reserved for the envelope, which is filled in last; then it is synced and renamed.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} already exists"
        raise FileExistsError(msg)
    if not 1 <= frame_records <= MAX_FRAME_RECORDS:
        msg = f"frame_records must be within 1..{MAX_FRAME_RECORDS}"
        raise ValueError(msg)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    key, ephemeral_public = sender_payload_key(recipient.encryption_public())
    draft = _validated(
        BundleHeader(
            kind=kind,
            schema_version=SCHEMA_VERSION,
            source_zone=sender.zone,
            target_zone=recipient.zone,
            sender_key_id=sender.public().signing_key_id,
            recipient_key_id=recipient.encryption_key_id,
            bundle_id=bundle_id or uuid.uuid4(),
            sequence=sequence,
            mode=mode,
            base_sequence=base_sequence,
            created_at=created_at or datetime.now(UTC),
            record_counts={},
            payload_length=0,
            payload_sha256="0" * 64,
            ephemeral_key=ephemeral_public.hex(),
        )
    )
    capacity = header_capacity(draft)
    try:
        with partial.open("wb") as handle:
            handle.write(bytes(envelope_size(capacity)))
            encryptor = StreamEncryptor(key, handle)
            frames = FrameWriter(kind, encryptor, frame_records)
            frames.write_all(records)
            header = _validated(
                msgspec.structs.replace(
                    draft,
                    record_counts=frames.record_counts,
                    payload_length=frames.length,
                    payload_sha256=frames.hasher.hexdigest(),
                )
            )
            signed = encode_envelope(header, capacity)
            encryptor.finish(hashlib.sha256(signed).digest())
            handle.seek(0)
            handle.write(signed + sender.signing.sign(SIGNATURE_CONTEXT + signed))
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
        fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return header


def _validated(header: BundleHeader) -> BundleHeader:
    # Check what we sign with the same rules the reader applies.
    header = msgspec.convert(msgspec.to_builtins(header), BundleHeader)
    check_header(header)
    return header


@dataclass(frozen=True)
class _Envelope:
    signed: bytes
    signature: bytes
    header: BundleHeader
    signer: ZonePublicKeys

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.signed).hexdigest()


def _read_verified_envelope(handle: BinaryIO, trusted: TrustStore) -> _Envelope:
    signed, header_bytes, probe = read_envelope(handle)
    signature = read_exact(handle, SIGNATURE_SIZE, "signature")
    signer = trusted.signer(probe.sender_key_id)
    if signer is None:
        msg = f"signed by an unknown key {fingerprint(probe.sender_key_id) or '(none)'}"
        raise UnknownSigner(msg)
    try:
        signer.verifier().verify(signature, SIGNATURE_CONTEXT + signed)
    except InvalidSignature as error:
        msg = f"the header signature does not verify against zone {signer.zone!r}'s key"
        raise BadSignature(msg) from error
    header = decode_header(header_bytes)
    if header.source_zone != signer.zone:
        msg = f"key pinned for zone {signer.zone!r} signed a bundle from {header.source_zone!r}"
        raise UnknownSigner(msg)
    return _Envelope(signed, signature, header, signer)


def _payload_key(envelope: _Envelope, recipient: ZoneSecretKeys) -> bytes:
    header = envelope.header
    private = recipient.encryption_key_for(header.recipient_key_id)
    if header.target_zone != recipient.zone or private is None:
        msg = (
            f"the bundle is for zone {header.target_zone!r} key "
            f"{fingerprint(header.recipient_key_id)}, not this zone ({recipient.zone!r})"
        )
        raise WrongRecipient(msg)
    return recipient_payload_key(private, bytes.fromhex(header.ephemeral_key))


def _check_file_size(handle: BinaryIO, header: BundleHeader) -> None:
    here = handle.tell()
    size = os.fstat(handle.fileno()).st_size
    expected = here + ciphertext_length(header.payload_length)
    if size < expected:
        msg = f"the file is {expected - size} bytes shorter than its header says"
        raise Truncated(msg)
    if size > expected:
        msg = f"{size - expected} unexpected bytes follow the payload"
        raise Tampered(msg)


def _plaintext(handle: BinaryIO, envelope: _Envelope, key: bytes) -> Iterator[bytes]:
    header = envelope.header
    header_hash = hashlib.sha256(envelope.signed).digest()
    return decrypt_stream(handle, key, header.payload_length, header.payload_sha256, header_hash)


class VerifiedBundle:
    """A bundle whose signature, recipient, payload and digest have all been verified."""

    def __init__(self, path: Path, envelope: _Envelope, key: bytes) -> None:
        self.path = path
        self._envelope = envelope
        self._key = key

    @property
    def header(self) -> BundleHeader:
        """The verified header."""
        return self._envelope.header

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the signed envelope: identifies this bundle in receipts and marks."""
        return self._envelope.digest

    @property
    def signer(self) -> ZonePublicKeys:
        """The pinned keys that signed the bundle."""
        return self._envelope.signer

    def batches(self) -> Iterator[list[Record]]:
        """Decrypt again, re-checking everything, and yield records one frame at a time."""
        header = self.header
        decoder = _DECODERS[header.kind]
        types = RECORD_TYPES[header.kind]
        counts = [0] * len(types)
        with self.path.open("rb") as handle:
            again = handle.read(len(self._envelope.signed) + SIGNATURE_SIZE)
            if again != self._envelope.signed + self._envelope.signature:
                msg = "the file changed since it was verified"
                raise Tampered(msg)
            _check_file_size(handle, header)
            for index, frame in enumerate(
                split_frames(_plaintext(handle, self._envelope, self._key))
            ):
                try:
                    batch = decoder.decode(frame)
                except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
                    msg = f"frame {index}: {explain_error(header.kind, frame, error)}"
                    raise MalformedRecord(msg) from error
                found, _ = count_by_type(batch, types)  # the decoder allows only types
                counts = [a + b for a, b in zip(counts, found, strict=True)]
                yield batch
        read = {t.type_name: n for t, n in zip(types, counts, strict=True) if n}
        if read != {name: n for name, n in header.record_counts.items() if n}:
            msg = f"record counts {read} differ from the header's {header.record_counts}"
            raise MalformedRecord(msg)

    def records(self) -> Iterator[Record]:
        """Yield every record, in order, in bounded memory."""
        for batch in self.batches():
            yield from batch


def _verify_payload(handle: BinaryIO, envelope: _Envelope, key: bytes) -> None:
    # First pass: decrypt, hash and walk the frames, keeping no plaintext.
    _check_file_size(handle, envelope.header)
    total = 0
    for frame in split_frames(_plaintext(handle, envelope, key)):
        count = array_length(frame)
        if count > MAX_FRAME_RECORDS:
            msg = f"a frame claims {count} records, over the cap of {MAX_FRAME_RECORDS}"
            raise SizeCapExceeded(msg)
        total += count
    if total != envelope.header.record_total:
        msg = f"the payload holds {total} records, the header says {envelope.header.record_total}"
        raise MalformedRecord(msg)


def open_bundle(path: Path, *, recipient: ZoneSecretKeys, trusted: TrustStore) -> VerifiedBundle:
    """Verify a bundle completely (signature, recipient, every chunk, digest) and return it.

    Raises:
        SyncFormatError: a subclass naming the first reason the bundle is refused.
    """
    path = Path(path)
    with path.open("rb") as handle:
        envelope = _read_verified_envelope(handle, trusted)
        key = _payload_key(envelope, recipient)
        _verify_payload(handle, envelope, key)
    return VerifiedBundle(path, envelope, key)


@dataclass(frozen=True)
class Inspection:
    """What can be said about a bundle file without applying it."""

    path: Path
    file_size: int
    header: BundleHeader | None
    sender_key_id: str | None
    signer_zone: str | None
    signature_verified: bool
    payload_verified: bool
    problem: str | None
    error: type[SyncFormatError] | None

    @property
    def sender_fingerprint(self) -> str | None:
        """The sender's key fingerprint, for reading aloud."""
        return fingerprint(self.sender_key_id) if self.sender_key_id else None

    @property
    def exit_code(self) -> int:
        """0 when nothing was wrong, else the refusal's exit code."""
        return self.error.exit_code if self.error else 0


def inspect_bundle(
    path: Path, trusted: TrustStore | None = None, keys: ZoneSecretKeys | None = None
) -> Inspection:
    """Describe a bundle; verify the signature if trusted is given, the payload if keys too."""
    path = Path(path)
    header: BundleHeader | None = None
    sender_key_id: str | None = None
    signer_zone: str | None = None
    signature_ok = payload_ok = False
    problem: str | None = None
    error: type[SyncFormatError] | None = None
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            _signed, header_bytes, probe = read_envelope(handle)
            sender_key_id = probe.sender_key_id or None
            header = decode_header(header_bytes)
            if trusted is not None:
                handle.seek(0)
                envelope = _read_verified_envelope(handle, trusted)
                signer_zone, signature_ok = envelope.signer.zone, True
                if keys is not None:
                    _verify_payload(handle, envelope, _payload_key(envelope, keys))
                    payload_ok = True
        except SyncFormatError as refusal:
            problem, error = str(refusal), type(refusal)
    return Inspection(
        path, size, header, sender_key_id, signer_zone, signature_ok, payload_ok, problem, error
    )
