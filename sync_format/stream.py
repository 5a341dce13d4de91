"""age's STREAM payload encryption and the record framing inside it.

Key: ephemeral X25519 with the recipient's key, through HKDF-SHA256. Payload: 64 KiB
chunks sealed with ChaCha20-Poly1305 under nonce = 11-byte big-endian counter || last
flag, so truncation and reordering fail to decrypt. The last chunk is sealed with the
hash of the signed header as associated data, binding the payload to that header.
"""

import hashlib
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync_format.errors import DigestMismatch, MalformedRecord, SizeCapExceeded, Tampered, Truncated

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
FRAME_PREFIX = struct.Struct(">I")
MAX_FRAME_BYTES = 16 * 1024 * 1024
_KEY_INFO = b"madoguchi bundle v1 payload key"
_NOT_LAST = b"\x00"
_LAST = b"\x01"


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

    def __init__(self, key: bytes, sink: BinaryIO) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer data and seal every chunk known not to be the last one."""
        self._buffer += data
        # Keep at least one byte back: only finish() knows which chunk is the last.
        if len(self._buffer) > CHUNK_SIZE:
            start = 0
            with memoryview(self._buffer) as view:
                while len(self._buffer) - start > CHUNK_SIZE:
                    nonce = _nonce(self._index, _NOT_LAST)
                    with view[start : start + CHUNK_SIZE] as chunk:
                        self._sink.write(self._aead.encrypt(nonce, chunk, None))
                    self._index += 1
                    start += CHUNK_SIZE
            del self._buffer[:start]

    def finish(self, header_hash: bytes) -> None:
        """Seal the last chunk, bound to the signed header's hash."""
        sealed = self._aead.encrypt(_nonce(self._index, _LAST), bytes(self._buffer), header_hash)
        self._sink.write(sealed)
        self._buffer.clear()


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


def encode_frame_prefix(buffer: bytearray, length: int) -> None:
    """Write the u32 big-endian frame length at the start of buffer."""
    FRAME_PREFIX.pack_into(buffer, 0, length)


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
