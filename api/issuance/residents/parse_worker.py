"""Parser process of a large card list import: ``python -m api.issuance.residents.parse_worker``.

Reads its task (JSON) from the command line and writes framed COPY text to stdout; see
``loading``. Imports only the sync_format reader, so it starts quickly.
"""

from __future__ import annotations

import gc
import sys

import msgspec

from api.issuance.residents.loading import WorkerTask, parse_part


def main() -> None:
    """Parse the share named on the command line into stdout."""
    # A short-lived process that allocates millions of small lists and strings and makes
    # no reference cycles worth collecting: the cyclic collector only costs time here
    # (~15% of parsing).
    gc.disable()
    task = msgspec.json.decode(sys.argv[1], type=WorkerTask)
    parse_part(
        task.path, task.part, task.profile, sys.stdout.buffer, line_numbers=task.line_numbers
    )


if __name__ == "__main__":
    main()
