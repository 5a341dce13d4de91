"""The same card list again: recognised from its earlier record, without parsing."""

from __future__ import annotations

from typing import Any

from sync_format.csv import CardListProfile

# The latest import that applied this very file with nothing to warn about.
_SAME_FILE_APPLIED = """
SELECT id, xmin::text AS xid, encoding, rows, new, changed, unchanged, gaiji
FROM card_imports
WHERE sha256 = $1 AND profile = $2 AND status = 'applied'
    AND problem_count = 0 AND warning_count = 0
ORDER BY id DESC
LIMIT 1
"""
# Whether residents still hold exactly what that import left: as many rows as the file
# had (so none was deleted) and none written by a later transaction (xmin newer).
_RESIDENTS_SINCE = """
SELECT count(*) AS total,
    pg_current_xact_id_if_assigned() IS NOT NULL AS wrote_before,
    count(*) FILTER (WHERE age(r.xmin) < age($1::text::xid)) AS newer,
    age($1::text::xid) AS import_age
FROM residents r
"""


async def same_file_again(
    driver: Any, sha256: str, profile: CardListProfile
) -> dict[str, Any] | None:
    """The record of this file's last application, if nothing in residents changed since.

    Sound because only imports write ``residents``, imports run one at a time (an advisory
    lock) and an applied record is never rewritten: a row inserted or updated later has a
    newer ``xmin`` than the record, and a deleted one leaves fewer rows than the file had.
    A caller's transaction that has already written something is compared instead (its
    own writes carry an ``xmin`` that cannot be ordered against the record's). Otherwise
    None: compare as usual.
    """
    if not sha256:
        return None
    earlier = await driver.fetchrow(_SAME_FILE_APPLIED, sha256, profile.name[:100])
    if earlier is None:
        return None
    since = await driver.fetchrow(_RESIDENTS_SINCE, earlier["xid"])
    rows = earlier["new"] + earlier["changed"] + earlier["unchanged"]
    # age() stops meaning "newer" near xid wraparound; then compare instead.
    if (
        since["wrote_before"]
        or since["newer"]
        or since["total"] != rows
        or since["import_age"] > 1_000_000_000
    ):
        return None
    return dict(earlier)
