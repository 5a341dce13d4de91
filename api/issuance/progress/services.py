"""Recording progress: staff actions, result files, and the derived-phase check.

Every batch is all or nothing. The cards' resident rows are locked (``FOR UPDATE``) for
the whole transaction, so two batches touching one card run one after the other and a
transition is always checked against the phase it really leaves; the event rows and the
``card_progress`` rows are written in that same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import String, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress, ProgressEvent
from api.issuance.progress.rules import (
    Action,
    Phase,
    TransitionRefused,
    already_recorded,
    derive_phase,
    next_phase,
)
from api.issuance.progress.schemas import Mismatch, ProgressChange, ProgressReport, RefusedChange
from sync_format.csv import (
    IssuedResult,
    PresetupResult,
    ProgressResult,
    read_issued_results,
    read_presetup_results,
)
from sync_format.csv.source import Source

EventSource = Literal["staff", "file", "sync"]
ResultKind = Literal["presetup", "issued"]

_RESULT_ACTIONS: dict[PresetupResult | IssuedResult, Action] = {
    PresetupResult.DONE: Action.PRESETUP_DONE,
    PresetupResult.FAILED: Action.PRESETUP_FAILED,
    IssuedResult.ISSUED: Action.ISSUED,
    IssuedResult.RETURNED: Action.RETURNED,
    IssuedResult.CANCELLED: Action.CANCELLED,
}


class ProgressRefused(DomainError):
    """Some changes of a batch are not allowed; nothing was recorded. ``details`` is the report."""

    status_code = 409
    code = "progress_refused"


class ResultFileRefused(DomainError):
    """A result file has bad rows; nothing was recorded. ``details`` is the report."""

    status_code = 422
    code = "result_file_refused"


def canonical_reservation_id(value: str) -> str:
    """Return ``ABC-123456`` for ``ABC123456`` or ``ABC-123456`` (the stored form)."""
    return value if "-" in value else f"{value[:3]}-{value[3:]}"


def any_of(values: Sequence[Any], *, integers: bool = False) -> Any:
    """``= ANY(:array)``: one bound array instead of one parameter per value (no cap)."""
    element_type: Any = BIGINT() if integers else String()
    return any_(bindparam(None, list(values), type_=ARRAY(element_type)))


def utc_now() -> dt.datetime:
    """The current time (UTC, aware)."""
    return dt.datetime.now(dt.UTC)


async def locked_cards(session: AsyncSession, reservation_ids: list[str]) -> dict[str, Any]:
    """Lock the cards' resident rows; map reservation ID to the card's row.

    Each row has ``id``, ``reservation_id``, ``phase`` and ``location_code``.
    """
    statement = (
        select(
            Resident.id,
            Resident.reservation_id,
            func.coalesce(CardProgress.phase, Phase.IMPORTED.value).label("phase"),
            CardProgress.location_code,
        )
        .outerjoin(CardProgress, CardProgress.resident_id == Resident.id)
        .where(Resident.reservation_id == any_of(reservation_ids))
        .order_by(Resident.id)
        .with_for_update(of=Resident)
    )
    return {row.reservation_id: row for row in await session.execute(statement)}


async def _earlier(
    session: AsyncSession, action: Action, resident_ids: list[int]
) -> list[tuple[int, dt.date | None]]:
    """``(resident_id, occurred_on)`` of the cards' earlier events of one action."""
    statement = select(ProgressEvent.resident_id, ProgressEvent.occurred_on).where(
        ProgressEvent.action == action.value,
        ProgressEvent.resident_id == any_of(resident_ids, integers=True),
    )
    return [(row.resident_id, row.occurred_on) for row in await session.execute(statement)]


async def _recorded(
    session: AsyncSession, actions: Iterable[Action], resident_ids: list[int]
) -> dict[int, set[Action]]:
    """Which of these actions each card already has an event of."""
    statement = (
        select(ProgressEvent.resident_id, ProgressEvent.action)
        .where(
            ProgressEvent.action == any_of(sorted({action.value for action in actions})),
            ProgressEvent.resident_id == any_of(resident_ids, integers=True),
        )
        .distinct()
    )
    recorded: dict[int, set[Action]] = {}
    for row in await session.execute(statement):
        recorded.setdefault(row.resident_id, set()).add(Action(row.action))
    return recorded


async def apply_changes(
    session: AsyncSession,
    changes: Sequence[ProgressChange],
    *,
    actor: str,
    source: EventSource,
    tolerate_repeats: bool = False,
    dry_run: bool = False,
) -> ProgressReport:
    """Check every change against its card's phase; record all of them, or none.

    ``tolerate_repeats`` makes a result the card already has an event of (a result file
    imported twice, even after the card moved on to a final phase) count as unchanged
    instead of refused. Raises ProgressRefused with the full report when any change is
    refused (unless ``dry_run``, which never writes).
    """
    ids = sorted({canonical_reservation_id(change.reservation_id) for change in changes})
    cards = await locked_cards(session, ids)
    resident_ids = [card.id for card in cards.values()]
    noticed = {key for key, _ in await _earlier(session, Action.NOTICE_PRINTED, resident_ids)}
    failures_seen = set(await _earlier(session, Action.PRESETUP_FAILED, resident_ids))
    recorded = (
        await _recorded(session, {change.action for change in changes}, resident_ids)
        if tolerate_repeats
        else {}
    )
    phases: dict[int, Phase] = {card.id: Phase(card.phase) for card in cards.values()}
    report = ProgressReport(requested=len(changes), applied=0, unchanged=0, refused=[])
    events: list[dict[str, Any]] = []
    for change in changes:
        card = cards.get(canonical_reservation_id(change.reservation_id))
        if card is None:
            report.refused.append(
                RefusedChange(
                    reservation_id=change.reservation_id,
                    action=change.action.value,
                    code="unknown_reservation_id",
                    reason="no card with this reservation ID",
                    line=change.line,
                )
            )
            continue
        phase = phases[card.id]
        repeated_failure = (
            change.action is Action.PRESETUP_FAILED
            and (card.id, change.occurred_on) in failures_seen
        )
        repeated = already_recorded(change.action, recorded.get(card.id, ()))
        if tolerate_repeats and (repeated or repeated_failure):
            report.unchanged += 1
            continue
        try:
            after = next_phase(phase, change.action, noticed=card.id in noticed)
        except TransitionRefused as refusal:
            report.refused.append(
                RefusedChange(
                    reservation_id=card.reservation_id,
                    action=change.action.value,
                    code=refusal.code,
                    reason=refusal.reason,
                    phase=phase.value,
                    line=change.line,
                )
            )
            continue
        if change.action is Action.NOTICE_PRINTED:
            noticed.add(card.id)
        # The same result twice in one file: the second is a repeat of the first.
        recorded.setdefault(card.id, set()).add(change.action)
        phases[card.id] = after
        events.append(
            {
                "resident_id": card.id,
                "action": change.action.value,
                "phase_before": phase.value,
                "phase_after": after.value,
                "actor": actor,
                "source": source,
                "reason": change.reason,
                "occurred_on": change.occurred_on,
                "location_code": change.location_code,
            }
        )
    report.applied = len(events)
    if report.refused and not dry_run:
        message = f"{len(report.refused)} of {len(changes)} changes refused; nothing was recorded"
        raise ProgressRefused(message, details=report)
    if dry_run or not events:
        report.committed = not dry_run and not report.refused
        return report
    await _record(session, events)
    report.committed = True
    return report


async def _record(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    inserted = await session.execute(
        insert(ProgressEvent).returning(
            ProgressEvent.id, ProgressEvent.resident_id, sort_by_parameter_order=True
        ),
        events,
    )
    now = utc_now()
    latest: dict[int, dict[str, Any]] = {}
    for event, row in zip(events, inserted.all(), strict=True):
        previous = latest.get(row.resident_id)
        latest[row.resident_id] = {
            "resident_id": row.resident_id,
            "phase": event["phase_after"],
            "changed_at": now,
            "occurred_on": event["occurred_on"],
            "last_event_id": row.id,
            "location_code": event["location_code"]
            or (previous["location_code"] if previous else None),
        }
    statement = pg_insert(CardProgress).values(list(latest.values()))
    table = CardProgress.__table__.c
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.resident_id],
            set_={
                "phase": statement.excluded.phase,
                "changed_at": statement.excluded.changed_at,
                # Not kept from an earlier event: an undated change happened when recorded.
                "occurred_on": statement.excluded.occurred_on,
                "last_event_id": statement.excluded.last_event_id,
                "location_code": func.coalesce(
                    statement.excluded.location_code, table.location_code
                ),
                "updated_at": now,
            },
        )
    )


def read_results(data: Source, kind: ResultKind) -> ProgressResult:
    """Read a 交付前設定結果 (presetup) or 交付済結果 (issued) file."""
    return read_presetup_results(data) if kind == "presetup" else read_issued_results(data)


def result_changes(result: ProgressResult) -> list[ProgressChange]:
    """Turn the rows of a result file into progress changes (the note becomes the reason)."""
    changes: list[ProgressChange] = []
    for row in result.rows:
        action = _RESULT_ACTIONS[row.result]
        reason = row.note
        if action is Action.PRESETUP_FAILED and not reason:
            reason = "交付前設定エラー"
        changes.append(
            ProgressChange(
                reservation_id=row.reservation_id,
                action=action,
                reason=reason,
                occurred_on=row.date,
                location_code=row.location_code,
                line=row.line,
            )
        )
    return changes


async def import_results(
    session: AsyncSession, data: Source, kind: ResultKind, *, actor: str, dry_run: bool = False
) -> ProgressReport:
    """Import a result file all or nothing; the same file twice changes nothing.

    Raises ResultFileRefused (bad rows) or ProgressRefused (illegal changes), each with
    the full report; a dry run returns the report instead of raising.
    """
    result = read_results(data, kind)
    if not result.ok:
        report = ProgressReport(
            requested=len(result.rows), applied=0, unchanged=0, refused=[], problems=result.problems
        )
        if dry_run:
            return report
        message = f"the file has {len(result.problems)} problems; nothing was recorded"
        raise ResultFileRefused(message, details=report)
    return await apply_changes(
        session,
        result_changes(result),
        actor=actor,
        source="file",
        tolerate_repeats=True,
        dry_run=dry_run,
    )


async def verify_progress(session: AsyncSession) -> list[Mismatch]:
    """Replay every card's events and list the cards whose stored phase differs.

    A card with events but no stored phase, or a stored phase without events, is a
    mismatch too; a card whose events contain an illegal step is reported as ``invalid``.
    """
    stored = {
        row.resident_id: row.phase
        for row in await session.execute(select(CardProgress.resident_id, CardProgress.phase))
    }
    derived: dict[int, str] = {}
    events = await session.stream(
        select(ProgressEvent.resident_id, ProgressEvent.action).order_by(
            ProgressEvent.resident_id, ProgressEvent.id
        )
    )
    current: int | None = None
    actions: list[Action] = []

    def settle() -> None:
        if current is not None:
            derived[current] = _derive(actions)

    async for row in events:
        if row.resident_id != current:
            settle()
            current, actions = row.resident_id, []
        actions.append(Action(row.action))
    settle()
    return [
        Mismatch(
            resident_id=resident_id,
            stored=stored.get(resident_id, Phase.IMPORTED.value),
            derived=derived.get(resident_id, Phase.IMPORTED.value),
        )
        for resident_id in sorted(stored.keys() | derived.keys())
        if stored.get(resident_id) != derived.get(resident_id)
    ]


def _derive(actions: Iterable[Action]) -> str:
    try:
        return derive_phase(actions).value
    except TransitionRefused:
        return "invalid"
