"""Access-log entries of command-line actions (``madoguchi <zone> ...``).

A command reaches the database without a request, so the access-log middleware never sees
it: each command that reads or changes a zone's data wraps its work in
:func:`logged_command`, which writes one entry per run once the outcome is known, in a
transaction of its own on the access log's engine (a refused command's transaction is
rolled back; its entry stays, as a refused request's does). The actor is the operating
system's user, kind ``cli``; its name (``cli:<user>``) is also what the services record as
staff (``created_by``, ``changed_by``, ``actor``), so an entry and the rows it changed name
the same person. Entries carry resource ids and counts, never personal data (no names,
no file names, no cell values), like a request's entry carries no query or body.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import socket
import time
from collections.abc import Iterator
from typing import Final

import click

from api.core.audit.cli import access_log_model
from api.core.audit.events import Actor
from api.core.audit.plugin import create_access_log_engine
from api.core.audit.recorder import AccessLogWriter, Row, make_row
from api.core.errors import DomainError
from api.core.settings import Zone
from sync_format import SyncFormatError

logger = logging.getLogger(__name__)

CLI_KIND: Final = "cli"
CLI_METHOD: Final = "CLI"


def cli_staff() -> str:
    """Who runs a command, as services record staff: ``cli:`` and the operating-system user."""
    return f"cli:{getpass.getuser()}"


def cli_actor() -> Actor:
    """The access log's actor for a command: kind ``cli``, named as :func:`cli_staff`."""
    return Actor(kind=CLI_KIND, name=cli_staff(), terminal=socket.gethostname())


class CommandEntry:
    """The access-log entry of one command run; the command fills it in as it goes.

    ``outcome`` left ``None`` is decided by how the command ends (see
    :func:`logged_command`); a command that reports a refusal itself and exits non-zero
    sets ``"refused"`` first.
    """

    def __init__(self, zone: Zone, command: str) -> None:
        self.zone = zone
        self.route = f"madoguchi {zone.value} {command}"
        self.actor = cli_actor()
        self.outcome: str | None = None
        self.resource_ids: list[str] = []
        self.detail: dict[str, str] = {}

    @property
    def staff(self) -> str:
        """The actor's name, as services take it for staff."""
        return self.actor.name or cli_staff()

    def note(self, **values: object) -> None:
        """Add details: counts, flags and ids (the chain holds text only; None is left out)."""
        for key, value in values.items():
            if value is None:
                continue
            self.detail[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def row(self, outcome: str, duration_ms: int) -> Row:
        """The insertable access-log row."""
        return make_row(
            zone=self.zone.value,
            actor=self.actor,
            client_address=None,
            method=CLI_METHOD,
            route=self.route,
            outcome=outcome,
            resource_ids=self.resource_ids,
            duration_ms=duration_ms,
            detail=self.detail,
        )


def outcome_of(error: BaseException) -> str:
    """The outcome word of a command that ended by raising ``error``.

    ``success`` for a clean exit; ``refused`` when a domain or sync-format refusal caused it
    (the command line turns those into ``SystemExit`` with the refusal as its cause);
    ``aborted`` when the operator stopped it; ``failed`` otherwise.
    """
    if isinstance(error, SystemExit) and error.code in (None, 0):
        return "success"
    if isinstance(error, KeyboardInterrupt | click.exceptions.Abort):
        return "aborted"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, DomainError | SyncFormatError):
            return "refused"
        cause = cause.__cause__
    return "failed"


def write_command_entry(zone: Zone, row: Row) -> None:
    """Append one row to the zone's access log in its own transaction (durable on return).

    Called outside any event loop: finding the database may start the embedded server,
    which runs a loop of its own.
    """
    # Imported here: zone_cli and the zone models import the zone apps, which import this
    # package.
    from api.core.database import resolve_database_url  # noqa: PLC0415
    from api.core.zone_cli import zone_settings  # noqa: PLC0415

    url = resolve_database_url(zone_settings(zone))
    asyncio.run(_append(url, zone, row))


async def _append(url: str, zone: Zone, row: Row) -> None:
    engine = create_access_log_engine(url, null_pool=True)
    try:
        await AccessLogWriter(engine, access_log_model(zone)).write_now([row])
    finally:
        await engine.dispose()


@contextlib.contextmanager
def logged_command(zone: Zone, command: str) -> Iterator[CommandEntry]:
    """Write one access-log entry for the command run inside the ``with`` block.

    The entry is written after the block, however it ends. When the block raised, a
    failure to write the entry is logged and the command's own error goes on (it says
    what happened to the data); after a clean run, that failure is raised: the operator
    must learn that the action is not in the log.
    """
    entry = CommandEntry(zone, command)
    started = time.perf_counter()

    def row(outcome: str) -> Row:
        return entry.row(entry.outcome or outcome, round((time.perf_counter() - started) * 1000))

    try:
        yield entry
    except BaseException as error:
        try:
            write_command_entry(zone, row(outcome_of(error)))
        except Exception:
            logger.exception("access log: the entry of %r was not written", entry.route)
        raise
    write_command_entry(zone, row("success"))
