"""Files the zone hands over (bundles, receipts) appear only once their transaction commits.

A file is written under a hidden temporary name in its folder and renamed to its real
name by the session's outermost commit; a rollback deletes it. So an export or import
whose commit fails leaves no file behind, and the sequence number it took (rolled back
with it) can be used again without clashing with a stale file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

# Session.info key of the files waiting for their transaction to end.
_UNPUBLISHED: Final = "madoguchi.unpublished_files"


@dataclass(frozen=True)
class _Unpublished:
    """A file written under a hidden name, waiting for its transaction to end."""

    transaction: SessionTransaction
    partial: Path
    path: Path


def _sync_directory(directory: Path) -> None:
    # The rename is only durable (on a USB stick pulled right after) once the folder is synced.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish_committed(session: Session) -> None:
    # after_commit fires for a released savepoint too: only the outermost commit counts.
    if session.get_nested_transaction() is not None:
        return
    root = session.get_transaction()
    for bundle in session.info.get(_UNPUBLISHED, []):
        if bundle.transaction is root:
            # The export is recorded: its sequence number and file name are taken for good.
            bundle.partial.replace(bundle.path)
            _sync_directory(bundle.path.parent)


def _discard_unpublished(session: Session, transaction: SessionTransaction) -> None:
    pending: list[_Unpublished] = session.info.get(_UNPUBLISHED, [])
    # After a commit the partial file is already renamed; after a rollback it goes.
    for bundle in [bundle for bundle in pending if bundle.transaction is transaction]:
        bundle.partial.unlink(missing_ok=True)
        pending.remove(bundle)


def publish_on_commit(session: AsyncSession, partial: Path, path: Path) -> None:
    """Rename partial to path when the session's transaction commits; delete it otherwise.

    The transaction is the outermost one in progress (a savepoint released is not a
    commit). Until it ends the file has only its hidden temporary name. Call it outside
    any savepoint: a savepoint rolled back does not delete the file (only the outermost
    transaction's end decides).
    """
    sync = session.sync_session
    transaction = sync.get_transaction()
    if transaction is None:
        message = "publish_on_commit needs a transaction in progress"
        raise RuntimeError(message)
    sync.info.setdefault(_UNPUBLISHED, []).append(_Unpublished(transaction, partial, path))
    if not event.contains(sync, "after_commit", _publish_committed):
        event.listen(sync, "after_commit", _publish_committed)
        event.listen(sync, "after_transaction_end", _discard_unpublished)
