"""The Jinja2 environment of the pages: components, gettext, dates, the chosen language.

Templates live in ``web/templates`` (components in ``components/``); every text is
``{{ _("English msgid") }}``, translated into the request's language at render time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar import Router
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from web.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    Language,
    Text,
    as_language,
    format_day,
    format_month,
    format_time,
    translations,
    weekday_names,
)

TEMPLATES_DIR: Final = Path(__file__).resolve().parent / "templates"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"


def language_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Language:
    """The language the visitor chose (a cookie), Japanese by default."""
    return as_language(connection.cookies.get(LANGUAGE_COOKIE))


def _language(context: Context) -> Language:
    request = context.get("request")
    return language_of(request) if request is not None else "ja"


@pass_context
def _gettext(context: Context, msgid: str, **params: Any) -> str:
    text = translations(_language(context)).gettext(msgid)
    return text % params if params else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int, **params: Any) -> str:
    text = translations(_language(context)).ngettext(singular, plural, count)
    return text % {"num": count, **params}


@pass_context
def _translate(context: Context, text: Text) -> str:
    """Render a :class:`~web.i18n.Text` that Python code prepared."""
    translated = translations(_language(context)).gettext(text.msgid)
    return translated % text.params if text.params else translated


def _zone(context: Context) -> ZoneInfo:
    zone = context.get("site_timezone")
    return ZoneInfo(zone) if isinstance(zone, str) else ZoneInfo("Asia/Tokyo")


@pass_context
def _localtime(context: Context, value: dt.datetime) -> dt.datetime:
    return value.astimezone(_zone(context))


@pass_context
def _day(context: Context, value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(_zone(context)).date()
    return format_day(value, _language(context))


@pass_context
def _weekdays(context: Context) -> list[tuple[str, str]]:
    return weekday_names(_language(context))


@pass_context
def _month(context: Context, value: dt.date) -> str:
    return format_month(value, _language(context))


def _time(value: dt.datetime | dt.time) -> str:
    return format_time(value)


@pass_context
def _current_language(context: Context) -> Language:
    return _language(context)


def create_environment(
    directory: Path = TEMPLATES_DIR, site_globals: dict[str, Any] | None = None
) -> Environment:
    """A Jinja environment with autoescaping, gettext, the date filters and site facts."""
    environment = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=False
    )
    environment.globals.update(
        _=_gettext,
        gettext=_gettext,
        translate=_translate,
        current_language=_current_language,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        weekdays=_weekdays,
        **(site_globals or {}),
    )
    environment.filters.update(
        day=_day, month=_month, time=_time, translate=_translate, localtime=_localtime
    )
    return environment


def template_config(
    directory: Path = TEMPLATES_DIR, site_globals: dict[str, Any] | None = None
) -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's template configuration over :func:`create_environment`."""
    environment = create_environment(directory, site_globals)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_files_router(opt: dict[str, Any]) -> Router:
    """``/static``: the sites' CSS and scripts, cached for an hour, open as ``opt`` says."""
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        name="static",
        opt=dict(opt),
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
