"""The hash chain: one canonical encoding of an entry, computed alike in SQL and in Python.

The database computes every ``entry_hash`` when a row is inserted (the trigger installed
by the migration ``access_log_chain_and_append_only_trigger``); this module computes the
same hash independently, so ``audit verify`` checks the rows without trusting the
database's own function, and an archive file verifies with no database at all.

Canonical encoding (version 1), the UTF-8 bytes of ``"madoguchi-access-log-v1|"`` followed
by each field in the order of :data:`CHAINED_FIELDS`:

- NULL is ``~``; text is ``<octets>:<text>`` (its UTF-8 length, so nothing is ambiguous);
- integers are their decimal text, as text; the time is UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
- ``resource_ids`` (strings) is ``A<count>:`` and each element as text;
- ``detail`` (string values) is ``D<count>:`` and each key and value as text, by key in
  code-point order (SQL: ``COLLATE "C"``).

``entry_hash`` is the lowercase hex SHA-256 of that, where the last field is the
previous entry's hash (:data:`GENESIS_HASH` for the first entry ever).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import msgspec

GENESIS_HASH: Final = "0" * 64
ENCODING_PREFIX: Final = "madoguchi-access-log-v1|"
# The outcome of the chained entry that records an archive-and-prune: the checkpoint.
PRUNED_OUTCOME: Final = "audit_pruned"

CHAINED_FIELDS: Final = (
    "sequence",
    "occurred_at",
    "zone",
    "actor",
    "actor_kind",
    "terminal",
    "client_address",
    "method",
    "route",
    "resource_ids",
    "outcome",
    "status",
    "duration_ms",
    "request_id",
    "detail",
    "previous_hash",
)


class ChainedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry as the chain sees it (a database row, or a line of an archive file)."""

    sequence: int
    occurred_at: dt.datetime
    zone: str
    actor: str | None
    actor_kind: str
    terminal: str | None
    client_address: str | None
    method: str
    route: str
    resource_ids: list[str]
    outcome: str
    status: int | None
    duration_ms: int | None
    request_id: str | None
    detail: dict[str, str]
    previous_hash: str
    entry_hash: str


class ChainBreak(msgspec.Struct, frozen=True, kw_only=True):
    """The first entry that does not verify, and why."""

    sequence: int
    reason: str


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of checking a run of entries."""

    entries: int
    anchor_hash: str
    last_sequence: int | None
    last_hash: str
    first_break: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """True when every entry verified."""
        return self.first_break is None


def _text(value: str | None) -> str:
    if value is None:
        return "~"
    return f"{len(value.encode())}:{value}"


def format_time(moment: dt.datetime) -> str:
    """The canonical text of an entry's time (UTC, microseconds), as SQL's ``to_char`` gives."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_encoding(entry: ChainedEntry | Mapping[str, Any]) -> bytes:
    """The bytes the entry's hash is computed over (see the module docstring)."""
    values = (
        entry
        if isinstance(entry, Mapping)
        else {name: getattr(entry, name) for name in CHAINED_FIELDS}
    )
    parts = [ENCODING_PREFIX]
    for name in CHAINED_FIELDS:
        value = values[name]
        if name == "occurred_at":
            parts.append(_text(format_time(value)))
        elif name == "resource_ids":
            parts.append(f"A{len(value)}:" + "".join(_text(element) for element in value))
        elif name == "detail":
            pairs = sorted(value.items())
            parts.append(f"D{len(pairs)}:" + "".join(_text(k) + _text(v) for k, v in pairs))
        elif isinstance(value, int) and not isinstance(value, bool):
            parts.append(_text(str(value)))
        else:
            parts.append(_text(value))
    return "".join(parts).encode()


def compute_hash(entry: ChainedEntry | Mapping[str, Any]) -> str:
    """The entry's hash: SHA-256 of its canonical encoding, which ends with ``previous_hash``."""
    return hashlib.sha256(canonical_encoding(entry)).hexdigest()


def check_chain(
    entries: Iterable[ChainedEntry],
    anchor_hash: str,
    *,
    after: ChainReport | None = None,
) -> ChainReport:
    """Walk entries in sequence order from ``anchor_hash``; stop at the first bad one.

    An entry is bad when its sequence does not increase, when it does not link to the
    entry before it (one removed, inserted or moved), or when its own hash does not match
    its fields (one edited). ``after`` continues a walk done in batches.
    """
    expected_previous = anchor_hash if after is None else after.last_hash
    last_sequence = None if after is None else after.last_sequence
    count = 0 if after is None else after.entries
    for entry in entries:
        reason = _first_fault(entry, expected_previous, last_sequence)
        if reason is not None:
            return ChainReport(
                entries=count,
                anchor_hash=anchor_hash,
                last_sequence=last_sequence,
                last_hash=expected_previous,
                first_break=ChainBreak(sequence=entry.sequence, reason=reason),
            )
        count += 1
        last_sequence = entry.sequence
        expected_previous = entry.entry_hash
    return ChainReport(
        entries=count,
        anchor_hash=anchor_hash,
        last_sequence=last_sequence,
        last_hash=expected_previous,
    )


def _first_fault(
    entry: ChainedEntry, expected_previous: str, last_sequence: int | None
) -> str | None:
    if last_sequence is not None and entry.sequence <= last_sequence:
        return f"sequence {entry.sequence} does not follow {last_sequence} (entries reordered)"
    if entry.previous_hash != expected_previous:
        where = "the chain's anchor" if last_sequence is None else f"entry {last_sequence}"
        return (
            f"previous_hash does not match {where} "
            "(an entry before it was removed, inserted or reordered)"
        )
    if compute_hash(entry) != entry.entry_hash:
        return "entry_hash does not match the entry's fields (the entry was changed)"
    return None


def checkpoint_anchor(checkpoints: Sequence[ChainedEntry]) -> tuple[int, str] | None:
    """The ``(through_sequence, through_hash)`` the latest archive-and-prune left, if any."""
    latest = max(checkpoints, key=lambda entry: entry.sequence, default=None)
    if latest is None:
        return None
    return int(latest.detail["through_sequence"]), latest.detail["through_hash"]
