"""The failed-login limits: the 429 page and header, their storage, and a storage that is down."""

import logging

import pytest

from aperture.environment import ConfigurationError
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import client_login, create_account, csrf_token
from web import create_app
from web.settings import load_settings


def settings(tmp_path, **values):
    return load_settings({"APERTURE_INSTANCE_DIR": str(tmp_path), "FLASK_SECRET_KEY": TEST_FLASK_SECRET, **values})


@pytest.fixture
def alice(app):
    create_account(app, "alice")
    return "alice"


def test_a_refused_login_says_which_limit_and_when_to_try_again(app, alice):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    assert [client_login(client, "alice", password="wrong-guess").status_code for _ in range(2)] == [200, 200]
    refused = client_login(client, "alice", password="wrong-guess")
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60
    page = refused.get_data(as_text=True)
    assert "Too many failed logins for this account from your address (2 per 1 minute)" in page
    assert f"Try again in {wait} seconds, at " in page or f"Try again in {wait - 1} seconds" in page
    assert "Back to the login page" in page


def test_the_per_address_limit_is_named_as_such(app, alice):
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "2 per hour"
    client = app.test_client()
    for name in ("alice", "bob"):
        assert client_login(client, name, password="wrong-guess").status_code == 200
    refused = client_login(client, "carol", password="wrong-guess")
    assert refused.status_code == 429
    assert "Too many failed logins from your address (2 per 1 hour)" in refused.get_data(as_text=True)
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600


def test_json_clients_get_the_limit_and_the_wait_as_fields(app, alice):
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    client = app.test_client()
    client_login(client, "alice", password="wrong-guess")
    form = client.get("/login").get_data(as_text=True)
    refused = client.post(
        "/login",
        data={"csrf_token": csrf_token(form), "name": "alice", "password": "x"},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["limit"] == "1 per 1 minute" and body["retry_after"] == int(refused.headers["Retry-After"])


def test_redis_is_the_shared_storage_with_bounded_waits(tmp_path):
    values = settings(tmp_path, RATELIMIT_STORAGE_URI="redis://cache:6379/0")
    assert values["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert values["RATELIMIT_STORAGE_OPTIONS"] == {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
    assert values["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert settings(tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize("uri", ["localhost:6379", "memcached://cache:11211", "redis"])
def test_an_unknown_limit_storage_stops_startup_with_its_name(tmp_path, uri):
    with pytest.raises(ConfigurationError, match="RATELIMIT_STORAGE_URI"):
        settings(tmp_path, RATELIMIT_STORAGE_URI=uri)


def test_with_redis_down_logins_work_and_failures_are_still_limited(app, alice, closed_port, caplog):
    """No Redis listening: a warning, then each worker counts in its own memory."""
    down = create_app(
        {
            **app.config,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{closed_port}/0",
            "LOGIN_RATE_LIMIT": "2 per minute",
        }
    )
    client = down.test_client()
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        assert client_login(client, "alice").status_code == 302
    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text
    other = down.test_client()
    statuses = [client_login(other, "alice", password="wrong-guess").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_an_ipv6_client_is_counted_by_its_64_network_not_by_each_address(app, alice):
    """One subscriber holds a whole /64: a fresh address per guess must not buy fresh guesses."""
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    same_network = ["2001:db8:7:1::a", "2001:db8:7:1::b", "2001:db8:7:1:ffff::1", "2001:db8:7:1:1234:5678:9:a"]
    statuses = [
        client_login(client_at(app, address), "alice", password="wrong").status_code for address in same_network
    ]
    assert statuses == [200, 200, 200, 429]
    assert client_login(client_at(app, "2001:db8:7:2::a"), "alice").status_code == 302, "the next /64 is someone else"


def test_an_ipv4_mapped_address_is_the_ipv4_client(app, alice):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    statuses = [
        client_login(client_at(app, address), "alice", password="wrong").status_code
        for address in ("192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7")
    ]
    assert statuses == [200, 200, 429]
