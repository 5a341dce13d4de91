"""sync_format stays a pure library: importing it loads no web framework or database driver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_sync_format_loads_no_web_or_database_modules() -> None:
    code = (
        "import sys, sync_format, sync_format.bundle, sync_format.keys, sync_format.sequence\n"
        "banned = ('litestar', 'sqlalchemy', 'asyncpg', 'advanced_alchemy', 'click')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
