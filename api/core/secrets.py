"""The key that signs a zone's cookies and CSRF tokens."""

from __future__ import annotations

import os
import secrets

from api.core.settings import ZoneSettings


def resolve_secret_key(settings: ZoneSettings) -> str:
    """The configured secret key, or one generated once into the zone's folder (mode 0600).

    Several replicas must share one configured key; the generated one suits one machine.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.zone_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once cannot both write a different key.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()
