"""Secrets a zone generates for itself when none is configured."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Final

from api.core.settings import ZoneSettings

# token_urlsafe(48) is 64 characters; a file holding fewer was not written whole by us.
_SECRET_BYTES: Final = 48
SECRET_LENGTH: Final = 64


class SecretFileError(RuntimeError):
    """A generated secret's file holds something too short to be one (empty, cut off)."""


def read_or_create_secret(path: Path) -> str:
    """The secret stored at ``path``, generated once (mode 0600) when the file is missing.

    The secret is written whole to a temporary file beside ``path`` and linked into place:
    ``path`` never exists half-written, and of several processes starting at once the first
    link wins and every other one reads the winner's secret. A file too short to be a
    generated secret is refused, never used: an empty key would make tokens forgeable.
    Several replicas must share one configured secret; a generated one suits one machine.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _publish(path, secrets.token_urlsafe(_SECRET_BYTES))
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < SECRET_LENGTH:
        message = (
            f"{path} holds {len(secret)} characters, not a generated secret of "
            f"{SECRET_LENGTH}: it is damaged or was not written by Madoguchi. Remove it to "
            "generate a new one (sessions signed with the old one end), or configure the "
            "secret in the environment."
        )
        raise SecretFileError(message)
    return secret


def _publish(path: Path, secret: str) -> None:
    """Make ``path`` hold ``secret`` unless another process made it first (then keep theirs)."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    try:
        # mkstemp creates the file 0600, before anything is written to it.
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # atomic; fails if another process linked first
    finally:
        temporary.unlink()
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the new name survives a crash too
    finally:
        os.close(folder)


def resolve_secret_key(settings: ZoneSettings) -> str:
    """The key signing the zone's cookies and CSRF tokens: configured, or generated once."""
    return settings.secret_key or read_or_create_secret(settings.zone_dir / "secret_key")
