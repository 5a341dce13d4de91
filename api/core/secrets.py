"""Secrets a zone generates for itself when none is configured."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.core.settings import ZoneSettings


def read_or_create_secret(path: Path) -> str:
    """The secret stored at ``path``, generated once (mode 0600) when the file is missing.

    Several replicas must share one configured secret; a generated one suits one machine.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once cannot both write a different secret.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def resolve_secret_key(settings: ZoneSettings) -> str:
    """The key signing the zone's cookies and CSRF tokens: configured, or generated once."""
    return settings.secret_key or read_or_create_secret(settings.zone_dir / "secret_key")
