"""Operator commands for zone keys and bundle files: ``madoguchi keys …`` and ``madoguchi sync …``.

Key directory: ``--key-dir``, else ``MADOGUCHI_KEY_DIR``, else ``var/keys/<zone>``.
Every refusal exits with the exit code of its ``SyncFormatError`` subclass.
"""

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
import msgspec

from api.core.settings import Zone, load_settings
from sync_format import (
    Inspection,
    KeyFileError,
    SyncFormatError,
    TrustStore,
    ZonePublicKeys,
    fingerprint,
    init_keys,
    inspect_bundle,
    load_secret_keys,
    open_bundle,
    read_public_keys,
    read_rotation,
    rotate_keys,
)
from sync_format.keys import PUBLIC_KEYS_FILE, ROTATION_FORMAT

ZONES = ("issuance", "reservation")
Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


def refusals_exit(command: Callable[Parameters, Result]) -> Callable[Parameters, Result]:
    """Turn a SyncFormatError into a message on stderr and its distinct exit code."""

    @functools.wraps(command)
    def wrapper(*args: Parameters.args, **kwargs: Parameters.kwargs) -> Result:
        try:
            return command(*args, **kwargs)
        except SyncFormatError as error:
            click.echo(f"refused ({type(error).__name__}): {error}", err=True)
            raise SystemExit(error.exit_code) from error

    return wrapper


zone_option = click.option(
    "--zone",
    type=click.Choice(ZONES),
    envvar="MADOGUCHI_ZONE",
    required=True,
    help="This zone (env MADOGUCHI_ZONE).",
)
key_dir_option = click.option(
    "--key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MADOGUCHI_KEY_DIR",
    default=None,
    help="Key directory (env MADOGUCHI_KEY_DIR; default $MADOGUCHI_VAR_DIR/keys/<zone>).",
)


def resolve_key_dir(zone: str, key_dir: Path | None) -> Path:
    """Return the key directory for zone: the option or variable, else the zone's setting."""
    if key_dir is not None:
        return key_dir
    return load_settings(Zone(zone)).key_dir


def _echo_public(keys: ZonePublicKeys) -> None:
    click.echo(f"zone:            {keys.zone}")
    click.echo(f"signing key:     {fingerprint(keys.signing_key_id)}")
    click.echo(f"  key id         {keys.signing_key_id}")
    click.echo(f"encryption key:  {fingerprint(keys.encryption_key_id)}")
    click.echo(f"  key id         {keys.encryption_key_id}")


@click.group("keys")
def keys_group() -> None:
    """Create, show, pin and rotate this zone's signing and encryption keys."""


@keys_group.command("init")
@zone_option
@key_dir_option
@refusals_exit
def keys_init(zone: str, key_dir: Path | None) -> None:
    """Create this zone's key pairs (private files mode 0600); never overwrites."""
    directory = resolve_key_dir(zone, key_dir)
    public = init_keys(directory, zone)
    _echo_public(public)
    click.echo(
        f"Public keys written to {directory / PUBLIC_KEYS_FILE}: carry it to the other zone."
    )


@keys_group.command("show")
@zone_option
@key_dir_option
@refusals_exit
def keys_show(zone: str, key_dir: Path | None) -> None:
    """Show this zone's public keys and fingerprints, and the keys it trusts."""
    directory = resolve_key_dir(zone, key_dir)
    _echo_public(read_public_keys(directory / PUBLIC_KEYS_FILE))
    for pinned in TrustStore.load(directory).zones():
        click.echo("trusted:")
        _echo_public(pinned)


@keys_group.command("trust")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@zone_option
@key_dir_option
@click.option("--yes", is_flag=True, help="Do not ask to confirm the fingerprint.")
@refusals_exit
def keys_trust(file: Path, zone: str, key_dir: Path | None, yes: bool) -> None:
    """Pin the other zone's public keys file, or accept its key rotation statement."""
    directory = resolve_key_dir(zone, key_dir)
    store = TrustStore.load(directory)
    try:
        kind = msgspec.json.decode(file.read_bytes(), type=dict[str, object]).get("format")
    except msgspec.DecodeError as error:
        msg = f"{file} is not JSON: {error}"
        raise KeyFileError(msg) from error
    if kind == ROTATION_FORMAT:
        new_keys = store.accept_rotation(read_rotation(file))
        click.echo("Rotation statement verified with the pinned and the new key.")
        _echo_public(new_keys)
    else:
        keys = read_public_keys(file)
        if keys.zone == zone:
            msg = f"{file} holds this zone's own keys ({zone}); pin the other zone's keys"
            raise KeyFileError(msg)
        _echo_public(keys)
        if not yes:
            click.confirm("Does the other zone read out the same fingerprints?", abort=True)
        store.pin(keys)
    store.save(directory)
    click.echo("Pinned.")


@keys_group.command("rotate")
@zone_option
@key_dir_option
@refusals_exit
def keys_rotate(zone: str, key_dir: Path | None) -> None:
    """Replace this zone's keys; the old ones are retired; writes a rotation statement."""
    directory = resolve_key_dir(zone, key_dir)
    public, statement = rotate_keys(directory)
    _echo_public(public)
    click.echo(f"Rotation statement: {statement}: carry it to the other zone (keys trust).")


@click.group("sync")
def sync_group() -> None:
    """Inspect and verify bundle files (applying them is the zone's import command)."""


def _load_context(zone: str, key_dir: Path | None) -> tuple[TrustStore, Path]:
    directory = resolve_key_dir(zone, key_dir)
    return TrustStore.load(directory), directory


def _echo_inspection(report: Inspection) -> None:
    click.echo(f"file:       {report.path} ({report.file_size} bytes)")
    header = report.header
    if header is not None:
        base = f"delta from {header.base_sequence}" if header.mode == "delta" else "full"
        counts = ", ".join(
            f"{name}={count}" for name, count in sorted(header.record_counts.items())
        )
        click.echo(f"kind:       {header.kind} (schema v{header.schema_version})")
        click.echo(f"zones:      {header.source_zone} -> {header.target_zone}")
        click.echo(f"sequence:   {header.sequence} ({base})")
        click.echo(f"bundle id:  {header.bundle_id}")
        click.echo(f"created at: {header.created_at.isoformat()}")
        click.echo(f"records:    {header.record_total} ({counts or 'none'})")
        click.echo(f"payload:    {header.payload_length} bytes, sha256 {header.payload_sha256}")
        click.echo(f"recipient:  {fingerprint(header.recipient_key_id)}")
    pinned = f"pinned for {report.signer_zone}" if report.signer_zone else "not verified"
    click.echo(f"sender:     {report.sender_fingerprint or '?'} ({pinned})")
    if report.error is None and report.payload_verified:
        click.echo("verified:   yes (signature, recipient, every chunk and the digest)")
    elif report.error is None:
        click.echo("verified:   signature only (this zone's keys are not available)")
    else:
        click.echo(f"verified:   NO: {report.error.__name__}: {report.problem}")


@sync_group.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@zone_option
@key_dir_option
def sync_inspect(file: Path, zone: str, key_dir: Path | None) -> None:
    """Show a bundle's header, sender, counts and sizes, and whether it verifies."""
    trusted, directory = _load_context(zone, key_dir)
    try:
        keys = load_secret_keys(directory)
    except SyncFormatError:
        keys = None  # inspection still shows the header and checks the signature
    _echo_inspection(inspect_bundle(file, trusted, keys))


@sync_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@zone_option
@key_dir_option
@refusals_exit
def sync_verify(file: Path, zone: str, key_dir: Path | None) -> None:
    """Verify a bundle completely: exit 0 when valid, the refusal's exit code otherwise."""
    trusted, directory = _load_context(zone, key_dir)
    bundle = open_bundle(file, recipient=load_secret_keys(directory), trusted=trusted)
    header = bundle.header
    click.echo(
        f"valid: {header.kind} bundle {header.sequence} from {header.source_zone}, "
        f"{header.record_total} records, digest {bundle.digest}"
    )
