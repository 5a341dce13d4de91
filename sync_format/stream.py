"""age's STREAM payload encryption and the record framing inside it.

Key: ephemeral X25519 with the recipient's key, through HKDF-SHA256. Payload: 64 KiB
chunks sealed with ChaCha20-Poly1305 under nonce = 11-byte big-endian counter || last
flag, so truncation and reordering fail to decrypt. The last chunk is sealed with the
hash of the signed header as associated data, binding the payload to that header.

Plaintext: frames, each a u32 big-endian length and a MessagePack array of records.
Writing reuses one frame buffer and one ciphertext buffer, so a frame costs a handful
of calls (encode, hash, seal its chunks, one write) and no allocation.
"""

import hashlib
import itertools
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync_format.errors import DigestMismatch, MalformedRecord, SizeCapExceeded, Tampered, Truncated
from sync_format.header import MAX_PAYLOAD_BYTES, MAX_RECORDS
from sync_format.v1.records import RECORD_TYPES, BundleKind, Record, count_by_type

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
FRAME_PREFIX = struct.Struct(">I")
MAX_FRAME_BYTES = 16 * 1024 * 1024
_KEY_INFO = b"madoguchi bundle v1 payload key"
_NOT_LAST = b"\x00"
_LAST = b"\x01"
Buffer = bytes | bytearray | memoryview


class Sink(Protocol):
    """Where sealed chunks go: a binary file or anything that copies what it is given."""

    def write(self, data: Buffer, /) -> object:
        """Consume data before returning (the caller reuses the buffer)."""


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    # age's construction: salt binds both public keys so the key is unique to this pair.
    if shared == bytes(32):
        msg = "the ephemeral key is a low-order point"
        raise Tampered(msg)
    hkdf = HKDF(hashes.SHA256(), 32, ephemeral_public + recipient_public, _KEY_INFO)
    return hkdf.derive(shared)


def sender_payload_key(recipient: X25519PublicKey) -> tuple[bytes, bytes]:
    """Return (payload key, ephemeral public key) for a new bundle to recipient."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(recipient)
    return _derive(shared, ephemeral_public, _raw(recipient)), ephemeral_public


def recipient_payload_key(private: X25519PrivateKey, ephemeral_public: bytes) -> bytes:
    """Return the payload key the recipient derives from the header's ephemeral key."""
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as error:
        msg = "the ephemeral key in the header is not usable"
        raise Tampered(msg) from error
    return _derive(shared, ephemeral_public, _raw(private.public_key()))


def _nonce(index: int, flag: bytes) -> bytes:
    return index.to_bytes(11, "big") + flag


def chunk_count(payload_length: int) -> int:
    """Return how many chunks a payload of this length takes (at least one)."""
    return max(1, -(-payload_length // CHUNK_SIZE))


def ciphertext_length(payload_length: int) -> int:
    """Return the encrypted size of a payload of this length."""
    return payload_length + TAG_SIZE * chunk_count(payload_length)


class StreamEncryptor:
    """Seal plaintext written to it into STREAM chunks on sink; plaintext stays in memory."""

    def __init__(self, key: bytes, sink: Sink) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._sink = sink
        self._pending = bytearray()
        self._sealed = bytearray()
        self._index = 0

    def write(self, data: Buffer) -> None:
        """Seal every chunk known not to be the last one and pass them on in one write."""
        # Keep at least one byte back: only finish() knows which chunk is the last.
        full = (len(self._pending) + len(data) - 1) // CHUNK_SIZE
        if full <= 0:
            self._pending += data
            return
        size = full * SEALED_CHUNK_SIZE
        if len(self._sealed) < size:
            self._sealed = bytearray(size)
        with memoryview(data) as source, memoryview(self._sealed) as target:
            start = 0
            for offset in range(0, size, SEALED_CHUNK_SIZE):
                if offset == 0 and self._pending:  # complete the chunk earlier writes began
                    start = CHUNK_SIZE - len(self._pending)
                    self._pending += source[:start]
                    chunk: Buffer = self._pending
                else:
                    chunk = source[start : start + CHUNK_SIZE]
                    start += CHUNK_SIZE
                self._aead.encrypt_into(
                    _nonce(self._index, _NOT_LAST),
                    chunk,
                    None,
                    target[offset : offset + SEALED_CHUNK_SIZE],
                )
                self._index += 1
            del chunk  # release the view before the buffers it points into
            self._pending[:] = source[start:]
            with target[:size] as sealed:
                self._sink.write(sealed)

    def finish(self, header_hash: bytes) -> None:
        """Seal the last chunk, bound to the signed header's hash."""
        last = self._aead.encrypt(_nonce(self._index, _LAST), bytes(self._pending), header_hash)
        self._sink.write(last)
        self._pending.clear()


def _batches(records: Iterable[Record], size: int) -> Iterator[Sequence[Record]]:
    if isinstance(records, list | tuple):  # slices are cheaper than islice
        for start in range(0, len(records), size):
            yield records[start : start + size]
        return
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class FrameWriter:
    """Encode records into length-prefixed frames, count them, hash and encrypt them."""

    def __init__(self, kind: BundleKind, encryptor: StreamEncryptor, frame_records: int) -> None:
        self._types = RECORD_TYPES[kind]
        self._kind = kind
        self._encryptor = encryptor
        self._frame_records = frame_records
        self._encoder = msgspec.msgpack.Encoder()
        self._frame = bytearray()
        self.hasher = hashlib.sha256()
        self._counts = [0] * len(self._types)
        self.length = 0

    @property
    def record_counts(self) -> dict[str, int]:
        """Records written, by type name (types without records left out)."""
        return {t.type_name: n for t, n in zip(self._types, self._counts, strict=True) if n}

    def write_all(self, records: Iterable[Record]) -> None:
        """Write every record, in frames of at most frame_records."""
        for batch in _batches(records, self._frame_records):
            counts, strangers = count_by_type(batch, self._types)
            if strangers:
                names = ", ".join(sorted({type(r).__name__ for r in batch} - set(self._types)))
                msg = f"a {self._kind} bundle cannot hold records of type {names}"
                raise TypeError(msg)
            self._counts = [a + b for a, b in zip(self._counts, counts, strict=True)]
            if sum(self._counts) > MAX_RECORDS:
                msg = f"more than {MAX_RECORDS} records"
                raise SizeCapExceeded(msg)
            self._write_frame(batch)

    def _write_frame(self, batch: Sequence[Record]) -> None:
        frame = self._frame  # reused: encode_into keeps its capacity
        self._encoder.encode_into(batch, frame, FRAME_PREFIX.size)
        body_length = len(frame) - FRAME_PREFIX.size
        if body_length > MAX_FRAME_BYTES:
            if len(batch) == 1:
                msg = f"one record encodes to {body_length} bytes, over the frame cap"
                raise SizeCapExceeded(msg)
            middle = len(batch) // 2
            self._write_frame(batch[:middle])
            self._write_frame(batch[middle:])
            return
        FRAME_PREFIX.pack_into(frame, 0, body_length)
        self.length += len(frame)
        if self.length > MAX_PAYLOAD_BYTES:
            msg = f"payload exceeds the cap of {MAX_PAYLOAD_BYTES} bytes"
            raise SizeCapExceeded(msg)
        self.hasher.update(frame)
        self._encryptor.write(frame)


def decrypt_stream(
    source: BinaryIO, key: bytes, payload_length: int, payload_sha256: str, header_hash: bytes
) -> Iterator[bytes]:
    """Yield plaintext chunks; the last is yielded only after length and digest match."""
    aead = ChaCha20Poly1305(key)
    total = chunk_count(payload_length)
    hasher = hashlib.sha256()
    for index in range(total):
        last = index == total - 1
        size = (payload_length - index * CHUNK_SIZE if last else CHUNK_SIZE) + TAG_SIZE
        sealed = source.read(size)
        if len(sealed) != size:
            msg = f"the payload ends inside chunk {index} of {total}"
            raise Truncated(msg)
        try:
            plain = aead.decrypt(
                _nonce(index, _LAST if last else _NOT_LAST), sealed, header_hash if last else None
            )
        except InvalidTag as error:
            msg = f"payload chunk {index} of {total} fails authentication (changed or reordered)"
            raise Tampered(msg) from error
        hasher.update(plain)
        if last:
            if source.read(1):
                msg = "bytes follow the last payload chunk"
                raise Tampered(msg)
            if hasher.hexdigest() != payload_sha256:
                msg = "the decrypted payload does not match the signed SHA-256"
                raise DigestMismatch(msg)
        yield plain


def split_frames(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield each frame body (a msgpack array) from plaintext chunks, in bounded memory."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        start = 0
        while len(buffer) - start >= FRAME_PREFIX.size:
            (length,) = FRAME_PREFIX.unpack_from(buffer, start)
            if length == 0 or length > MAX_FRAME_BYTES:
                msg = f"frame of {length} bytes is outside 1..{MAX_FRAME_BYTES}"
                raise SizeCapExceeded(msg)
            end = start + FRAME_PREFIX.size + length
            if end > len(buffer):
                break
            yield bytes(buffer[start + FRAME_PREFIX.size : end])
            start = end
        del buffer[:start]
    if buffer:
        msg = f"the payload ends with {len(buffer)} bytes that are not a whole frame"
        raise MalformedRecord(msg)


def array_length(frame: bytes) -> int:
    """Return the element count from a frame's msgpack array header, without decoding it."""
    first = frame[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC and len(frame) >= 3:
        return int.from_bytes(frame[1:3], "big")
    if first == 0xDD and len(frame) >= 5:
        return int.from_bytes(frame[1:5], "big")
    msg = "a frame is not a MessagePack array"
    raise MalformedRecord(msg)
