"""The resident site in a real Chromium: every flow, every page checked by axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import book_alone, choose_first_free_day, login, tab_to
from tests.browser.seeding import PASSWORD, resident_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_book_alone_with_the_keyboard_only(site: Any) -> None:
    page = site.page
    site.goto(f"/login?id={resident_id(1)}")
    site.check("login")
    assert page.input_value("#reservation_id") == resident_id(1)
    tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/location")
    site.check("location")
    tab_to(page, "input[name=location]")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/calendar")
    site.check("calendar")
    if page.locator(".calendar td a").count() == 0:
        tab_to(page, ".month-nav__next")
        page.keyboard.press("Enter")
        page.wait_for_selector(".calendar td a")
    tab_to(page, ".calendar td a")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/times**")
    site.check("times")
    tab_to(page, "input[name=slot]")
    page.keyboard.press("Space")
    chosen = page.inner_text("label[for=slot]")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/household")
    site.check("household")
    tab_to(page, "button[value=continue]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/contact")
    site.check("contact")
    tab_to(page, "#email")
    page.keyboard.type("resident@example.jp")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/confirm")
    site.check("confirm")
    assert chosen.split()[0] in page.inner_text("main")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/booking/done")
    site.check("done")
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", page.inner_text(".code"))
    text = page.inner_text("main")
    assert "交付通知書" in text
    assert "持ち物" in text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\([月火水木金土日]\)", text)
    assert re.search(r"\b\d{2}:\d{2}\u2013\d{2}:\d{2}\b", text)
    with page.expect_download() as download:
        page.click("a[href='/booking/calendar.ics']")
    ics = download.value.path().read_text(encoding="utf-8")
    assert "BEGIN:VEVENT" in ics
    assert page.inner_text(".code") in ics


def test_errors_are_summarised_linked_and_announced(site: Any) -> None:
    page = site.page
    site.goto("/login")
    page.click("main button[type=submit]")
    site.check("login-empty")
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("エラー")
    links = summary.locator("a")
    assert links.count() == 2
    links.nth(1).click()
    assert page.evaluate("document.activeElement.id") == "password"
    described = page.get_attribute("#password", "aria-describedby") or ""
    assert "password-error" in described
    assert page.get_attribute("#password", "aria-invalid") == "true"

    page.fill("#reservation_id", resident_id(2))
    page.fill("#password", "1231")
    page.click("main button[type=submit]")
    site.check("login-wrong-password")
    assert "正しくありません" in page.inner_text(".error-summary")


def test_book_a_household(site: Any) -> None:
    page = site.page
    login(site, resident_id(3))
    page.check("#location")
    page.click("text=次へ進む")
    choose_first_free_day(site)
    page.check("#slot")
    page.click("main button[type=submit]")
    page.fill("#member_reservation_id", resident_id(4))
    page.fill("#member_password", "0101")
    page.click("button[value=add]")
    site.check("household-wrong-member-password")
    assert page.locator(".error-summary a[href='#member_password']").count() == 1
    page.fill("#member_reservation_id", resident_id(3))
    page.fill("#member_password", PASSWORD)
    page.click("button[value=add]")
    assert page.locator(".error-summary").count() == 1
    page.fill("#member_reservation_id", resident_id(4))
    page.fill("#member_password", PASSWORD)
    page.click("button[value=add]")
    site.check("household-added")
    assert resident_id(4) in page.inner_text(".member-list")
    page.click("button[value=continue]")
    page.fill("#email", "not-an-address")
    page.click("main button[type=submit]")
    site.check("contact-error")
    page.fill("#email", "")
    page.click("main button[type=submit]")
    assert resident_id(4) in page.inner_text("main")
    page.click("text=この内容で予約する")
    site.check("household-done")
    people = page.inner_text(".summary")
    assert resident_id(3) in people
    assert resident_id(4) in people

    # The member sees the same booking when logging in.
    other = site.context.browser.new_context(base_url=site.base)
    try:
        member = other.new_page()
        member.goto(f"/login?id={resident_id(4)}")
        member.fill("#password", PASSWORD)
        member.click("main button[type=submit]")
        member.wait_for_url("**/booking")
        assert page.inner_text(".code") in member.inner_text("main")
    finally:
        other.close()


def test_change_then_cancel(site: Any) -> None:
    page = site.page
    first_code = book_alone(site, resident_id(5), last=True)
    before = page.inner_text(".summary")
    page.click("text=ログアウト")
    login(site, resident_id(5))
    page.wait_for_url("**/booking")
    site.check("look-up")
    page.click("text=日時を変更する")
    page.wait_for_url("**/book/calendar")
    site.check("change-calendar")
    choose_first_free_day(site, last=True)
    page.locator("input[name=slot]").last.check()
    page.click("main button[type=submit]")
    page.wait_for_url("**/book/confirm")
    site.check("change-confirm")
    assert "現在の予約" in page.inner_text("main")
    page.click("text=この内容で変更する")
    page.wait_for_url("**/booking/done")
    assert page.inner_text(".code") == first_code
    assert page.inner_text(".summary") != before
    page.click("text=予約を取り消す")
    site.check("cancel")
    page.click("text=はい、予約を取り消します")
    site.check("cancelled")
    assert "取り消しました" in page.inner_text("h1")
    site.goto("/booking")
    assert "予約はありません" in page.inner_text("main")


def test_a_time_taken_between_choosing_and_confirming(site: Any, make_site: Any) -> None:
    page = site.page
    login(site, resident_id(6))
    page.check("#location")
    page.click("text=次へ進む")
    choose_first_free_day(site)
    # The last time of the day: fill it from other residents until it is gone.
    slot_id = page.locator("input[name=slot]").last.get_attribute("value")
    page.locator("input[name=slot]").last.check()
    page.click("main button[type=submit]")
    page.click("button[value=continue]")
    page.click("main button[type=submit]")
    page.wait_for_url("**/book/confirm")
    others = [make_site(f"other-{n}") for n in range(5)]
    number = 40
    for other in others:
        login(other, resident_id(number))
        number += 1
        other.page.check("#location")
        other.page.click("text=次へ進む")
        choose_first_free_day(other)
        radio = other.page.locator(f"input[name=slot][value='{slot_id}']")
        if radio.count() == 0:
            break
        radio.check()
        other.page.click("main button[type=submit]")
        other.page.click("button[value=continue]")
        other.page.click("main button[type=submit]")
        other.page.click("text=この内容で予約する")
        other.page.wait_for_url("**/booking/done")
    page.click("text=この内容で予約する")
    page.wait_for_url("**/book/times")
    site.check("slot-taken")
    assert "埋まりました" in page.inner_text("[role=alert]")
    assert page.locator(f"input[name=slot][value='{slot_id}']").count() == 0


def test_lockout_after_wrong_passwords(site: Any) -> None:
    page = site.page
    site.goto(f"/login?id={resident_id(7)}")
    for attempt in range(5):
        page.fill("#password", f"{1201 + attempt:04d}")
        page.click("main button[type=submit]")
    site.check("locked")
    message = page.inner_text(".error-summary")
    assert "までログインできません" in message
    assert re.search(r"\d{2}:\d{2}", message)
    # Even the right password is refused until the lock ends.
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    assert "までログインできません" in page.inner_text(".error-summary")


def test_language_switch_is_remembered(site: Any) -> None:
    page = site.page
    site.goto("/login")
    assert page.get_attribute("html", "lang") == "ja"
    page.click("a[hreflang=en]")
    page.wait_for_url("**/login")
    site.check("login-english")
    assert page.get_attribute("html", "lang") == "en"
    assert "Log in" in page.inner_text("h1 + p")
    login(site, resident_id(8))
    page.wait_for_url("**/book/location")
    assert page.get_attribute("html", "lang") == "en"
    page.check("#location")
    page.click("text=Continue")
    site.check("calendar-english")
    assert "Available" in page.inner_text(".legend")
    page.click("a[hreflang=ja]")
    assert page.get_attribute("html", "lang") == "ja"
    assert "空きあり" in page.inner_text(".legend")


def test_calendar_months_change_in_place_with_htmx(site: Any) -> None:
    page = site.page
    login(site, resident_id(9))
    page.check("#location")
    page.click("text=次へ進む")
    caption = page.inner_text("caption")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.headers.get("hx-request", "")))
    page.click(".month-nav__next")
    expect(page.locator("caption")).not_to_have_text(caption)
    assert "true" in requests
    assert "month=" in page.url
    site.check("calendar-next-month")
    assert page.evaluate("document.activeElement.id") == "calendar-caption"


def test_the_whole_booking_works_with_javascript_off(make_site: Any) -> None:
    site = make_site("no-js", javascript=False)
    code = book_alone(site, resident_id(10))
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    site.check("done-no-js")
    # Month navigation is a plain link without JavaScript.
    site.goto("/booking")
    assert code in site.page.inner_text("main")


def test_accessibility_policy_page(site: Any) -> None:
    site.goto("/accessibility")
    site.check("accessibility")
    assert "JIS X 8341-3:2016" in site.page.inner_text("main")


def test_pages_stay_under_100_kb_before_images(site: Any) -> None:
    page = site.page
    assets = sum(
        len(page.request.get(site.base + path).body())
        for path in ("/static/site.css", "/static/site.js", "/static/vendor/htmx.min.js")
    )
    weights = {"/login": len(site.goto("/login").body()) + assets}
    login(site, resident_id(11))
    page.wait_for_url("**/book/location")
    weights["/book/location"] = len(site.goto("/book/location").body()) + assets
    page.check("#location")
    page.click("main button[type=submit]")
    page.wait_for_url("**/book/calendar")
    for path in ("/book/calendar", "/accessibility"):
        response = site.goto(path)
        assert page.url.endswith(path), page.url
        weights[path] = len(response.body()) + assets
    print(f"page weights before images (HTML + CSS + JS, uncompressed): {weights}")
    assert max(weights.values()) < 100 * 1024
