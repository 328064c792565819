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
