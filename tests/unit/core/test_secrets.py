"""Generated secrets: one per file, whole, whatever the number of processes starting at once."""

from __future__ import annotations

import multiprocessing
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.core.secrets import SECRET_LENGTH, SecretFileError, read_or_create_secret

PROCESSES = 8
TRIALS = 200
_barrier: Any = None


def _start_together(barrier: Any) -> None:
    global _barrier  # noqa: PLW0603 - one barrier per worker process, set at its start
    _barrier = barrier


def _race(path: str) -> str:
    """In a worker: wait for the others, then read or create the secret at ``path``."""
    _barrier.wait(timeout=60)
    try:
        return read_or_create_secret(Path(path))
    except Exception as error:
        return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="module")
def racers() -> Iterator[Any]:
    """Worker processes that start each call at the same moment (a barrier per round)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    with context.Pool(PROCESSES, initializer=_start_together, initargs=(barrier,)) as pool:
        yield pool


def test_processes_racing_on_a_fresh_path_all_get_the_same_whole_secret(
    racers: Any, tmp_path: Path
) -> None:
    for trial in range(TRIALS):
        path = tmp_path / f"trial-{trial}" / "secret_key"

        answers = racers.map(_race, [str(path)] * PROCESSES, chunksize=1)

        assert len(set(answers)) == 1, answers
        assert len(answers[0]) == SECRET_LENGTH, answers[0]
        assert path.read_text(encoding="ascii") == answers[0]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # Nothing is left behind but the secret itself.
        assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_a_secret_file_too_short_to_be_generated_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("", encoding="ascii")

    with pytest.raises(SecretFileError, match="secret_key holds 0 characters"):
        read_or_create_secret(path)

    path.write_text("x" * (SECRET_LENGTH - 1), encoding="ascii")
    with pytest.raises(SecretFileError, match="Remove it"):
        read_or_create_secret(path)


def test_a_generated_secret_is_kept_across_reads(tmp_path: Path) -> None:
    path = tmp_path / "zone" / "secret_key"

    first = read_or_create_secret(path)

    assert read_or_create_secret(path) == first
    assert len(first) == SECRET_LENGTH
