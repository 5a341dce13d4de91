"""Every page text lives in the gettext catalogs, and Japanese has all of them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.i18n import format_day, format_time, gettext

WEB = Path(__file__).resolve().parents[3] / "web"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.do"}}


def _msgids() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = extract_from_dir(
        str(WEB), METHODS, options_map=OPTIONS, keywords=keywords, comment_tags=()
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def test_japanese_catalog_translates_every_text() -> None:
    with (WEB / "translations/ja/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    # A plural's id is (singular, plural) and its string one text per form (one in Japanese).
    translated = {
        m.id[0] if isinstance(m.id, tuple) else m.id
        for m in catalog
        if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string) and not m.fuzzy
    }
    missing = _msgids() - translated
    assert not missing, f"untranslated (run `make translations`, then translate): {missing}"


def test_templates_hold_no_hard_coded_text() -> None:
    for template in (WEB / "templates").rglob("*.html"):
        source = template.read_text(encoding="utf-8")
        without_jinja = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.S)
        text = re.sub(r"<[^>]*>", " ", without_jinja, flags=re.S)
        words = re.findall(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}", text)
        assert not words, f"{template.name}: text outside gettext: {words}"


def test_dates_are_written_the_japanese_way_and_times_in_24_hours() -> None:
    assert format_day(dt.date(2026, 12, 3), "ja") == "2026年12月3日(木)"
    assert format_day(dt.date(2026, 12, 3), "en") == "Thu 3 December 2026"
    assert format_time(dt.time(9, 5)) == "09:05"
    assert format_time(dt.time(17, 30)) == "17:30"
    assert gettext("ja", "Log in") == "ログイン"
