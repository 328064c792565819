"""Single sign-on's small parts: settings, names and roles from claims, accounts by subject,
the login page with passwords off, and a provider that does not answer (no provider runs here;
the real one is in the integration and browser tests)."""

import pytest

from aperture.environment import ConfigurationError
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import client_login, create_account, csrf_token
from web import create_app
from web.accounts.sso_accounts import account_for, base_name, name_from_text, roles_from_claim
from web.settings import load_settings

ISSUER = "https://login.example.org/realms/staff"


def settings(tmp_path, **values):
    return load_settings({"APERTURE_INSTANCE_DIR": str(tmp_path), "FLASK_SECRET_KEY": TEST_FLASK_SECRET, **values})


@pytest.fixture
def sso_app(app, closed_port):
    """The site with a provider configured at a port where nothing answers."""
    return create_app(
        {
            **app.config,
            "OIDC_ISSUER": f"http://127.0.0.1:{closed_port}",
            "OIDC_CLIENT_ID": "aperture",
            "OIDC_CLIENT_SECRET": "secret",
            "OIDC_PROVIDER_NAME": "Staff Login",
            "OIDC_TIMEOUT": 2.0,
        }
    )


def test_single_sign_on_is_off_by_default_and_local_login_on(tmp_path):
    values = settings(tmp_path)
    assert values["OIDC_ISSUER"] == "" and values["LOCAL_LOGIN"] is True


def test_the_provider_name_defaults_to_the_issuers_host(tmp_path):
    values = settings(tmp_path, OIDC_ISSUER=ISSUER + "/", OIDC_CLIENT_ID="a", OIDC_CLIENT_SECRET="b")
    assert values["OIDC_ISSUER"] == ISSUER
    assert values["OIDC_PROVIDER_NAME"] == "login.example.org"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"LOCAL_LOGIN": "false"}, "LOCAL_LOGIN"),
        ({"OIDC_ISSUER": "login.example.org", "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"}, "OIDC_ISSUER"),
        ({"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_SECRET": "b"}, "OIDC_CLIENT_ID"),
        ({"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "a"}, "OIDC_CLIENT_SECRET"),
        ({"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b", "OIDC_SCOPES": "email"}, "openid"),
    ],
)
def test_an_incomplete_sso_setting_stops_startup_with_its_name(tmp_path, values, named):
    with pytest.raises(ConfigurationError, match=named):
        settings(tmp_path, **values)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Grace.Hopper", "grace.hopper"),
        ("ada@example.org", "ada"),
        ("José Núñez", "jose-nunez"),
        ("../../etc/passwd", "etc-passwd"),
        ("<script>", "script"),
        ("___", ""),
        ("x" * 100, "x" * 58),
        (42, ""),
    ],
)
def test_names_from_claims_are_valid_account_names(text, name):
    assert name_from_text(text) == name


def test_the_name_comes_from_preferred_username_then_email_then_subject():
    assert base_name({"preferred_username": "Grace", "email": "g@x.org"}, "s1") == "grace"
    assert base_name({"preferred_username": "☃", "email": "g.h@x.org"}, "s1") == "g.h"
    assert base_name({}, "auth0|5f3a") == "auth0-5f3a"
    assert base_name({}, "☃") == "user"


def test_roles_come_from_a_list_a_string_or_a_nested_claim_and_bad_names_are_left_out():
    assert roles_from_claim({"groups": ["Analyst", "ops", "Not A Role!", 7]}, "groups") == ["analyst", "ops"]
    assert roles_from_claim({"roles": "admin viewer"}, "roles") == ["admin", "viewer"]
    assert roles_from_claim({"realm_access": {"roles": ["ops"]}}, "realm_access.roles") == ["ops"]
    assert roles_from_claim({}, "groups") == []
    assert roles_from_claim({"groups": {"x": 1}}, "groups") == []


def test_accounts_are_matched_by_issuer_and_subject_and_names_made_unique(app):
    create_account(app, "grace")
    with app.app_context():
        first = account_for(ISSUER, "sub-1", {"preferred_username": "grace"}, ["analyst"])
        assert (first.name, first.roles, first.password_hash) == ("grace-2", ("analyst",), None)
        again = account_for(ISSUER, "sub-1", {"preferred_username": "someone-else"}, ["ops"])
        assert (again.id, again.name, again.roles) == (first.id, "grace-2", ("ops",))
        kept = account_for(ISSUER, "sub-1", {}, None)
        assert kept.roles == ("ops",), "no roles claim configured: the site's roles stay"
        other_issuer = account_for("https://other.example.org", "sub-1", {"preferred_username": "grace"}, [])
        assert other_issuer.name == "grace-3"
        assert not first.check_password("") and not first.check_password("anything")


def test_an_account_without_a_password_cannot_log_in_with_one(app, client):
    with app.app_context():
        account_for(ISSUER, "sub-9", {"preferred_username": "erin"}, [])
    for password in ("", "x" * 8):
        response = client_login(client, "erin", password=password or "-")
        assert "Wrong name or password." in response.get_data(as_text=True)


def test_the_login_page_offers_the_provider_beside_the_form(sso_app):
    page = sso_app.test_client().get("/login?next=/apps/portfolio").get_data(as_text=True)
    assert "Log in with Staff Login" in page
    assert 'href="/login/sso?next=/apps/portfolio"' in page
    assert 'name="password"' in page


def test_without_a_provider_there_is_no_sso_button_and_no_sso_route(client):
    assert "Log in with" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/sso").status_code == 404


def test_with_local_login_off_the_form_is_gone_and_posts_are_refused(sso_app):
    create_account(sso_app, "alice")
    client = sso_app.test_client()
    # A form fetched while passwords were still on, posted after they were switched off.
    token = csrf_token(client.get("/login").get_data(as_text=True))
    sso_app.config["LOCAL_LOGIN"] = False
    page = client.get("/login").get_data(as_text=True)
    assert "Log in with Staff Login" in page and 'name="password"' not in page
    refused = client.post("/login", data={"csrf_token": token, "name": "alice", "password": "correct horse battery"})
    assert refused.status_code == 403
    assert "Logging in with a name and password is switched off on this site: log in with Staff Login." in (
        refused.get_data(as_text=True)
    )
    assert "Logged in as" not in client.get("/").get_data(as_text=True)


def test_a_provider_that_does_not_answer_gives_the_login_page_with_a_message(sso_app):
    create_account(sso_app, "alice")
    client = sso_app.test_client()
    answer = client.get("/login/sso?next=/apps/portfolio")
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "Logging in with Staff Login did not work: it could not be reached (ConnectionError)" in page
    assert "Try again later, or log in with your name and password." in page
    assert 'name="password"' in page
    assert client_login(client, "alice", next_path="/apps/portfolio").headers["Location"] == "/apps/portfolio"


def test_a_callback_that_is_not_this_browsers_is_refused_with_a_message(sso_app):
    sso_app.extensions["single_sign_on"].server_metadata.update(
        issuer=sso_app.config["OIDC_ISSUER"], token_endpoint="http://127.0.0.1:9/token", _loaded_at=1
    )
    answer = sso_app.test_client().get("/login/sso/callback?code=stolen&state=forged")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Logging in with Staff Login did not work: this browser did not start that login here" in page
    assert f"open the site at {sso_app.config['SITE_PUBLIC_URL']} and log in again" in page
    with sso_app.app_context():
        from web.accounts.audit import events

        assert [(event.kind, event.actor, event.detail) for event in events()] == [
            (
                "login_failed",
                "",
                "single sign-on with Staff Login: this browser did not start that login here; "
                f"open the site at {sso_app.config['SITE_PUBLIC_URL']} and log in again",
            )
        ]


def test_an_error_from_the_provider_is_shown_not_raised(sso_app):
    answer = sso_app.test_client().get("/login/sso/callback?error=access_denied&error_description=no")
    assert answer.status_code == 400
    assert "the provider answered access_denied" in answer.get_data(as_text=True)
