"""Files the zone hands over (bundles, receipts) appear only once their transaction commits.

A file is written under a hidden temporary name in its folder and renamed to its real
name by the session's outermost commit; a rollback deletes it. So an export or import
whose commit fails leaves no file behind, and the sequence number it took (rolled back
with it) can be used again without clashing with a stale file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from sync_format.bundle import fsync_directory

# Session.info key of the files waiting for their transaction to end.
_UNPUBLISHED: Final = "madoguchi.unpublished_files"


@dataclass(frozen=True)
class _Unpublished:
    """A file written under a hidden name, waiting for its transaction to end."""

    transaction: SessionTransaction
    partial: Path
    path: Path


def _publish_committed(session: Session) -> None:
    # after_commit fires for a released savepoint too: only the outermost commit counts.
    if session.get_nested_transaction() is not None:
        return
    root = session.get_transaction()
    for bundle in session.info.get(_UNPUBLISHED, []):
        if bundle.transaction is root:
            # The export is recorded: its sequence number and file name are taken for good.
            bundle.partial.replace(bundle.path)
            fsync_directory(bundle.path.parent)


def _discard_unpublished(session: Session, transaction: SessionTransaction) -> None:
    pending: list[_Unpublished] = session.info.get(_UNPUBLISHED, [])
    # After a commit the partial file is already renamed; after a rollback it goes.
    for bundle in [bundle for bundle in pending if bundle.transaction is transaction]:
        bundle.partial.unlink(missing_ok=True)
        pending.remove(bundle)


def publish_on_commit(session: AsyncSession, path: Path) -> Path:
    """Return the hidden name to write path's file under, until the transaction ends.

    On the commit of the session's outermost transaction (a savepoint released is not a
    commit) the file is renamed to path; otherwise it is deleted. Hidden names
    (``.<name>.partial``, beside path) are never carried to the other zone. Call it outside
    any savepoint: a savepoint rolled back does not delete the file (only the outermost
    transaction's end decides).
    """
    sync = session.sync_session
    transaction = sync.get_transaction()
    if transaction is None:
        message = "publish_on_commit needs a transaction in progress"
        raise RuntimeError(message)
    partial = path.with_name(f".{path.name}.partial")
    sync.info.setdefault(_UNPUBLISHED, []).append(_Unpublished(transaction, partial, path))
    if not event.contains(sync, "after_commit", _publish_committed):
        event.listen(sync, "after_commit", _publish_committed)
        event.listen(sync, "after_transaction_end", _discard_unpublished)
    return partial
