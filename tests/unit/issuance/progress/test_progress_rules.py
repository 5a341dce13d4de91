from __future__ import annotations

import itertools

import pytest

from api.issuance.progress.rules import (
    FINAL_PHASES,
    Action,
    Phase,
    TransitionRefused,
    already_recorded,
    derive_phase,
    next_phase,
)

# The legal steps, written out once by hand: everything else must be refused.
LEGAL = {
    (Phase.IMPORTED, Action.PRESETUP_DONE): Phase.PRESETUP_DONE,
    (Phase.IMPORTED, Action.PRESETUP_FAILED): Phase.IMPORTED,
    (Phase.PRESETUP_DONE, Action.NOTICE_PRINTED): Phase.NOTICE_SENT,
    (Phase.NOTICE_SENT, Action.NOTICE_PRINTED): Phase.NOTICE_SENT,
    (Phase.PRESETUP_DONE, Action.RESERVED): Phase.RESERVED,
    (Phase.NOTICE_SENT, Action.RESERVED): Phase.RESERVED,
    # The booking moved to another location.
    (Phase.RESERVED, Action.RESERVED): Phase.RESERVED,
    (Phase.RESERVED, Action.RESERVATION_CANCELLED): Phase.NOTICE_SENT,
    (Phase.PRESETUP_DONE, Action.ISSUED): Phase.ISSUED,
    (Phase.NOTICE_SENT, Action.ISSUED): Phase.ISSUED,
    (Phase.RESERVED, Action.ISSUED): Phase.ISSUED,
    **{
        (phase, action): Phase(action.value)
        for phase in (Phase.IMPORTED, Phase.PRESETUP_DONE, Phase.NOTICE_SENT, Phase.RESERVED)
        for action in (Action.RETURNED, Action.CANCELLED, Action.EXPIRED)
    },
}
ILLEGAL = [pair for pair in itertools.product(Phase, Action) if pair not in LEGAL]


@pytest.mark.parametrize(("phase", "action"), list(LEGAL), ids=str)
def test_legal_steps_reach_their_phase(phase: Phase, action: Action) -> None:
    assert next_phase(phase, action, noticed=True) == LEGAL[phase, action]


@pytest.mark.parametrize(("phase", "action"), ILLEGAL, ids=str)
def test_every_illegal_step_is_refused_with_a_code_and_reason(phase: Phase, action: Action) -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_phase(phase, action, noticed=False)

    assert refused.value.code
    assert refused.value.reason
    if phase in FINAL_PHASES:
        assert refused.value.code == "final_phase"
        assert phase.value in refused.value.reason


def test_cancelled_booking_goes_back_to_presetup_done_when_no_notice_was_printed() -> None:
    assert (
        next_phase(Phase.RESERVED, Action.RESERVATION_CANCELLED, noticed=False)
        == Phase.PRESETUP_DONE
    )


def test_replay_derives_the_phase_and_remembers_the_notice() -> None:
    actions = [
        Action.PRESETUP_FAILED,
        Action.PRESETUP_DONE,
        Action.NOTICE_PRINTED,
        Action.RESERVED,
        Action.RESERVATION_CANCELLED,
    ]
    assert derive_phase(actions) == Phase.NOTICE_SENT
    assert derive_phase([*actions, Action.RESERVED, Action.ISSUED]) == Phase.ISSUED
    assert derive_phase([]) == Phase.IMPORTED


def test_replay_of_an_illegal_history_raises() -> None:
    with pytest.raises(TransitionRefused):
        derive_phase([Action.PRESETUP_DONE, Action.PRESETUP_DONE])


def test_result_files_may_repeat_what_is_already_recorded() -> None:
    assert already_recorded(Action.PRESETUP_DONE, {Action.PRESETUP_DONE, Action.RETURNED})
    assert already_recorded(Action.ISSUED, {Action.PRESETUP_DONE, Action.ISSUED})
    assert not already_recorded(Action.PRESETUP_DONE, {Action.RETURNED})
    assert not already_recorded(Action.RETURNED, {Action.PRESETUP_DONE, Action.ISSUED})
    # A reprint or a second booking is a new event, never a repeat.
    assert not already_recorded(Action.NOTICE_PRINTED, {Action.NOTICE_PRINTED})
    assert not already_recorded(Action.RESERVED, {Action.RESERVED})


def test_a_result_counted_as_a_repeat_could_never_be_applied_again() -> None:
    # Walk every state a card can reach (phase, notice printed, actions it has had): in
    # none of them is an action already_recorded calls a repeat legal.
    start = (Phase.IMPORTED, frozenset[Action]())
    seen = {start}
    waiting = [start]
    while waiting:
        phase, recorded = waiting.pop()
        for action in Action:
            try:
                after = next_phase(phase, action, noticed=Action.NOTICE_PRINTED in recorded)
            except TransitionRefused:
                continue
            assert not already_recorded(action, recorded), (phase, action, recorded)
            state = (after, recorded | {action})
            if state not in seen:
                seen.add(state)
                waiting.append(state)
    assert {phase for phase, _ in seen} == set(Phase)
