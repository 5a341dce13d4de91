"""The chain's canonical encoding and walk, without a database."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from api.core.audit.chain import (
    GENESIS_HASH,
    ChainedEntry,
    canonical_encoding,
    check_chain,
    compute_hash,
)
from api.core.audit.events import Actor
from api.core.audit.middleware import outcome_of
from api.core.audit.recorder import make_row
from api.core.audit.schemas import neutralise


def _chain(count: int) -> list[ChainedEntry]:
    entries = []
    previous = GENESIS_HASH
    for sequence in range(1, count + 1):
        fields = {
            "sequence": sequence,
            "occurred_at": dt.datetime(2026, 11, 26, 9, 0, sequence, tzinfo=dt.UTC),
            "zone": "issuance",
            "actor": "職員" if sequence % 2 else None,
            "actor_kind": "staff",
            "terminal": None,
            "client_address": "192.0.2.1",
            "method": "GET",
            "route": "/api/x/{id}",
            "resource_ids": [f"id={sequence}"],
            "outcome": "success",
            "status": 200,
            "duration_ms": 3,
            "request_id": None,
            "detail": {"z": "1", "a": "2"},
            "previous_hash": previous,
        }
        previous = compute_hash(fields)
        entries.append(ChainedEntry(**fields, entry_hash=previous))
    return entries


def test_an_intact_chain_verifies() -> None:
    report = check_chain(_chain(5), GENESIS_HASH)

    assert report.ok
    assert report.entries == 5
    assert report.last_sequence == 5


def test_an_edited_entry_is_named() -> None:
    entries = _chain(5)
    entries[2] = msgspec.structs.replace(entries[2], status=500)

    report = check_chain(entries, GENESIS_HASH)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


def test_a_removed_entry_is_named_by_the_one_after_it() -> None:
    entries = _chain(5)
    del entries[1]

    report = check_chain(entries, GENESIS_HASH)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


def test_reordered_entries_are_named() -> None:
    entries = _chain(5)
    entries[1], entries[2] = entries[2], entries[1]

    report = check_chain(entries, GENESIS_HASH)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"actor": None}, {"actor": "~"}),
        ({"actor": ""}, {"actor": None}),
        ({"actor": "ab", "terminal": "c"}, {"actor": "a", "terminal": "bc"}),
        ({"resource_ids": ["a,b"]}, {"resource_ids": ["a", "b"]}),
        ({"detail": {"a": "b"}}, {"detail": {"ab": ""}}),
    ],
)
def test_the_encoding_is_unambiguous(first: dict[str, object], second: dict[str, object]) -> None:
    base = msgspec.structs.asdict(_chain(1)[0])

    assert canonical_encoding({**base, **first}) != canonical_encoding({**base, **second})


def test_detail_order_does_not_change_the_hash() -> None:
    base = msgspec.structs.asdict(_chain(1)[0])

    assert compute_hash({**base, "detail": {"b": "1", "a": "2"}}) == compute_hash(
        {**base, "detail": {"a": "2", "b": "1"}}
    )


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


def test_plain_cells_stay_as_they_are() -> None:
    assert neutralise("tanaka") == "tanaka"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "success"),
        (302, "success"),
        (401, "unauthenticated"),
        (403, "forbidden"),
        (404, "client_error"),
        (500, "server_error"),
    ],
)
def test_outcome_follows_the_status(status: int, outcome: str) -> None:
    assert outcome_of(status) == outcome


def test_rows_are_cut_to_the_columns_and_lose_nul() -> None:
    row = make_row(
        zone="issuance",
        actor=Actor(kind="staff", name="x" * 200, terminal="t\x00"),
        client_address=None,
        method="GET",
        route="/",
        outcome="success",
        detail={"k": "v"},
    )

    assert len(row["actor"]) == 64
    assert row["terminal"] == "t\ufffd"
    assert row["occurred_at"].tzinfo is not None
