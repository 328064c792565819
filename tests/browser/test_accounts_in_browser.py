"""Accounts people can trust, in a real browser: a cookie dies with its login and its account, on the
site and on the standalone apps of the Bokeh server; password change and reset; ending sessions.

A second browser holding a copy of a cookie is a second Chromium context given the first one's
cookies. The Bokeh server asks the site's database whether a cookie's login is open, whatever its
age: a copy tried minutes later is the same cookie signed that long ago (``aged_cookie``).
"""

import re
import time

import pytest

from tests.support.bokeh_page import model_value, wait_for_canvas
from tests.support.site_accounts import PASSWORD, add_user, aged_cookie, users_command

COOKIE = "aperture_session"
# Minutes later, well within the login's lifetime (12 h).
PAST_THE_RECHECK = 600
NEW_PASSWORD = "a much newer passphrase"


@pytest.fixture
def contexts(browser):
    """Fresh browser contexts (each its own cookie jar), closed after the test."""
    opened = []

    def new(cookies=None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        if cookies:
            context.add_cookies(cookies)
        opened.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield new
    for context in opened:
        context.close()


def log_in(page, web_url: str, name: str, password: str = PASSWORD, next_path: str = "/") -> None:
    page.goto(f"{web_url}/login?next={next_path}")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url(f"**{next_path}")
    assert page.locator(".account-name").inner_text() == name


def login_cookies(page) -> list[dict]:
    cookies = page.context.cookies()
    assert any(cookie["name"] == COOKIE for cookie in cookies)
    return cookies


def aged(cookies: list[dict], seconds: int = PAST_THE_RECHECK) -> list[dict]:
    return [
        {**cookie, "value": aged_cookie(cookie["value"], seconds)} if cookie["name"] == COOKIE else cookie
        for cookie in cookies
    ]


def assert_anonymous_on_the_site(page, web_url: str) -> None:
    page.goto(f"{web_url}/apps/portfolio")
    assert page.url.startswith(f"{web_url}/login?next="), page.url
    assert page.locator(".login-link").is_visible()
    assert page.locator(".account-name").count() == 0


def assert_standalone_sends_to_the_login_form(page, stack) -> None:
    page.goto(f"{stack.bokeh_url}/portfolio?days=30")
    page.wait_for_url(f"{stack.web_url}/login?next=**")
    assert page.locator('input[name="password"]').is_visible()
    assert page.locator(".account-name").count() == 0


def test_a_deleted_accounts_cookie_opens_nothing_for_the_admin_made_next(stack, contexts):
    add_user(stack, "erin")
    erin = contexts()
    log_in(erin, stack.web_url, "erin", next_path="/apps/portfolio")
    copy = login_cookies(erin)
    users_command(stack, "delete", "erin", "--yes")
    add_user(stack, "frank", "--admin")

    site = contexts(copy)
    assert_anonymous_on_the_site(site, stack.web_url)
    assert site.goto(f"{stack.web_url}/api/admin/stats").status == 403
    assert_standalone_sends_to_the_login_form(contexts(aged(copy)), stack)


def test_a_cookie_copied_before_logout_is_refused_after_it(stack, contexts):
    add_user(stack, "gina")
    gina = contexts()
    log_in(gina, stack.web_url, "gina")
    gina.goto(f"{stack.bokeh_url}/portfolio?days=30")
    wait_for_canvas(gina)
    assert "Hello, gina." in model_value(gina, "greeting", "model.text")
    copy = login_cookies(gina)
    gina.goto(stack.web_url)
    gina.get_by_role("button", name="Log out").click()
    gina.wait_for_selector(".login-link")

    assert_anonymous_on_the_site(contexts(copy), stack.web_url)
    assert_standalone_sends_to_the_login_form(contexts(aged(copy)), stack)


def test_a_password_change_logs_the_other_browser_out(stack, contexts):
    add_user(stack, "hank")
    laptop, phone = contexts(), contexts()
    log_in(laptop, stack.web_url, "hank")
    log_in(phone, stack.web_url, "hank")
    laptop.locator(".account-link").click()
    laptop.get_by_role("link", name="Change your password").click()
    laptop.fill('input[name="current"]', PASSWORD)
    laptop.fill('input[name="password"]', NEW_PASSWORD)
    laptop.fill('input[name="confirm"]', NEW_PASSWORD)
    laptop.get_by_role("button", name="Change password").click()
    laptop.wait_for_selector("text=Your password is changed; 1 other login session(s) ended.")
    assert laptop.locator(".account-name").inner_text() == "hank"

    assert_anonymous_on_the_site(phone, stack.web_url)
    log_in(phone, stack.web_url, "hank", password=NEW_PASSWORD)


def test_a_reset_link_works_once_and_not_after_its_time(stack, contexts):
    add_user(stack, "ivy")
    link = re.search(r"http://\S+", users_command(stack, "reset-password", "ivy")).group(0)
    page = contexts()
    page.goto(link)
    page.fill('input[name="password"]', NEW_PASSWORD)
    page.fill('input[name="confirm"]', NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_selector("text=The password of ivy is set; log in with it.")
    log_in(page, stack.web_url, "ivy", password=NEW_PASSWORD)
    used = contexts()
    assert used.goto(link).status == 410
    assert "used already" in used.locator(".error-message").inner_text()

    short = re.search(r"http://\S+", users_command(stack, "reset-password", "ivy", PASSWORD_RESET_TTL_SECONDS=1))
    late = contexts()
    deadline = time.monotonic() + 30
    while late.goto(short.group(0)).status != 410:
        assert time.monotonic() < deadline, "the link still opens after its time"
    assert "expired" in late.locator(".error-message").inner_text()
    log_in(late, stack.web_url, "ivy", password=NEW_PASSWORD)


def test_log_out_everywhere_ends_the_other_browsers_login(stack, contexts):
    add_user(stack, "jack")
    laptop, phone = contexts(), contexts()
    log_in(laptop, stack.web_url, "jack")
    log_in(phone, stack.web_url, "jack")
    laptop.locator(".account-link").click()
    assert laptop.locator("tr.login-session").count() == 2
    laptop.get_by_role("button", name="Log out everywhere").click()
    laptop.wait_for_selector("text=Logged out everywhere: 2 login session(s) of jack ended.")
    assert laptop.locator(".login-link").is_visible()
    assert_anonymous_on_the_site(phone, stack.web_url)


def test_an_admin_ends_a_persons_sessions(stack, accounts, contexts):
    add_user(stack, "kate")
    kate, admin = contexts(), contexts()
    log_in(kate, stack.web_url, "kate")
    log_in(admin, stack.web_url, accounts["admin"], next_path="/admin")
    row = admin.locator('tr[data-account="kate"]')
    assert row.locator(".open-sessions").inner_text() == "1"
    row.get_by_role("button", name="End logins").click()
    admin.wait_for_selector("text=Ended 1 login session(s) of kate.")
    assert admin.locator('tr[data-account="kate"] .open-sessions').inner_text() == "0"
    assert_anonymous_on_the_site(kate, stack.web_url)


def test_the_login_page_of_a_logged_in_visitor_offers_to_switch(stack, accounts, contexts):
    page = contexts()
    log_in(page, stack.web_url, accounts["user"])
    page.goto(f"{stack.web_url}/login")
    assert page.locator(".current-account").inner_text() == accounts["user"]
    assert page.get_by_role("link", name=f"Continue as {accounts['user']}").is_visible()
    page.fill('input[name="name"]', accounts["admin"])
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url(f"{stack.web_url}/")
    assert page.locator(".account-name").inner_text() == accounts["admin"]
