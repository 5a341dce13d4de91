"""The append-only, hash-chained access log (see README.md in this folder)."""

from api.core.audit.events import AccessEvent, Actor
from api.core.audit.plugin import AuditPlugin
from api.core.audit.recorder import record_event

__all__ = ("AccessEvent", "Actor", "AuditPlugin", "record_event")
