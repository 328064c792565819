"""The private ``portfolio`` app: who it greets and who gets the admin control, from the token only."""

import pytest

from aperture.session_token import token_payload
from bkapps.portfolio.data import ASSETS, simulate
from tests.support.app_documents import ServedApp


@pytest.fixture
def portfolio():
    from aperture.catalog import CATALOG

    app = ServedApp(CATALOG["portfolio"])
    yield app
    app.unload()


def site_token(user=None, **arguments):
    return token_payload(arguments, app="portfolio", user=user)


def test_a_signed_in_user_is_greeted_by_name_without_the_admin_control(portfolio):
    session = portfolio.open_with_token(site_token({"name": "alice", "roles": []}, days=60))
    assert "Hello, alice." in session.select("greeting").text
    assert session.document.select_one({"name": "admin_shock"}) is None
    assert len(session.select("portfolio").data["day"]) == 61


def test_an_admin_gets_the_stress_test_and_it_runs_python(portfolio):
    session = portfolio.open_with_token(site_token({"name": "ada", "roles": ["admin"]}, days=100))
    shock = session.select("admin_shock")
    before = session.select("portfolio").data["total"][-1]
    shock.value = -30
    for callback in shock._callbacks["value_throttled"]:
        callback("value_throttled", 0, -30)
    assert session.select("portfolio").data["total"][-1] < before * 0.8


def test_a_shared_view_greets_a_guest(portfolio):
    session = portfolio.open_with_token(site_token(None, days=30))
    assert "Hello, guest." in session.select("greeting").text
    assert session.document.select_one({"name": "admin_shock"}) is None


def test_names_are_escaped(portfolio):
    session = portfolio.open_with_token(site_token({"name": "a.b-c", "roles": []}))
    assert "Hello, a.b-c." in session.select("greeting").text
    forged = portfolio.open_with_token(site_token({"name": "<img src=x>", "roles": ["admin"]}))
    assert "Hello, guest." in forged.select("greeting").text, "a malformed identity is nobody"


def test_a_token_not_minted_for_this_app_builds_a_notice_not_the_app(portfolio):
    session = portfolio.open_with_token(token_payload({}, user={"name": "ada", "roles": ["admin"]}))
    assert [root.name for root in session.document.roots] == ["private_app"]
    other = portfolio.open_with_token(token_payload({}, app="sliders"))
    assert [root.name for root in other.document.roots] == ["private_app"]


def test_the_simulation_is_reproducible_and_the_shock_lands_halfway():
    calm, shocked = simulate(40), simulate(40, shock=-0.5)
    assert calm == simulate(40)
    assert set(calm) == {"day", "total", *ASSETS}
    assert calm["total"][:21] == shocked["total"][:21]
    assert shocked["total"][21] < calm["total"][21] * 0.6
