"""Sequence decisions: the one pure rule both zones apply before importing a bundle."""

import enum
import uuid
from dataclasses import dataclass
from typing import Literal


class Outcome(enum.StrEnum):
    """What to do with an incoming bundle given the last one applied."""

    APPLY = "apply"
    APPLY_FORCED_GAP = "apply_forced_gap"
    ALREADY_APPLIED = "already_applied"
    ROLLBACK_REFUSED = "rollback_refused"
    GAP_REFUSED = "gap_refused"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Incoming:
    """The sequence facts of a verified bundle (from its header and digest)."""

    sequence: int
    bundle_id: uuid.UUID
    digest: str
    mode: Literal["full", "delta"]
    base_sequence: int | None = None


@dataclass(frozen=True)
class AppliedMark:
    """The high-water mark a zone stores after applying a bundle in one direction."""

    sequence: int
    bundle_id: uuid.UUID
    digest: str


@dataclass(frozen=True)
class Decision:
    """An outcome and a sentence for the operator and the log."""

    outcome: Outcome
    reason: str

    @property
    def should_apply(self) -> bool:
        """True when the caller applies the bundle (forced gaps included, and logged)."""
        return self.outcome in {Outcome.APPLY, Outcome.APPLY_FORCED_GAP}


def decide(
    incoming: Incoming, last_applied: AppliedMark | None, *, force_gap: bool = False
) -> Decision:
    """Decide whether a bundle applies after last_applied (None: nothing applied yet).

    Full bundles replace state and may jump ahead; a delta must start exactly at the
    last applied sequence unless the operator forces the gap.
    """
    high_water = last_applied.sequence if last_applied else 0
    if last_applied is not None and incoming.sequence == last_applied.sequence:
        if incoming.digest == last_applied.digest and incoming.bundle_id == last_applied.bundle_id:
            return Decision(
                Outcome.ALREADY_APPLIED, f"bundle {incoming.sequence} is already applied"
            )
        return Decision(
            Outcome.CONFLICT,
            f"sequence {incoming.sequence} was already used by a different bundle",
        )
    if incoming.sequence < high_water:
        return Decision(
            Outcome.ROLLBACK_REFUSED,
            f"sequence {incoming.sequence} is older than the applied {high_water}",
        )
    if incoming.mode == "full" or incoming.base_sequence == high_water:
        return Decision(Outcome.APPLY, f"apply {incoming.mode} bundle {incoming.sequence}")
    gap = (
        f"delta {incoming.sequence} is based on {incoming.base_sequence}, "
        f"but the last applied is {high_water}"
    )
    if force_gap:
        return Decision(Outcome.APPLY_FORCED_GAP, f"{gap} (gap forced by the operator)")
    return Decision(Outcome.GAP_REFUSED, gap)
