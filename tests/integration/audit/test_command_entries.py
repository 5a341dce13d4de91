"""Command-line actions in the access log: one chained entry per run, whatever its end."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import click
import pytest
from sqlalchemy.exc import SQLAlchemyError

from api.core.audit.commands import cli_staff, logged_command, outcome_of
from api.core.audit.service import verify_database
from api.core.errors import DomainError
from api.core.settings import Zone
from sync_format import BadMagic
from tests.integration.audit.conftest import AuditDatabase
from tests.integration.command_entries import command_entries, use_zone_database


@pytest.fixture
def commands_database(
    audit_database: AuditDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AuditDatabase:
    """Each zone's access log, with that zone's commands pointed at it."""
    use_zone_database(monkeypatch, audit_database.zone, audit_database.url, tmp_path)
    return audit_database


def _import(zone: Zone) -> None:
    with logged_command(zone, "import-things") as entry:
        entry.resource_ids.append("card_import=7")
        entry.note(rows=3, dry_run=False, profile="default", unknown=None)


def _refused(zone: Zone) -> None:
    with logged_command(zone, "import-things"):
        try:
            raise DomainError("the file has 1 problem; nothing was imported")
        except DomainError as error:
            raise SystemExit(1) from error  # as the commands report a refusal


async def test_a_command_writes_one_chained_entry_naming_the_cli_user_and_its_counts(
    commands_database: AuditDatabase,
) -> None:
    zone = commands_database.zone

    await asyncio.to_thread(_import, zone)

    (entry,) = command_entries(commands_database.url)
    assert entry == {
        "actor": cli_staff(),
        "actor_kind": "cli",
        "terminal": socket.gethostname(),
        "client_address": None,
        "method": "CLI",
        "route": f"madoguchi {zone.value} import-things",
        "outcome": "success",
        "resource_ids": ["card_import=7"],
        "detail": {"rows": "3", "dry_run": "false", "profile": "default"},
        "duration_ms": entry["duration_ms"],
    }
    assert entry["duration_ms"] >= 0
    report = await verify_database(commands_database.engine, commands_database.model)
    assert (report.ok, report.entries) == (True, 1)


async def test_a_refused_command_is_logged_as_refused_and_still_exits_non_zero(
    commands_database: AuditDatabase,
) -> None:
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(_refused, commands_database.zone)

    assert exited.value.code == 1
    assert [entry["outcome"] for entry in command_entries(commands_database.url)] == ["refused"]


def _from(cause: BaseException) -> SystemExit:
    exit_ = SystemExit(1)
    exit_.__cause__ = cause
    return exit_


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (SystemExit(0), "success"),
        (SystemExit(None), "success"),
        (_from(DomainError("refused")), "refused"),
        (_from(BadMagic("not a bundle")), "refused"),
        (BadMagic("not a bundle"), "refused"),
        (KeyboardInterrupt(), "aborted"),
        (click.exceptions.Abort(), "aborted"),
        (SystemExit(1), "failed"),
        (RuntimeError("disk full"), "failed"),
    ],
)
def test_how_a_command_ends_decides_its_outcome(error: BaseException, outcome: str) -> None:
    assert outcome_of(error) == outcome


def _fails(zone: Zone) -> None:
    with logged_command(zone, "import-things"):
        raise RuntimeError("the command's own error")


def _succeeds(zone: Zone) -> None:
    with logged_command(zone, "import-things"):
        pass


async def test_an_entry_that_cannot_be_written_never_hides_the_commands_own_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nothing listens on port 9 (discard): the access log cannot be reached.
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"
    use_zone_database(monkeypatch, Zone.ISSUANCE, unreachable, tmp_path)

    with pytest.raises(RuntimeError, match="the command's own error"):
        await asyncio.to_thread(_fails, Zone.ISSUANCE)
    # After a clean run the operator must learn that the action is not in the log.
    with pytest.raises((OSError, SQLAlchemyError)):
        await asyncio.to_thread(_succeeds, Zone.ISSUANCE)
