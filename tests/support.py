"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from api.core.settings import Zone, ZoneSettings, load_settings


def make_settings(zone: Zone, tmp_path: Path, **overrides: str) -> ZoneSettings:
    """Settings as a zone would read them, with test-friendly logging and a private var dir."""
    environment = {"MADOGUCHI_VAR_DIR": str(tmp_path), "MADOGUCHI_LOG_FORMAT": "console"}
    environment.update(overrides)
    return load_settings(zone, environment)
