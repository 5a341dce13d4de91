"""Keys, sequence marks and the bundle log shared by every exchange in this zone."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.settings import ZoneSettings
from sync_format import (
    AppliedMark,
    Decision,
    Incoming,
    TrustStore,
    VerifiedBundle,
    ZonePublicKeys,
    ZoneSecretKeys,
    decide,
    load_secret_keys,
)
from sync_format.header import read_envelope

ZONE: Final = "reservation"
PEER: Final = "issuance"
ELIGIBILITY_IN: Final = "eligibility:in"
RECEIPT_IN: Final = "receipt:in"
RESERVATIONS_OUT: Final = "reservations:out"
RECEIPT_OUT: Final = "receipt:out"


class BundleRefused(DomainError):
    """The bundle cannot be applied (sequence, kind, sender or content); nothing changed."""

    status_code = 422
    code = "bundle_refused"


class PeerNotPinned(DomainError):
    """The issuance zone's public keys are not pinned, so nothing can be written to it."""

    status_code = 409
    code = "peer_not_pinned"


@dataclass(frozen=True)
class ExchangeKeys:
    """This zone's private keys and the other zone's pinned public keys."""

    secret: ZoneSecretKeys
    trusted: TrustStore

    def peer(self) -> ZonePublicKeys:
        """The issuance zone's pinned keys (bundles and receipts are encrypted to them)."""
        keys = self.trusted.for_zone(PEER)
        if keys is None:
            message = "The issuance zone's public keys are not pinned (madoguchi keys trust)."
            raise PeerNotPinned(message)
        return keys


def key_dir(settings: ZoneSettings, configured: Path | None = None) -> Path:
    """This zone's key directory: the one given (MADOGUCHI_KEY_DIR), else var/keys/reservation."""
    return configured if configured is not None else settings.var_dir / "keys" / ZONE


def load_exchange_keys(directory: Path) -> ExchangeKeys:
    """Load this zone's keys and pins; raises a SyncFormatError naming the missing file."""
    return ExchangeKeys(secret=load_secret_keys(directory), trusted=TrustStore.load(directory))


def file_digest(path: Path) -> str:
    """The digest a bundle file is known by (hex SHA-256 of its signed envelope)."""
    with path.open("rb") as handle:
        signed, _, _ = read_envelope(handle)
    return hashlib.sha256(signed).hexdigest()


_ENSURE = text(
    "INSERT INTO sync_streams (name, sequence, created_at, updated_at) "
    "VALUES (:name, 0, now(), now()) ON CONFLICT (name) DO NOTHING"
)
_LOCK = text("SELECT sequence, bundle_id, digest FROM sync_streams WHERE name = :name FOR UPDATE")
_MARK = text(
    "UPDATE sync_streams SET sequence = :sequence, bundle_id = :bundle_id, digest = :digest, "
    "updated_at = now() WHERE name = :name"
)
_NEXT = text(
    "INSERT INTO sync_streams (name, sequence, created_at, updated_at) "
    "VALUES (:name, 1, now(), now()) "
    "ON CONFLICT (name) DO UPDATE SET sequence = sync_streams.sequence + 1, updated_at = now() "
    "RETURNING sequence"
)


async def locked_mark(session: AsyncSession, stream: str) -> AppliedMark | None:
    """The stream's high-water mark, locked until the transaction ends (imports queue here)."""
    await session.execute(_ENSURE, {"name": stream})
    row = (await session.execute(_LOCK, {"name": stream})).one()
    if row.sequence == 0 or row.bundle_id is None or row.digest is None:
        return None
    return AppliedMark(sequence=row.sequence, bundle_id=row.bundle_id, digest=row.digest)


def decision_for(
    bundle: VerifiedBundle, mark: AppliedMark | None, *, force_gap: bool = False
) -> Decision:
    """What sync_format's sequence rule says about this bundle after the mark."""
    header = bundle.header
    incoming = Incoming(
        sequence=header.sequence,
        bundle_id=header.bundle_id,
        digest=bundle.digest,
        mode=header.mode,
        base_sequence=header.base_sequence,
    )
    return decide(incoming, mark, force_gap=force_gap)


async def set_mark(session: AsyncSession, stream: str, bundle: VerifiedBundle) -> None:
    """Move the stream's mark to this bundle (the row is locked by :func:`locked_mark`)."""
    await session.execute(
        _MARK,
        {
            "name": stream,
            "sequence": bundle.header.sequence,
            "bundle_id": bundle.header.bundle_id,
            "digest": bundle.digest,
        },
    )


async def next_sequence(session: AsyncSession, stream: str) -> int:
    """Take the stream's next outgoing sequence in one atomic statement.

    The increment is part of the transaction: if writing the bundle fails, it rolls back
    and the number is used by the next bundle, so the other zone never sees a gap.
    """
    value: int = (await session.execute(_NEXT, {"name": stream})).scalar_one()
    return value


def expect_kind(bundle: VerifiedBundle, kind: str) -> None:
    """Refuse a bundle of another kind, or from another zone than issuance."""
    header = bundle.header
    if header.kind != kind:
        message = f"this is a {header.kind} bundle; expected a {kind} bundle"
        raise BundleRefused(message, details={"kind": header.kind})
    if header.source_zone != PEER:
        message = f"the bundle comes from zone {header.source_zone!r}, not {PEER!r}"
        raise BundleRefused(message)


def new_bundle_id() -> uuid.UUID:
    """A fresh bundle id."""
    return uuid.uuid4()
