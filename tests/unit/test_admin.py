"""The admin view's access rules, and what it shows when a Bokeh process does not answer."""

from tests.support.site_accounts import client_login, create_account


def test_anonymous_visitors_get_the_login_page_or_a_json_403(client):
    assert client.get("/admin").headers["Location"] == "/login?next=/admin"
    response = client.get("/api/admin/stats")
    assert response.status_code == 403
    assert response.get_json()["status"] == 403


def test_non_admins_get_a_403_either_way(app, client):
    create_account(app, "alice")
    client_login(client, "alice")
    assert client.get("/admin").status_code == 403
    assert client.get("/api/admin/stats").status_code == 403
    assert 'href="/admin"' not in client.get("/").get_data(as_text=True)


def test_admins_see_every_process_even_one_that_does_not_answer(app, client):
    create_account(app, "ada", "admin")
    client_login(client, "ada")
    body = client.get("/api/admin/stats").get_json()
    assert [process["reachable"] for process in body["processes"]] == [False] * len(
        app.config["BOKEH_PROCESS_INTERNAL_URLS"]
    )
    assert body["apps"]["portfolio"] == {"open_sessions": 0, "sessions_created": 0, "sessions_destroyed": 0}
    page = client.get("/admin")
    assert page.status_code == 200 and "not answering" in page.get_data(as_text=True)


def recheck(client, **headers):
    return client.get("/readyz?recheck=1", headers=headers)


def test_a_readiness_recheck_is_for_operators_only(app, client):
    app.config["PRODUCTION"] = True
    refused = recheck(client)
    assert refused.status_code == 403 and refused.get_json()["status"] == 403
    assert client.get("/readyz").status_code == 503, "reading readiness stays open to probes"
    create_account(app, "alice")
    client_login(client, "alice")
    assert recheck(client).status_code == 403
    create_account(app, "ada", "admin")
    admin = app.test_client()
    client_login(admin, "ada")
    # Allowed: asks every process, none of which runs here.
    answer = recheck(admin)
    assert answer.status_code == 503 and "not reachable" in answer.get_json()["processes"][0]["error"]


def test_the_metrics_token_allows_a_recheck_and_development_without_one_allows_anyone(app, client):
    app.config.update(PRODUCTION=True, METRICS_BEARER_TOKEN="scraper-token")
    assert recheck(client, Authorization="Bearer wrong").status_code == 403
    assert recheck(client, Authorization="Bearer scraper-token").status_code == 503
    app.config.update(PRODUCTION=False, METRICS_BEARER_TOKEN="")
    assert recheck(client).status_code == 503


def test_admins_see_the_accounts_and_end_a_persons_sessions(app, client):
    from tests.support.site_accounts import csrf_token, logged_in_client, signed_in_name

    create_account(app, "ada", "admin")
    create_account(app, "bob")
    create_account(app, "carol")
    bob_browsers = [logged_in_client(app, "bob") for _ in range(2)]
    client_login(client, "ada")
    page = client.get("/admin").get_data(as_text=True)
    bob_row = page.split('<tr data-account="bob">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="open-sessions">2</td>' in bob_row and "UTC" in bob_row and "End logins" in bob_row
    carol_row = page.split('<tr data-account="carol">', 1)[1].split("</tr>", 1)[0]
    assert "never" in carol_row and "End logins" not in carol_row
    action = bob_row.split('action="', 1)[1].split('"', 1)[0]
    assert client.post(action).status_code == 400, "the CSRF token is required"
    assert bob_browsers[0].post(action, data={"csrf_token": csrf_token(page)}).status_code in (400, 403)
    response = client.post(action, data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/admin#accounts"
    assert [signed_in_name(browser) for browser in bob_browsers] == [None, None]
    assert "Ended 2 login session(s) of bob." in client.get("/admin").get_data(as_text=True)
    assert client.post("/admin/accounts/999/end-sessions", data={"csrf_token": csrf_token(page)}).status_code == 404


def test_an_admin_who_ends_their_own_logins_is_logged_out_at_once(app, client):
    from aperture.site_login import SiteLoginReader, SiteLoginSettings
    from tests.support.servers import TEST_FLASK_SECRET
    from tests.support.site_accounts import csrf_token, logged_in_client, signed_in_name

    create_account(app, "ada", "admin")
    other_browser = logged_in_client(app, "ada")
    client_login(client, "ada")
    page = client.get("/admin").get_data(as_text=True)
    own_row = page.split('<tr data-account="ada">', 1)[1].split("</tr>", 1)[0]
    action = own_row.split('action="', 1)[1].split('"', 1)[0]
    response = client.post(action, data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/login"
    # The answer itself no longer carries the login to the Bokeh server.
    reader = SiteLoginReader(SiteLoginSettings(TEST_FLASK_SECRET, app.config["SESSION_COOKIE_NAME"], 3600, "http://x"))
    assert reader.visitor(client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value) is None
    assert "Ended 2 login session(s) of ada, this one included." in client.get("/login").get_data(as_text=True)
    assert signed_in_name(client) is None and signed_in_name(other_browser) is None
