"""The account review report for personnel changes (人事異動の棚卸し): JSON and CSV.

Lists every account that needs a look: unused for long, validity ending soon or ended,
holding administrator rights, or with an old password.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, Final

from api.core.identity.accounts import password_expires_at
from api.core.identity.permissions import is_administrator
from api.core.identity.schemas import ReviewEntry, ReviewReport
from api.core.identity.services import AccountService, RoleService
from api.core.settings import ZoneSettings

# Without an expiry setting a password counts as old after a year.
OLD_PASSWORD_DAYS_WITHOUT_EXPIRY: Final = 365
CSV_COLUMNS: Final = (
    "login_id",
    "display_name",
    "reasons",
    "disabled",
    "last_login_at",
    "valid_from",
    "valid_until",
    "password_changed_at",
    "permissions",
)


def review_reasons(
    account: Any,
    permissions: list[str],
    *,
    now: dt.datetime,
    settings: ZoneSettings,
    expiring_within_days: int,
) -> list[str]:
    """Why one account belongs in the review (empty when it does not)."""
    reasons: list[str] = []
    dormant_since = now - dt.timedelta(days=settings.dormant_account_days)
    if (account.last_login_at or account.created_at) < dormant_since:
        reasons.append("dormant")
    today = now.astimezone(settings.tz).date()
    if account.valid_until is not None:
        if account.valid_until < today:
            reasons.append("validity_ended")
        elif account.valid_until <= today + dt.timedelta(days=expiring_within_days):
            reasons.append("validity_ending")
    if is_administrator(permissions):
        reasons.append("administrator")
    expires_at = password_expires_at(account, settings)
    old_from = (
        expires_at - dt.timedelta(days=settings.password_warning_days)
        if expires_at is not None
        else account.password_changed_at + dt.timedelta(days=OLD_PASSWORD_DAYS_WITHOUT_EXPIRY)
    )
    if now >= old_from:
        reasons.append("password_old")
    return reasons


async def account_review(
    accounts: AccountService,
    roles: RoleService,
    *,
    now: dt.datetime,
    settings: ZoneSettings,
    expiring_within_days: int,
) -> ReviewReport:
    """The review report over every account of the zone."""
    everyone = list(
        await accounts.get_many(order_by=[(accounts.tables.staff_account.login_id, False)])
    )
    held = await accounts.role_ids_of([account.id for account in everyone])
    role_ids = sorted({role_id for ids in held.values() for role_id in ids})
    granted = await roles.permissions_by_role(role_ids)
    entries: list[ReviewEntry] = []
    for account in everyone:
        permissions = sorted({name for role_id in held[account.id] for name in granted[role_id]})
        reasons = review_reasons(
            account,
            permissions,
            now=now,
            settings=settings,
            expiring_within_days=expiring_within_days,
        )
        if reasons:
            entries.append(
                ReviewEntry(
                    login_id=account.login_id,
                    display_name=account.display_name,
                    reasons=reasons,
                    disabled=account.disabled,
                    last_login_at=account.last_login_at,
                    valid_from=account.valid_from,
                    valid_until=account.valid_until,
                    password_changed_at=account.password_changed_at,
                    permissions=permissions,
                )
            )
    return ReviewReport(
        generated_at=now,
        dormant_days=settings.dormant_account_days,
        expiring_within_days=expiring_within_days,
        entries=entries,
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    text = value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def review_csv(report: ReviewReport) -> str:
    """The report as CSV (UTF-8 with BOM, so Excel opens Japanese names correctly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in report.entries:
        writer.writerow([_cell(getattr(entry, column)) for column in CSV_COLUMNS])
    return "\ufeff" + buffer.getvalue()
