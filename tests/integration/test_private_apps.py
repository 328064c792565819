"""Accounts, private apps, share links and the admin view against the real servers (two Bokeh
processes and gunicorn, started from the Procfile), with HTTP clients and Bokeh's own client."""

import re
from urllib.parse import parse_qs, urlsplit

import requests
from bokeh.util.token import generate_jwt_token, get_session_id, get_token_payload

from aperture.session_token import APP_KEY, USER_KEY
from tests.support.bokeh_client import EmbeddedSession, browser_session, embedded_session, refused_reason
from tests.support.site_accounts import aged_cookie, csrf_token, log_in, post_login

STANDALONE_TOKEN = re.compile(r'"token":\s*"([A-Za-z0-9_.=-]+)"')


def standalone_token(page: str) -> str:
    match = STANDALONE_TOKEN.search(page)
    assert match, "the standalone page carries no session token"
    return match.group(1)


def tampered(token: str, **claims) -> str:
    """``token`` with ``claims`` changed in its payload (encoded as Bokeh does) and its signature kept."""
    payload = {key: value for key, value in get_token_payload(token).items() if key != "session_expiry"}
    changed = generate_jwt_token(get_session_id(token), secret_key=b"unused", extra_payload={**payload, **claims})
    return changed.split(".")[0] + "." + token.split(".")[1]


def test_anonymous_visitor_of_a_private_page_logs_in_and_comes_back(stack, accounts):
    session = requests.Session()
    first = session.get(f"{stack.web_url}/apps/portfolio?days=90", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    login_page = session.get(stack.web_url + first.headers["Location"], timeout=30)
    assert login_page.status_code == 200 and "Log in" in login_page.text
    fields = {"csrf_token": csrf_token(login_page.text), "name": "alice", "password": "correct horse battery"}
    fields["next"] = re.search(r'name="next" type="hidden" value="([^"]*)"', login_page.text).group(1)
    back = session.post(f"{stack.web_url}/login", data=fields, timeout=30)
    assert back.url == f"{stack.web_url}/apps/portfolio?days=90"
    assert '<b class="account-name">alice</b>' in back.text
    with browser_session(embedded_session(back.text)) as doc:
        assert "Hello, alice." in doc.select_one({"name": "greeting"}).text
        assert len(doc.select_one({"name": "portfolio"}).data["day"]) == 91


def test_only_admins_get_the_admin_control(stack, accounts):
    for name, has_control in (("alice", False), ("ada", True)):
        page = log_in(stack.web_url, name).get(f"{stack.web_url}/apps/portfolio", timeout=30).text
        with browser_session(embedded_session(page)) as doc:
            assert f"Hello, {name}." in doc.select_one({"name": "greeting"}).text
            assert (doc.select_one({"name": "admin_shock"}) is not None) == has_control


def test_anonymous_visitor_of_a_private_standalone_app_logs_in_on_the_site_and_comes_back(stack, accounts):
    session = requests.Session()
    first = session.get(f"{stack.bokeh_url}/portfolio?days=120", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert login_url == f"{stack.web_url}/login?next=%2Fstandalone%2Fportfolio%3Fdays%3D120"
    login_page = session.get(login_url, timeout=30)
    fields = {"csrf_token": csrf_token(login_page.text), "name": "alice", "password": "correct horse battery"}
    fields["next"] = "/standalone/portfolio?days=120"
    landed = session.post(f"{stack.web_url}/login", data=fields, timeout=30)
    # login → /standalone/portfolio on the site → the app on the Bokeh server, with the cookie.
    assert landed.status_code == 200
    assert landed.url == f"{stack.bokeh_url}/portfolio?days=120"
    token = standalone_token(landed.text)
    payload = get_token_payload(token)
    assert payload[USER_KEY] == {"name": "alice", "roles": []}
    assert payload[APP_KEY] == "portfolio"
    # The HttpOnly login cookie never travels in the page's token.
    assert "aperture_session" not in str(payload)
    embed = EmbeddedSession(token, "/portfolio", f"{stack.bokeh_url}/portfolio")
    with browser_session(embed) as doc:
        assert "Hello, alice." in doc.select_one({"name": "greeting"}).text


def test_a_login_cookie_the_site_signed_long_ago_still_opens_while_its_login_is_open(stack, accounts):
    # The Bokeh server asks the site's database about the login, not the cookie's age.
    session = log_in(stack.web_url, "alice")
    login = next(cookie for cookie in session.cookies if cookie.name == "aperture_session")
    login.value = aged_cookie(login.value, 600)
    landed = session.get(f"{stack.bokeh_url}/portfolio?days=120", allow_redirects=False, timeout=30)
    assert landed.status_code == 200
    assert get_token_payload(standalone_token(landed.text))[USER_KEY]["name"] == "alice"


def test_public_standalone_apps_stay_open_to_anonymous_visitors(stack):
    assert requests.get(f"{stack.bokeh_url}/sliders", allow_redirects=False, timeout=30).status_code == 200
    assert requests.get(f"{stack.bokeh_url}/", allow_redirects=False, timeout=30).status_code == 200


def test_a_tampered_token_and_an_unsigned_session_id_are_refused(stack, accounts):
    page = log_in(stack.web_url, "alice").get(f"{stack.web_url}/apps/portfolio", timeout=30).text
    embed = embedded_session(page)
    promoted = tampered(embed.token, **{USER_KEY: {"name": "alice", "roles": ["admin"]}})
    assert get_token_payload(promoted)[USER_KEY]["roles"] == ["admin"]
    # Refused by the login check (a private app), and by Bokeh's own signature check (a public one).
    assert refused_reason(embed, promoted) == "HTTP 403: Portfolio is private"
    public = embedded_session(requests.get(f"{stack.web_url}/apps/sliders", timeout=30).text)
    assert refused_reason(public, tampered(public.token, **{USER_KEY: {"name": "ada", "roles": ["admin"]}}))
    assert refused_reason(embed) is None, "the untampered token works"
    unsigned = requests.get(f"{stack.bokeh_url}/sliders", params={"bokeh-session-id": "a" * 44}, timeout=30)
    assert unsigned.status_code == 403


def test_a_token_of_a_public_app_does_not_open_a_private_one(stack):
    sliders = embedded_session(requests.get(f"{stack.web_url}/apps/sliders", timeout=30).text)
    borrowed = EmbeddedSession(sliders.token, "/portfolio", f"{stack.bokeh_url}/portfolio")
    assert refused_reason(borrowed).startswith("HTTP 403")
    autoload = requests.get(
        f"{stack.bokeh_url}/portfolio/autoload.js",
        params={"bokeh-autoload-element": "x", "bokeh-token": sliders.token},
        allow_redirects=False,
        timeout=30,
    )
    assert autoload.status_code in (302, 403)


def test_a_wrong_password_is_refused(stack, accounts):
    session = requests.Session()
    response = post_login(session, stack.web_url, "alice", "not her password")
    assert response.status_code == 200 and "Wrong name or password." in response.text
    assert "Logged in as" not in session.get(stack.web_url, timeout=30).text


def test_repeated_failed_logins_are_rate_limited(stack, accounts):
    session = requests.Session()
    # 5 per minute per address and name, counted in each of the 2 workers' memory.
    statuses = []
    for _ in range(11):
        statuses.append(post_login(session, stack.web_url, "ratelimited", "wrong password").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {200}


def test_a_post_without_its_csrf_token_is_refused(stack, accounts):
    session = log_in(stack.web_url, "alice")
    assert session.post(f"{stack.web_url}/logout", timeout=30).status_code == 400
    assert session.post(f"{stack.web_url}/s", data={"app": "sliders", "query": ""}, timeout=30).status_code == 400
    assert "Logged in as" in session.get(stack.web_url, timeout=30).text


def test_next_never_redirects_off_the_site(stack, accounts):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = post_login(requests.Session(), stack.web_url, "alice", "correct horse battery", target)
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target


def test_a_share_link_works_logged_out_and_stops_after_revoke(stack, accounts):
    alice = log_in(stack.web_url, "alice")
    page = alice.get(f"{stack.web_url}/apps/iris?feature=petal_length&bins=9", timeout=30).text
    fields = {"csrf_token": csrf_token(page), "app": "iris", "query": "feature=petal_length&bins=9"}
    links = alice.post(f"{stack.web_url}/s", data=fields, timeout=30)
    assert links.url == f"{stack.web_url}/links"
    path = re.search(r'href="(/s/[A-Za-z0-9_-]+)"', links.text).group(1)

    shared = requests.get(stack.web_url + path, timeout=30)
    assert shared.status_code == 200
    with browser_session(embedded_session(shared.text)) as doc:
        assert doc.select_one({"name": "feature"}).value == "petal_length"
        assert len(doc.select_one({"name": "histogram"}).data["center"]) == 9

    link_id = re.search(r'action="/links/(\d+)/revoke"', links.text).group(1)
    revoked = alice.post(
        f"{stack.web_url}/links/{link_id}/revoke", data={"csrf_token": csrf_token(links.text)}, timeout=30
    )
    assert revoked.status_code == 200
    assert requests.get(stack.web_url + path, timeout=30).status_code == 410


def test_the_admin_view_reads_every_bokeh_process(stack, accounts):
    assert requests.get(f"{stack.web_url}/api/admin/stats", timeout=30).status_code == 403
    assert log_in(stack.web_url, "alice").get(f"{stack.web_url}/api/admin/stats", timeout=30).status_code == 403
    anonymous_page = requests.get(f"{stack.web_url}/admin", allow_redirects=False, timeout=30)
    assert anonymous_page.headers["Location"] == "/login?next=/admin"
    ada = log_in(stack.web_url, "ada")
    before = ada.get(f"{stack.web_url}/api/admin/stats", timeout=30).json()
    with browser_session(embedded_session(requests.get(f"{stack.web_url}/apps/press", timeout=30).text)):
        during = ada.get(f"{stack.web_url}/api/admin/stats", timeout=30).json()
    assert [process["process"] for process in during["processes"]] == [0, 1]
    assert all(process["reachable"] and process["rss_bytes"] > 10_000_000 for process in during["processes"])
    assert during["apps"]["press"]["sessions_created"] == before["apps"]["press"]["sessions_created"] + 1
    assert during["apps"]["press"]["open_sessions"] >= 1
    assert all("recent_errors" in process for process in during["processes"])
    assert "Per Bokeh process" in ada.get(f"{stack.web_url}/admin", timeout=30).text


def test_process_stats_need_the_sites_credential(stack):
    for url in stack.process_urls:
        assert requests.get(f"{url}/stats", timeout=30).status_code == 403


def test_the_standalone_route_sends_to_the_bokeh_server(stack):
    response = requests.get(f"{stack.web_url}/standalone/sliders?N=40", allow_redirects=False, timeout=30)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == stack.bokeh_url
    assert parse_qs(location.query) == {"N": ["40"]}


def test_pulled_pages_carry_the_visitor_too(stack, accounts):
    page = log_in(stack.web_url, "alice").get(f"{stack.web_url}/apps/sliders/match", timeout=30)
    assert page.status_code == 200
    assert get_token_payload(embedded_session(page.text).token)[USER_KEY] == {"name": "alice", "roles": []}
