"""Keyboard-only moves and small look-ups the browser tests share."""

from __future__ import annotations

from typing import Any

from tests.browser.seeding import PASSWORD


def tab_to(page: Any, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    message = f"Tab never reached {selector}"
    raise AssertionError(message)


def login(site: Any, reservation_id: str, password: str = PASSWORD) -> None:
    """Log in with the mouse-free form filling Playwright offers (not the keyboard test)."""
    site.goto(f"/login?id={reservation_id}")
    site.page.fill("#password", password)
    site.page.click("button[type=submit].button--primary")


def choose_first_free_day(site: Any, *, last: bool = False) -> str:
    """Open the first (or last) bookable day of the calendar, from next month if needed.

    ``last`` picks a day more than a day away, so the booking can still be changed.
    """
    page = site.page
    links = page.locator(".calendar td a")
    if links.count() < (2 if last else 1):
        page.click(".month-nav__next")
        page.wait_for_url("**month=*")
    links = page.locator(".calendar td a")
    chosen = links.last if last else links.first
    href: str = chosen.get_attribute("href")
    chosen.click()
    return href


def book_alone(site: Any, reservation_id: str, *, last: bool = False) -> str:
    """Complete a one-person booking by clicks; return the confirmation code."""
    login(site, reservation_id)
    page = site.page
    page.check("#location")
    page.click("text=次へ進む")
    choose_first_free_day(site, last=last)
    page.check("#slot")
    page.click("text=次へ進む")
    page.click("button[value=continue]")
    page.click("text=次へ進む")
    page.click("text=この内容で予約する")
    code: str = page.inner_text(".code")
    return code
