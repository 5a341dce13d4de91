"""The progress of one card as pure rules: phases, actions, and which action is allowed when.

``imported`` → ``presetup_done`` (交付前設定) → ``notice_sent`` (交付案内 printed) →
``reserved`` → ``issued`` (交付済); side exits ``returned`` (返戻), ``cancelled`` (廃止),
``expired``. A card's phase is what replaying its actions through :func:`next_phase`
gives; the database keeps the result beside the events for fast lists.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from typing import Final


class Phase(enum.StrEnum):
    """Where a card stands."""

    IMPORTED = "imported"
    PRESETUP_DONE = "presetup_done"
    NOTICE_SENT = "notice_sent"
    RESERVED = "reserved"
    ISSUED = "issued"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Action(enum.StrEnum):
    """Something that happened to a card; each event records one."""

    PRESETUP_DONE = "presetup_done"  # 交付前設定 済
    PRESETUP_FAILED = "presetup_failed"  # 交付前設定 エラー: stays imported, with the reason
    NOTICE_PRINTED = "notice_printed"  # 交付案内 printed (a reprint is allowed)
    RESERVED = "reserved"  # a booking arrived from the reservation zone
    RESERVATION_CANCELLED = "reservation_cancelled"  # its last active booking was cancelled
    ISSUED = "issued"  # 交付済
    RETURNED = "returned"  # 返戻
    CANCELLED = "cancelled"  # 廃止
    EXPIRED = "expired"  # the card's collection period ran out


FINAL_PHASES: Final = frozenset({Phase.ISSUED, Phase.RETURNED, Phase.CANCELLED, Phase.EXPIRED})
OPEN_PHASES: Final = frozenset(Phase) - FINAL_PHASES
# Cards whose holder may book, and whose card can be handed over at the counter.
READY_PHASES: Final = frozenset({Phase.PRESETUP_DONE, Phase.NOTICE_SENT, Phase.RESERVED})

_ALLOWED_FROM: Final[dict[Action, frozenset[Phase]]] = {
    Action.PRESETUP_DONE: frozenset({Phase.IMPORTED}),
    Action.PRESETUP_FAILED: frozenset({Phase.IMPORTED}),
    Action.NOTICE_PRINTED: frozenset({Phase.PRESETUP_DONE, Phase.NOTICE_SENT}),
    # From reserved too: the booking moved to another location (the event carries it).
    Action.RESERVED: frozenset({Phase.PRESETUP_DONE, Phase.NOTICE_SENT, Phase.RESERVED}),
    Action.RESERVATION_CANCELLED: frozenset({Phase.RESERVED}),
    # A card may be handed over to a walk-in visitor without a booking.
    Action.ISSUED: READY_PHASES,
    Action.RETURNED: OPEN_PHASES,
    Action.CANCELLED: OPEN_PHASES,
    Action.EXPIRED: OPEN_PHASES,
}
_TARGET: Final[dict[Action, Phase]] = {
    Action.PRESETUP_DONE: Phase.PRESETUP_DONE,
    Action.PRESETUP_FAILED: Phase.IMPORTED,
    Action.NOTICE_PRINTED: Phase.NOTICE_SENT,
    Action.RESERVED: Phase.RESERVED,
    Action.ISSUED: Phase.ISSUED,
    Action.RETURNED: Phase.RETURNED,
    Action.CANCELLED: Phase.CANCELLED,
    Action.EXPIRED: Phase.EXPIRED,
}
# Results a card gets at most once: once it has the event, the action can never be legal
# for it again (交付前設定 is done only from imported; the others end the card). So a result
# file reporting one again is a re-import and changes nothing, whatever phase the card has
# reached since: a presetup file imported again after some of its cards were returned.
_ONCE_PER_CARD: Final = frozenset(
    {Action.PRESETUP_DONE, Action.ISSUED, Action.RETURNED, Action.CANCELLED, Action.EXPIRED}
)


class TransitionRefused(ValueError):
    """An action is not allowed in the card's phase; ``code`` is stable, ``reason`` readable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _refusal(phase: Phase, action: Action) -> TransitionRefused:
    if phase in FINAL_PHASES:
        return TransitionRefused("final_phase", f"the card is already {phase.value}; it is final")
    if phase is Phase.IMPORTED:
        return TransitionRefused(
            "presetup_not_done", f"交付前設定 is not done yet; cannot record {action.value}"
        )
    if action in (Action.PRESETUP_DONE, Action.PRESETUP_FAILED):
        return TransitionRefused(
            "presetup_already_done", f"交付前設定 is already recorded (phase {phase.value})"
        )
    if action is Action.RESERVATION_CANCELLED:
        return TransitionRefused("not_reserved", f"the card is not reserved (phase {phase.value})")
    return TransitionRefused(
        "illegal_transition", f"{action.value} is not allowed in phase {phase.value}"
    )


def next_phase(phase: Phase, action: Action, *, noticed: bool) -> Phase:
    """Return the phase after action, or raise TransitionRefused with the reason.

    ``noticed`` says whether a 交付案内 was printed for the card: a cancelled booking
    takes the card back to ``notice_sent`` if so, else to ``presetup_done``.
    """
    if phase not in _ALLOWED_FROM[action]:
        raise _refusal(phase, action)
    if action is Action.RESERVATION_CANCELLED:
        return Phase.NOTICE_SENT if noticed else Phase.PRESETUP_DONE
    return _TARGET[action]


def already_recorded(action: Action, recorded: Collection[Action]) -> bool:
    """Whether a result file's action repeats an event the card already has (no change).

    ``recorded`` holds the card's earlier actions. Only results a card gets at most once
    count: a card that never had the event is checked with :func:`next_phase` as usual,
    so 済 for a card returned before 交付前設定 is still refused.
    """
    return action in _ONCE_PER_CARD and action in recorded


def derive_phase(actions: Iterable[Action]) -> Phase:
    """Replay a card's actions, oldest first, from ``imported``; raise if one was illegal."""
    phase = Phase.IMPORTED
    noticed = False
    for action in actions:
        phase = next_phase(phase, action, noticed=noticed)
        noticed = noticed or action is Action.NOTICE_PRINTED
    return phase
