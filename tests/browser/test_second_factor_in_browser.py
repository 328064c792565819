"""A second factor in a real browser: enrolled from the account page (its QR code under the site's
Content-Security-Policy), then asked for at the next login, which opens nothing before the code."""

import re
import time

import pyotp
import pytest

from tests.support.page_errors import PageErrors
from tests.support.site_accounts import PASSWORD, add_user


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_enrol_from_the_account_page_then_log_in_with_the_code(stack, page):
    add_user(stack, "tess")
    errors = PageErrors(page)
    page.goto(f"{stack.web_url}/login?next=/account")
    page.fill('input[name="name"]', "tess")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url("**/account")
    page.click("text=Set it up")
    page.wait_for_url("**/account/second-factor")
    assert page.locator("img.qr-code").evaluate("image => image.complete && image.naturalWidth > 0")
    secret = page.locator(".totp-secret").inner_text()
    page.fill('form.enrol-form input[name="code"]', pyotp.TOTP(secret).now())
    page.click('form.enrol-form button[type="submit"]')
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", code) for code in codes)
    errors.assert_none()

    page.click(".logout-form button[type='submit']")
    page.wait_for_selector(".login-link")
    page.goto(f"{stack.web_url}/login?next=/links")
    page.fill('input[name="name"]', "tess")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url("**/login/code")
    assert page.locator(".account-name").count() == 0
    # The code of the next time step: later than the one that confirmed the enrolment, still in the window.
    page.fill('form.code-form input[name="code"]', pyotp.TOTP(secret).at(time.time() + 30))
    page.click('form.code-form button[type="submit"]')
    page.wait_for_url("**/links")
    assert page.locator(".account-name").inner_text() == "tess"
    errors.assert_none()
