"""The settings of accounts and logins: database URL, rate limits, cookie, session ids."""

import pytest

from aperture.environment import ConfigurationError
from tests.support.servers import TEST_FLASK_SECRET
from web.settings import database_url, load_settings


def settings(tmp_path, **values):
    return load_settings({"APERTURE_INSTANCE_DIR": str(tmp_path), "FLASK_SECRET_KEY": TEST_FLASK_SECRET, **values})


def test_the_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    assert settings(tmp_path)["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path.resolve()}/aperture.db"
    assert settings(tmp_path)["DATABASE_AUTO_UPGRADE"] is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db/aperture", "postgresql+psycopg://u:p@db/aperture"),
        ("postgres://u@db/aperture", "postgresql+psycopg://u@db/aperture"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////var/lib/aperture.db", "sqlite:////var/lib/aperture.db"),
    ],
)
def test_database_urls_use_the_installed_driver(url, expected):
    assert database_url({"DATABASE_URL": url}) == expected


def test_a_bad_database_url_or_limit_stops_startup_with_its_name(tmp_path):
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        settings(tmp_path, DATABASE_URL="not a url")
    with pytest.raises(ConfigurationError, match="LOGIN_RATE_LIMIT"):
        settings(tmp_path, LOGIN_RATE_LIMIT="lots")
    with pytest.raises(ConfigurationError, match="BOKEH_SESSION_IDS"):
        settings(tmp_path, BOKEH_SESSION_IDS="unsigned")


def test_production_migrates_as_a_deploy_step_and_sends_the_cookie_over_https_only(tmp_path):
    production = settings(
        tmp_path, APERTURE_ENV="production", BOKEH_SECRET_KEY="b" * 40, BOKEH_ALLOW_WEBSOCKET_ORIGIN="localhost:5006"
    )
    assert production["DATABASE_AUTO_UPGRADE"] is False
    assert production["SESSION_COOKIE_SECURE"] is True


def test_the_login_cookie_settings_are_shared_with_the_bokeh_side(tmp_path):
    from aperture.site_login import SiteLoginSettings

    values = {"SESSION_COOKIE_NAME": "site_login", "SESSION_LIFETIME_HOURS": "2"}
    site = settings(tmp_path, **values)
    bokeh = SiteLoginSettings.from_environ({"FLASK_SECRET_KEY": TEST_FLASK_SECRET, **values})
    assert bokeh.check_seconds == site["LOGIN_CHECK_SECONDS"] == 1.0
    quicker = SiteLoginSettings.from_environ({"FLASK_SECRET_KEY": "f" * 40, "LOGIN_CHECK_SECONDS": "0.5"})
    assert quicker.check_seconds == 0.5
    # Longer would let an ended login through for more than two seconds.
    with pytest.raises(ConfigurationError, match="LOGIN_CHECK_SECONDS must be at most 1"):
        SiteLoginSettings.from_environ({"FLASK_SECRET_KEY": "f" * 40, "LOGIN_CHECK_SECONDS": "5"})
    assert site["SESSION_COOKIE_NAME"] == bokeh.cookie_name == "site_login"
    assert site["PERMANENT_SESSION_LIFETIME"] == bokeh.lifetime_seconds == 7200
    assert site["SECRET_KEY"] == bokeh.secret_key
    assert (site["SESSION_COOKIE_HTTPONLY"], site["SESSION_COOKIE_SAMESITE"]) == (True, "Lax")


def test_the_cookie_belongs_to_the_sites_host_unless_a_parent_domain_is_named(tmp_path, app):
    from tests.support.site_accounts import client_login, create_account
    from web import create_app

    assert settings(tmp_path)["SESSION_COOKIE_DOMAIN"] is None
    assert settings(tmp_path, SESSION_COOKIE_DOMAIN="example.com")["SESSION_COOKIE_DOMAIN"] == "example.com"
    shared = create_app({**app.config, "SESSION_COOKIE_DOMAIN": "example.com", "SERVER_NAME": "example.com"})
    create_account(shared, "alice")
    cookie = client_login(shared.test_client(), "alice").headers["Set-Cookie"]
    assert "Domain=example.com" in cookie


def test_password_settings_have_working_defaults_and_refuse_nonsense(tmp_path):
    defaults = settings(tmp_path)
    assert defaults["MIN_PASSWORD_LENGTH"] == 8
    assert defaults["PASSWORD_RESET_TTL_SECONDS"] == 24 * 3600
    assert defaults["SITE_PUBLIC_URL"] == "http://localhost:8000"
    chosen = settings(tmp_path, MIN_PASSWORD_LENGTH="12", PASSWORD_RESET_TTL_SECONDS="900")
    assert (chosen["MIN_PASSWORD_LENGTH"], chosen["PASSWORD_RESET_TTL_SECONDS"]) == (12, 900)
    for name in ("MIN_PASSWORD_LENGTH", "PASSWORD_RESET_TTL_SECONDS"):
        with pytest.raises(ConfigurationError, match=name):
            settings(tmp_path, **{name: "0"})
        with pytest.raises(ConfigurationError, match=name):
            settings(tmp_path, **{name: "soon"})
