"""Languages of the pages: gettext catalogs (Babel), the chosen language, dates and times.

Japanese first, English second. Every text of the pages is an English ``msgid`` in
``web/translations/<lang>/LC_MESSAGES/messages.po``; the build compiles the ``.mo`` files
(``make translations``). Python code marks texts it hands to templates with :func:`N_`
and the templates translate them when rendering.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

logger = logging.getLogger(__name__)

TRANSLATIONS_DIR: Final = Path(__file__).resolve().parent / "translations"
DOMAIN: Final = "messages"
Language = Literal["ja", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("ja", "en")
DEFAULT_LANGUAGE: Final[Language] = "ja"
LANGUAGE_COOKIE: Final = "madoguchi_lang"
# Each language's name in itself: what the language switch shows.
LANGUAGE_NAMES: Final[dict[Language, str]] = {"ja": "日本語", "en": "English"}


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``text`` for extraction; templates translate it when they render it."""
    return text


class Text(msgspec.Struct, frozen=True):
    """A text to translate at render time, with its named placeholders."""

    msgid: str
    params: dict[str, str] = msgspec.field(default_factory=dict)


def as_language(value: str | None) -> Language:
    """The supported language ``value`` names, or the default (Japanese)."""
    for language in LANGUAGES:
        if value == language:
            return language
    return DEFAULT_LANGUAGE


@functools.cache
def translations(language: Language) -> NullTranslations:
    """The compiled catalog of ``language``, loaded once per process.

    The build compiles ``.mo`` files; where one is missing or older than its ``.po``
    (a working tree between edits), the ``.po`` is compiled in memory instead.
    """
    folder = TRANSLATIONS_DIR / language / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo_path.is_file() and (
        not po_path.is_file() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        with mo_path.open("rb") as handle:
            return GNUTranslations(handle)
    if not po_path.is_file():
        logger.warning("no catalog for %s; texts stay in English", language)
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return GNUTranslations(buffer)


def gettext(language: Language, msgid: str, **params: Any) -> str:
    """Translate ``msgid`` into ``language`` and fill its ``%(name)s`` placeholders."""
    text = translations(language).gettext(msgid)
    return text % params if params else text


def format_day(day: dt.date, language: Language) -> str:
    """A date the way each language writes it: ``2026年12月3日(木)``, ``Thu 3 December 2026``."""
    if language == "ja":
        return format_date(day, "y年M月d日(E)", locale="ja")
    return format_date(day, "EEE d MMMM y", locale="en")


def format_month(day: dt.date, language: Language) -> str:
    """A month: ``2026年12月``, ``December 2026``."""
    if language == "ja":
        return format_date(day, "y年M月", locale="ja")
    return format_date(day, "MMMM y", locale="en")


def format_time(moment: dt.datetime | dt.time) -> str:
    """A time of day in 24-hour form: ``09:30``."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


def weekday_names(language: Language) -> list[tuple[str, str]]:
    """Monday-first (short, full) weekday names for calendar headings."""
    monday = dt.date(2024, 1, 1)
    days = [monday + dt.timedelta(days=offset) for offset in range(7)]
    return [
        (format_date(day, "E", locale=language), format_date(day, "EEEE", locale=language))
        for day in days
    ]
