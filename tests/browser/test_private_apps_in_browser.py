"""Logging in, private apps and share links in a real browser, on the site and on the Bokeh server."""

from tests.support.bokeh_page import column, model_value, wait_for_canvas, wait_for_model
from tests.support.site_accounts import PASSWORD


def fill_login(page, name: str) -> None:
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')


def test_anonymous_visitor_logs_in_and_comes_back_to_the_private_app(stack, accounts, page):
    page.goto(f"{stack.web_url}/apps/portfolio?days=200")
    assert page.url.startswith(f"{stack.web_url}/login?next=")
    fill_login(page, "alice")
    page.wait_for_url(f"{stack.web_url}/apps/portfolio?days=200")
    wait_for_canvas(page)
    assert page.locator(".account-name").inner_text() == "alice"
    assert "Hello, alice." in model_value(page, "greeting", "model.text")
    assert page.evaluate("() => Bokeh.documents[0].get_model_by_name('admin_shock') === null")


def test_an_admin_sees_the_stress_test_control(stack, accounts, page):
    page.goto(f"{stack.web_url}/login?next=/apps/portfolio")
    fill_login(page, "ada")
    page.wait_for_url(f"{stack.web_url}/apps/portfolio")
    wait_for_model(page, "admin_shock")
    assert "Hello, ada." in model_value(page, "greeting", "model.text")
    assert page.get_by_text("Stress test: one-day shock (%)").is_visible()


def test_standalone_private_app_on_the_bokeh_server_uses_the_sites_login(stack, accounts, page):
    page.goto(f"{stack.bokeh_url}/portfolio?days=60")
    assert page.url.startswith(f"{stack.web_url}/login?next=")
    fill_login(page, "alice")
    page.wait_for_url(f"{stack.bokeh_url}/portfolio?days=60")
    wait_for_canvas(page)
    assert "Hello, alice." in model_value(page, "greeting", "model.text")
    assert model_value(page, "portfolio", f"{column('day')}.length") == 61


def test_a_share_link_opens_logged_out_and_stops_after_revoke(stack, accounts, page, browser):
    page.goto(f"{stack.web_url}/login?next=/apps/iris?feature=petal_width%26bins=8")
    fill_login(page, "alice")
    page.wait_for_url("**/apps/iris?feature=petal_width&bins=8")
    page.get_by_role("button", name="Share this view").click()
    page.wait_for_url(f"{stack.web_url}/links")
    link = page.locator("tr.share-link").first.locator("a").get_attribute("href")

    stranger = browser.new_context()
    try:
        shared = stranger.new_page()
        shared.goto(stack.web_url + link)
        wait_for_canvas(shared)
        assert shared.locator(".login-link").is_visible(), "not logged in"
        assert model_value(shared, "feature", "model.value") == "petal_width"

        page.locator("tr.share-link").first.get_by_role("button", name="Revoke").click()
        page.wait_for_selector("text=The link is revoked")
        response = shared.goto(stack.web_url + link)
        assert response.status == 410
        assert "revoked" in shared.locator(".error-message").inner_text()
    finally:
        stranger.close()


def test_the_dashboards_private_tile_asks_anonymous_visitors_to_log_in(stack, page):
    page.goto(f"{stack.web_url}/dashboard")
    tile = page.locator("#tile-portfolio")
    assert "log in to see it" in tile.inner_text()
    tile.get_by_role("link", name="log in to see it").click()
    page.wait_for_url(f"{stack.web_url}/login?next=/dashboard")


def test_an_open_private_app_closes_with_a_notice_when_its_login_ends_in_another_tab(stack, accounts, page):
    page.goto(f"{stack.web_url}/login?next=/apps/portfolio")
    fill_login(page, "ada")
    page.wait_for_url(f"{stack.web_url}/apps/portfolio")
    wait_for_model(page, "admin_shock")

    other_tab = page.context.new_page()
    other_tab.goto(stack.web_url)
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_selector(".login-link")

    # The Bokeh process closes the app's websocket (its login ended) and the page says so; BokehJS
    # does not reconnect, so nothing the visitor does here reaches the app's Python any more.
    notice = page.locator('.live-session-notice[data-state="ended"]')
    notice.wait_for()
    assert "Your login has ended" in notice.inner_text()
