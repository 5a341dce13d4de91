"""Parser process of a large card list import: ``python -m api.issuance.residents.parse_worker``.

Reads its task (JSON) from the command line and writes framed COPY text to stdout; see
``loading``. Imports only the sync_format reader, so it starts quickly.
"""

from __future__ import annotations

import gc
import os
import sys

# One polars thread, set before polars is imported (through loading): the workers already
# fill every core between them, so more threads only add work and take CPU from PostgreSQL
# (2 workers, 2 cores, 1,000,000 rows: 2.0 s wall with one thread each, 2.1 s with two).
os.environ.setdefault("POLARS_MAX_THREADS", "1")

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
