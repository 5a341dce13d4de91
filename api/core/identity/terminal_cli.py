"""``madoguchi <zone> terminals ...``: register office terminals from the server's shell.

The API does the same for an administrator, but only from a machine the zone lets in: with
``*_REQUIRE_REGISTERED_TERMINAL`` on, a lost or replaced certificate would otherwise leave
nobody able to register the next one. Each run is in the zone's access log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.identity.cli import run_with_session, zone_tables
from api.core.identity.services import TerminalService
from api.core.identity.terminals import canonical_fingerprint
from api.core.settings import Zone, ZoneSettings


def certificate_fingerprint(data: bytes) -> str:
    """The fingerprint nginx passes for a certificate (PEM or DER): SHA-1 of DER, hex.

    Raises ValueError when the bytes hold no X.509 certificate.
    """
    if b"-----BEGIN" in data:
        certificate = x509.load_pem_x509_certificate(data)
    else:
        certificate = x509.load_der_x509_certificate(data)
    # SHA-1 because nginx's $ssl_client_fingerprint is SHA-1: an identifier, not a signature.
    return certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303


def _fingerprint(fingerprint: str | None, certificate: Path | None) -> str:
    if (fingerprint is None) == (certificate is None):
        message = "give either --fingerprint or --certificate"
        raise click.UsageError(message)
    if certificate is not None:
        try:
            return certificate_fingerprint(certificate.read_bytes())
        except ValueError as error:
            message = f"{certificate}: not an X.509 certificate (PEM or DER): {error}"
            raise click.BadParameter(message, param_hint="--certificate") from error
    canonical = canonical_fingerprint(fingerprint or "")
    if canonical is None:
        message = f"{fingerprint!r}: not 40 to 128 hexadecimal digits"
        raise click.BadParameter(message, param_hint="--fingerprint")
    return canonical


_FINGERPRINT = click.option(
    "--fingerprint", help="The certificate's fingerprint (hex; colons and capitals allowed)."
)
_CERTIFICATE = click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The terminal's certificate file (PEM or DER; not its key).",
)


def terminals_commands(zone: Zone) -> click.Group:
    """The ``terminals`` command group of a zone (mounted under ``madoguchi <zone>``)."""
    from api.core.audit.commands import logged_command  # noqa: PLC0415 (see users_commands)

    @click.group(name="terminals", help=f"Registered office terminals of the {zone.value} zone.")
    def terminals() -> None:
        pass

    def service(session: AsyncSession) -> TerminalService:
        return TerminalService.for_zone(session, zone_tables(zone))

    @terminals.command(name="register")
    @click.argument("name")
    @_FINGERPRINT
    @_CERTIFICATE
    def register(name: str, fingerprint: str | None, certificate: Path | None) -> None:
        """Register the terminal NAME by its certificate (or that certificate's fingerprint)."""
        digits = _fingerprint(fingerprint, certificate)

        async def work(session: AsyncSession, _: ZoneSettings) -> None:
            await service(session).register(name=name, fingerprint=digits)
            await session.commit()

        with logged_command(zone, "terminals register") as entry:
            entry.resource_ids.extend([name, digits])
            try:
                run_with_session(zone, work)
            except DomainError as error:
                entry.outcome = "refused"
                click.echo(f"{zone.value}: {error.message}", err=True)
                sys.exit(1)
        click.echo(f"{zone.value}: terminal {name} registered ({digits})")

    def set_active(digits: str, active: bool) -> None:
        async def work(session: AsyncSession, _: ZoneSettings) -> Any:
            terminals = service(session)
            terminal = await terminals.get_one_or_none(fingerprint=digits)
            if terminal is not None:
                terminal.active = active
                await session.commit()
            return terminal

        verb = "activate" if active else "deactivate"
        with logged_command(zone, f"terminals {verb}") as entry:
            entry.resource_ids.append(digits)
            if run_with_session(zone, work) is None:
                entry.outcome = "refused"
                click.echo(f"{zone.value}: no terminal with fingerprint {digits}", err=True)
                sys.exit(1)
        click.echo(f"{zone.value}: terminal {digits} {verb}d")

    @terminals.command(name="deactivate")
    @_FINGERPRINT
    @_CERTIFICATE
    def deactivate(fingerprint: str | None, certificate: Path | None) -> None:
        """Take a lost or replaced terminal out of service: refused from its next request on."""
        set_active(_fingerprint(fingerprint, certificate), active=False)

    @terminals.command(name="activate")
    @_FINGERPRINT
    @_CERTIFICATE
    def activate(fingerprint: str | None, certificate: Path | None) -> None:
        """Put a deactivated terminal back into service."""
        set_active(_fingerprint(fingerprint, certificate), active=True)

    @terminals.command(name="list")
    def list_terminals() -> None:
        """Every registered terminal: fingerprint, in service or not, name."""

        async def work(session: AsyncSession, _: ZoneSettings) -> list[Any]:
            terminals = service(session)
            model = terminals.tables.registered_terminal
            return list(await terminals.get_many(order_by=[(model.name, False)]))

        with logged_command(zone, "terminals list"):
            rows = run_with_session(zone, work)
        for terminal in rows:
            state = "active" if terminal.active else "inactive"
            click.echo(f"{terminal.fingerprint}\t{state}\t{terminal.name}")

    return terminals
