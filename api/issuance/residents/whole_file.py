"""Checks of a card list that need the whole file, run in PostgreSQL on the staging table.

A large file is parsed in parts (worker processes, blocks), so a reservation ID seen twice
or an application ID that belongs to two cards can only be found once every row is staged.
"""

from __future__ import annotations

from typing import Any, Final

from api.issuance.residents.loading import STAGED_COLUMNS
from sync_format.csv import Problem, ProblemCode

STAGING_TABLE: Final = "card_list_staging"
# The comparison: the staged rows that are new or differ from their resident.
DIFF_TABLE: Final = "card_list_diff"
CARD_COLUMNS: Final = STAGED_COLUMNS[1:]

# Rows with the same reservation ID (the block reader leaves this check to the database).
_DUPLICATES = f"""
SELECT * FROM {STAGING_TABLE}
WHERE reservation_id IN (
    SELECT reservation_id FROM {STAGING_TABLE} GROUP BY reservation_id HAVING count(*) > 1
)
ORDER BY reservation_id, line
"""  # noqa: S608
# Whether any reservation or application ID is there twice: one scan with two hash tables,
# so a clean file (the usual case) skips the two detailed queries below.
_ANY_TWICE = f"""
SELECT DISTINCT CASE WHEN reservation_id IS NULL THEN 'application_id'
    ELSE 'reservation_id' END AS key
FROM (
    SELECT reservation_id, application_id FROM {STAGING_TABLE}
    GROUP BY GROUPING SETS ((reservation_id), (application_id))
    HAVING count(*) > 1
) twice
"""  # noqa: S608
# An application_id belongs to one card: within the file, and against other cards.
_APPLICATION_IDS_TWICE = f"""
SELECT s.line, s.application_id, first_value(s.line) OVER w AS first_line
FROM {STAGING_TABLE} s
WHERE s.application_id IN (
    SELECT application_id FROM {STAGING_TABLE} GROUP BY application_id HAVING count(*) > 1
)
WINDOW w AS (PARTITION BY s.application_id ORDER BY s.line)
ORDER BY s.line
"""  # noqa: S608
# Only new and changed rows can take another card's application_id: a row equal to its
# resident has that resident's own (unique) application_id. So the comparison's rows are
# checked, not the whole file (a join of 1,000,000 rows with residents saved on a re-import).
_TAKEN_APPLICATION_IDS = f"""
SELECT d.line, d.application_id, r.reservation_id
FROM {DIFF_TABLE} d JOIN residents r ON r.application_id = d.application_id
WHERE r.reservation_id <> d.reservation_id
ORDER BY d.line
"""  # noqa: S608


def _duplicate_findings(rows: list[Any]) -> tuple[list[Problem], list[Problem], list[int]]:
    """Sort rows seen twice into warnings (identical, kept once) and problems (different)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    drop: list[int] = []
    first: Any = None
    for row in rows:
        if first is None or first["reservation_id"] != row["reservation_id"]:
            first = row
            continue
        same = all(row[column] == first[column] for column in CARD_COLUMNS)
        found = Problem(
            code=ProblemCode.DUPLICATE_IDENTICAL if same else ProblemCode.DUPLICATE_CONFLICT,
            reason=f"same row as line {first['line']}; kept once"
            if same
            else f"reservation ID also on line {first['line']} with different content",
            line=row["line"],
            column="製造管理番号",
            value=row["reservation_id"],
        )
        (warnings if same else problems).append(found)
        drop.append(row["line"])
    return problems, warnings, drop


async def cross_checks(driver: Any) -> tuple[list[Problem], list[Problem]]:
    """Checks that need the whole file: the same reservation or application ID twice.

    The block reader leaves duplicates to this check (a large file is read in parts).
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    twice = {row["key"] for row in await driver.fetch(_ANY_TWICE)}
    if "reservation_id" in twice:
        duplicates, warnings, drop = _duplicate_findings(await driver.fetch(_DUPLICATES))
        problems.extend(duplicates)
        if drop:
            await driver.execute(
                f"DELETE FROM {STAGING_TABLE} WHERE line = ANY($1::int[])",  # noqa: S608
                drop,
            )
    if "application_id" in twice:
        problems.extend(
            _application_id_problem(
                "row.application_id_duplicate", f"申請書ID also on line {row['first_line']}", row
            )
            for row in await driver.fetch(_APPLICATION_IDS_TWICE)
            if row["line"] != row["first_line"]
        )
    return problems, warnings


async def taken_application_ids(driver: Any) -> list[Problem]:
    """New or changed rows whose application ID is already another card's (needs the diff)."""
    return [
        _application_id_problem(
            "row.application_id_taken",
            f"申請書ID is already the card {row['reservation_id']}'s",
            row,
        )
        for row in await driver.fetch(_TAKEN_APPLICATION_IDS)
    ]


def _application_id_problem(code: str, reason: str, row: Any) -> Problem:
    return Problem(
        code=code, reason=reason, line=row["line"], column="申請書ID", value=row["application_id"]
    )
