"""Errors raised by the sync format; each has its own exit code for the operator CLI."""

from typing import ClassVar


class SyncFormatError(Exception):
    """Base class of every refusal; the reader raises nothing else for bad input."""

    exit_code: ClassVar[int] = 10


class BadMagic(SyncFormatError):
    """The file does not start with the bundle magic line: it is not a bundle."""

    exit_code: ClassVar[int] = 11


class UnsupportedVersion(SyncFormatError):
    """The bundle needs a major version, schema version or capability this reader lacks."""

    exit_code: ClassVar[int] = 12


class Truncated(SyncFormatError):
    """The file ends before the bundle does."""

    exit_code: ClassVar[int] = 13


class Tampered(SyncFormatError):
    """The encrypted payload was changed, reordered or extended after it was written."""

    exit_code: ClassVar[int] = 14


class DigestMismatch(Tampered):
    """The decrypted payload does not match the signed length and SHA-256."""

    exit_code: ClassVar[int] = 15


class UnknownSigner(SyncFormatError):
    """The bundle is signed by a key that is not pinned in the trust store."""

    exit_code: ClassVar[int] = 16


class BadSignature(SyncFormatError):
    """The header signature does not verify against the pinned key."""

    exit_code: ClassVar[int] = 17


class WrongRecipient(SyncFormatError):
    """The bundle is encrypted for another zone or another key."""

    exit_code: ClassVar[int] = 18


class SizeCapExceeded(SyncFormatError):
    """A header, frame, payload or record count is larger than the hard caps."""

    exit_code: ClassVar[int] = 19


class MalformedHeader(SyncFormatError):
    """The header bytes do not decode to a valid bundle header."""

    exit_code: ClassVar[int] = 20


class MalformedRecord(SyncFormatError):
    """A frame or record in an authentic payload does not decode to the schema."""

    exit_code: ClassVar[int] = 21


class KeyFileError(SyncFormatError):
    """A key file is missing, malformed, or would be overwritten."""

    exit_code: ClassVar[int] = 22


class RotationRefused(SyncFormatError):
    """A key rotation statement does not verify against the pinned and the new key."""

    exit_code: ClassVar[int] = 23
