r"""The bundle envelope: magic line, major version, and the strict signed header.

Layout of a bundle file (all integers big-endian)::

    b"MADOGUCHI-BUNDLE\n"    magic line
    u16 format major, u32 header length, u32 padding length
    header                   MessagePack map (BundleHeader), strict
    padding                  zero bytes (at most MAX_PADDING_BYTES)
    64 bytes                 Ed25519 signature over everything above
    payload                  STREAM chunks (see sync_format.stream)

The writer reserves the envelope's space before the payload (the header's widest
possible encoding, see ``header_capacity``) and fills it in once the payload's length
and digest are known; the padding is what the real header left unused. It is signed
like the rest, and must be zeros.
"""

import struct
import uuid
from typing import Annotated, BinaryIO, Literal

import msgspec

from sync_format.errors import (
    BadMagic,
    MalformedHeader,
    SizeCapExceeded,
    Truncated,
    UnsupportedVersion,
)
from sync_format.keys import HexKey, ZoneId
from sync_format.v1.records import (
    RECORD_TYPES,
    AwareDatetime,
    BundleKind,
    Count,
    HexDigest,
    Sequence,
    record_type_name,
)

MAGIC = b"MADOGUCHI-BUNDLE\n"
FORMAT_MAJOR = 1
PRELUDE = struct.Struct(">HII")
SIGNATURE_SIZE = 64
# Capabilities this reader implements; a header requiring any other is refused unread.
SUPPORTED_CAPABILITIES: frozenset[str] = frozenset()
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
# Domain separation: a bundle signature can never be replayed as any other statement.
SIGNATURE_CONTEXT = b"madoguchi bundle header v1\x00"

MAX_HEADER_BYTES = 64 * 1024
MAX_PADDING_BYTES = 4096
MAX_PAYLOAD_BYTES = 16 * 1024**3
MAX_RECORDS = 50_000_000
MAX_FRAME_RECORDS = 65_536

Mode = Literal["full", "delta"]


class BundleHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything about a bundle that is signed; the payload digest ties in the records."""

    required_capabilities: tuple[str, ...] = ()
    kind: BundleKind
    schema_version: Annotated[int, msgspec.Meta(ge=1)]
    source_zone: ZoneId
    target_zone: ZoneId
    sender_key_id: HexKey
    recipient_key_id: HexKey
    bundle_id: uuid.UUID
    sequence: Sequence
    mode: Mode
    base_sequence: Annotated[int, msgspec.Meta(ge=0)] | None = None
    created_at: AwareDatetime
    record_counts: dict[str, Count]
    payload_length: Count
    payload_sha256: HexDigest
    ephemeral_key: HexKey

    @property
    def record_total(self) -> int:
        """Return the number of records of all types."""
        return sum(self.record_counts.values())


class _Probe(msgspec.Struct):
    """The few header fields read before the signature is checked, leniently."""

    required_capabilities: list[str] = []
    schema_version: int = 0
    sender_key_id: str = ""


_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(BundleHeader)
_probe_decoder = msgspec.msgpack.Decoder(_Probe)


def header_capacity(header: BundleHeader) -> int:
    """Return the most bytes header can encode to once its payload fields are filled in.

    Every count is at most MAX_RECORDS and the length at most MAX_PAYLOAD_BYTES (the
    writer enforces both), so the widest values of those fields give an upper bound.
    """
    widest = msgspec.structs.replace(
        header,
        record_counts={record_type_name(t): MAX_RECORDS for t in RECORD_TYPES[header.kind]},
        payload_length=MAX_PAYLOAD_BYTES,
        payload_sha256="0" * 64,
    )
    return len(_header_encoder.encode(widest))


def envelope_size(capacity: int) -> int:
    """Return the file bytes an envelope takes, signature included, for a header capacity."""
    return len(MAGIC) + PRELUDE.size + capacity + SIGNATURE_SIZE


def encode_envelope(header: BundleHeader, capacity: int | None = None) -> bytes:
    """Return the signed bytes: magic, prelude, header, and zeros up to capacity."""
    header_bytes = _header_encoder.encode(header)
    padding = 0 if capacity is None else capacity - len(header_bytes)
    if not 0 <= padding <= MAX_PADDING_BYTES:
        msg = f"a header of {len(header_bytes)} bytes does not fit a capacity of {capacity}"
        raise ValueError(msg)
    prelude = PRELUDE.pack(FORMAT_MAJOR, len(header_bytes), padding)
    return MAGIC + prelude + header_bytes + bytes(padding)


def read_exact(handle: BinaryIO, size: int, what: str) -> bytes:
    """Read exactly size bytes or raise Truncated naming what was being read."""
    data = handle.read(size)
    if len(data) != size:
        msg = f"the file ends inside the {what}"
        raise Truncated(msg)
    return data


def read_envelope(handle: BinaryIO) -> tuple[bytes, bytes, _Probe]:
    """Read magic, prelude and header; refuse unknown versions before reading further.

    Returns:
        The signed bytes (magic through padding), the raw header bytes, and the probe.
    """
    magic = handle.read(len(MAGIC))
    if magic != MAGIC:
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
            msg = "the file ends inside the magic line"
            raise Truncated(msg)
        msg = "not a Madoguchi bundle (the magic line is missing)"
        raise BadMagic(msg)
    prelude = read_exact(handle, PRELUDE.size, "version prelude")
    major, header_length, padding_length = PRELUDE.unpack(prelude)
    if major != FORMAT_MAJOR:
        msg = f"bundle format major version {major} is not supported (this reader: 1)"
        raise UnsupportedVersion(msg)
    if header_length > MAX_HEADER_BYTES:
        msg = f"header of {header_length} bytes exceeds the cap of {MAX_HEADER_BYTES}"
        raise SizeCapExceeded(msg)
    if padding_length > MAX_PADDING_BYTES:
        msg = f"header padding of {padding_length} bytes exceeds the cap of {MAX_PADDING_BYTES}"
        raise SizeCapExceeded(msg)
    header_bytes = read_exact(handle, header_length, "header")
    padding = read_exact(handle, padding_length, "header padding")
    if padding.count(0) != padding_length:
        msg = "the header padding is not all zeros"
        raise MalformedHeader(msg)
    try:
        probe = _probe_decoder.decode(header_bytes)
    except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
        msg = f"the header is not a valid MessagePack map: {error}"
        raise MalformedHeader(msg) from error
    unknown = sorted(set(probe.required_capabilities) - SUPPORTED_CAPABILITIES)
    if unknown:
        msg = f"the bundle requires capabilities this reader lacks: {', '.join(unknown)}"
        raise UnsupportedVersion(msg)
    if probe.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        msg = f"record schema version {probe.schema_version} is not supported (this reader: 1)"
        raise UnsupportedVersion(msg)
    return magic + prelude + header_bytes + padding, header_bytes, probe


def decode_header(header_bytes: bytes) -> BundleHeader:
    """Decode the header strictly and check the rules between its fields."""
    try:
        header = _header_decoder.decode(header_bytes)
    except (msgspec.DecodeError, ValueError) as error:  # ValueError: bad UTF-8
        msg = f"the header does not match the v1 envelope: {error}"
        raise MalformedHeader(msg) from error
    check_header(header)
    return header


def check_header(header: BundleHeader) -> None:
    """Refuse inconsistent headers and anything over the hard caps."""
    if header.mode == "full" and header.base_sequence is not None:
        msg = "a full bundle has no base sequence"
        raise MalformedHeader(msg)
    if header.mode == "delta" and (
        header.base_sequence is None or header.base_sequence >= header.sequence
    ):
        msg = "a delta bundle needs a base sequence lower than its sequence"
        raise MalformedHeader(msg)
    allowed = {record_type_name(kind) for kind in RECORD_TYPES[header.kind]}
    strangers = sorted(set(header.record_counts) - allowed)
    if strangers:
        msg = f"a {header.kind} bundle cannot hold {', '.join(strangers)} records"
        raise MalformedHeader(msg)
    if header.payload_length > MAX_PAYLOAD_BYTES:
        msg = f"payload of {header.payload_length} bytes exceeds the cap of {MAX_PAYLOAD_BYTES}"
        raise SizeCapExceeded(msg)
    if header.record_total > MAX_RECORDS:
        msg = f"{header.record_total} records exceed the cap of {MAX_RECORDS}"
        raise SizeCapExceeded(msg)
