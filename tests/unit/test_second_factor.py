"""The second factor of local accounts: enrolment, the login's second step, limits, REQUIRE_MFA, reset-mfa."""

import re
from datetime import timedelta

import pyotp
import pytest

from aperture.site_login import LOGIN_MARKER_KEY, SITE_VISITOR_KEY, session_serializer
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import client_login, create_account, csrf_token, logged_in_client, signed_in_name
from web.accounts import second_factor
from web.accounts.users import find_user
from web.models import AuditEvent, User, utcnow


class Clock:
    """The second factor's idea of now, moved on by whole 30-second steps."""

    def __init__(self, monkeypatch):
        self.offset = timedelta()
        monkeypatch.setattr(second_factor, "utcnow", lambda: utcnow() + self.offset)

    def next_step(self):
        self.offset += timedelta(seconds=30)

    def code(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(utcnow() + self.offset)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def enrol(client, clock) -> tuple[str, list[str]]:
    """Enrol the client's account from its account page: its secret and recovery codes."""
    page = client.get("/account/second-factor").get_data(as_text=True)
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    answer = client.post("/account/second-factor", data={"csrf_token": csrf_token(page), "code": clock.code(secret)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", answer.get_data(as_text=True))
    return secret, codes


def post_code(client, code: str):
    page = client.get("/login/code").get_data(as_text=True)
    return client.post("/login/code", data={"csrf_token": csrf_token(page), "code": code})


def cookie_contents(client) -> dict:
    cookie = client.get_cookie("aperture_session")
    return session_serializer(TEST_FLASK_SECRET).loads(cookie.value) if cookie else {}


def audit_entries(app, kind: str) -> list[AuditEvent]:
    from web.database import db

    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


@pytest.fixture
def enrolled(app, clock):
    """Alice, with a second factor enrolled: her secret and recovery codes."""
    create_account(app, "alice")
    secret, codes = enrol(logged_in_client(app, "alice"), clock)
    clock.next_step()
    return secret, codes


def test_enrolment_shows_a_qr_code_and_takes_only_a_right_code(app, clock):
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    page = client.get("/account/second-factor")
    assert page.headers["Cache-Control"] == "no-store"
    assert 'src="data:image/svg+xml;base64,' in page.get_data(as_text=True)
    wrong = client.post(
        "/account/second-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": "000000"}
    )
    assert wrong.status_code == 302
    with app.app_context():
        assert not find_user("alice").has_second_factor
    secret, codes = enrol(client, clock)
    assert len(codes) == len(set(codes)) == 10
    with app.app_context():
        user = find_user("alice")
        assert user.totp_secret == secret and user.totp_pending_secret is None
        assert all(code.replace("-", "") not in {row.code_hash for row in user.recovery_codes} for code in codes)
    assert "Manage it" in client.get("/account").get_data(as_text=True)
    assert [entry.subject for entry in audit_entries(app, "second_factor_enrolled")] == ["alice"]


def test_the_password_alone_opens_nothing_for_an_enrolled_account(app, enrolled):
    logins_before = len(audit_entries(app, "login_succeeded"))
    client = app.test_client()
    answer = client_login(client, "alice")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/code")
    contents = cookie_contents(client)
    assert LOGIN_MARKER_KEY not in contents and SITE_VISITOR_KEY not in contents
    assert signed_in_name(client) is None
    assert client.get("/account").status_code == 302
    assert len(audit_entries(app, "login_succeeded")) == logins_before


def test_a_wrong_code_is_refused_and_the_right_one_logs_in(app, enrolled, clock):
    secret, _ = enrolled
    client = app.test_client()
    client_login(client, "alice", next_path="/links")
    wrong = post_code(client, "123456" if clock.code(secret) != "123456" else "654321")
    assert wrong.status_code == 200 and "That code is wrong." in wrong.get_data(as_text=True)
    assert signed_in_name(client) is None
    right = post_code(client, clock.code(secret))
    assert right.status_code == 302 and right.headers["Location"] == "/links"
    assert signed_in_name(client) == "alice"
    assert cookie_contents(client)[SITE_VISITOR_KEY]["name"] == "alice"
    assert [entry.detail for entry in audit_entries(app, "login_failed")] == ["wrong second-factor code"]
    assert [entry.detail for entry in audit_entries(app, "second_factor_used")] == ["authenticator code"]


def test_a_replayed_code_is_refused(app, enrolled, clock):
    secret, _ = enrolled
    code = clock.code(secret)
    first = app.test_client()
    client_login(first, "alice")
    assert post_code(first, code).status_code == 302
    second = app.test_client()
    client_login(second, "alice")
    replayed = post_code(second, code)
    assert replayed.status_code == 200 and "used already" in replayed.get_data(as_text=True)
    assert signed_in_name(second) is None
    # An older code still inside the window is a replay too: steps only go forward.
    clock.next_step()
    assert post_code(second, code).status_code == 200
    assert post_code(second, clock.code(secret)).status_code == 302
    assert "second-factor code used already" in [entry.detail for entry in audit_entries(app, "login_failed")]


def test_a_recovery_code_logs_in_once(app, enrolled):
    _, codes = enrolled
    client = app.test_client()
    client_login(client, "alice")
    assert post_code(client, codes[3].upper()).status_code == 302
    assert signed_in_name(client) == "alice"
    again = app.test_client()
    client_login(again, "alice")
    used = post_code(again, codes[3])
    assert used.status_code == 200 and signed_in_name(again) is None
    assert audit_entries(app, "second_factor_used")[-1].detail == "recovery code (9 left)"


def test_codes_count_against_the_login_limits_with_passwords(app, enrolled, clock):
    secret, _ = enrolled
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    assert client_login(client, "alice", password="wrong-guess").status_code == 200
    client_login(client, "alice")
    assert post_code(client, "000000" if clock.code(secret) != "000000" else "111111").status_code == 200
    assert post_code(client, "not-a-code").status_code == 200
    refused = post_code(client, clock.code(secret))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert signed_in_name(client) is None
    assert audit_entries(app, "login_failed")[-1].detail.startswith("refused: too many failed logins for this account")


def test_the_code_is_asked_for_only_after_the_password(app, enrolled, clock):
    secret, _ = enrolled
    client = app.test_client()
    answer = client.get("/login/code")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    form = client.get("/login").get_data(as_text=True)
    posted = client.post("/login/code", data={"csrf_token": csrf_token(form), "code": clock.code(secret)})
    assert posted.status_code == 302 and signed_in_name(client) is None


def test_admins_are_made_to_enrol_first_under_require_mfa(app, clock):
    app.config["REQUIRE_MFA"] = True
    create_account(app, "root", "admin")
    client = logged_in_client(app, "root")
    assert SITE_VISITOR_KEY not in cookie_contents(client), "the apps must not honour this login yet"
    for path in ("/", "/admin", "/account"):
        sent = client.get(path)
        assert sent.status_code == 302 and sent.headers["Location"].endswith("/account/second-factor")
    assert client.get("/api/admin/stats").status_code == 403
    enrol(client, clock)
    admin_page = client.get("/admin").get_data(as_text=True)
    assert re.search(r'data-account="root">.*?<td class="second-factor">on</td>', admin_page, re.S)
    assert cookie_contents(client)[SITE_VISITOR_KEY]["name"] == "root"


def test_require_mfa_leaves_other_accounts_alone(app):
    app.config["REQUIRE_MFA"] = True
    create_account(app, "bob")
    assert logged_in_client(app, "bob").get("/").status_code == 200


def test_reset_mfa_lets_the_password_alone_log_in_again(app, enrolled):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-mfa", "Alice"])
    assert result.exit_code == 0, result.output
    assert "second factor removed" in result.output
    with app.app_context():
        user = find_user("alice")
        assert user.totp_secret is None and user.recovery_codes == []
    assert logged_in_client(app, "alice").get("/account").status_code == 200
    entry = audit_entries(app, "second_factor_reset")[-1]
    assert (entry.actor, entry.subject) == ("command line", "alice")
    again = runner.invoke(args=["users", "reset-mfa", "alice"])
    assert again.exit_code != 0 and "alice has no second factor" in again.output
    unknown = runner.invoke(args=["users", "reset-mfa", "nobody"])
    assert (
        unknown.exit_code != 0 and "no account called 'nobody'" in unknown.output and "Traceback" not in unknown.output
    )


def test_its_owner_removes_it_with_a_code(app, enrolled):
    _, codes = enrolled
    client = app.test_client()
    client_login(client, "alice")
    post_code(client, codes[0])
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert "9 recovery code(s) left" in page
    refused = client.post("/account/second-factor/remove", data={"csrf_token": csrf_token(page), "code": codes[0]})
    assert refused.status_code == 302
    with app.app_context():
        assert find_user("alice").has_second_factor
    client.post("/account/second-factor/remove", data={"csrf_token": csrf_token(page), "code": codes[1]})
    with app.app_context():
        assert not find_user("alice").has_second_factor


def test_single_sign_on_accounts_leave_it_to_their_provider(app):
    from web.database import db

    with app.app_context():
        db.session.add(User(name="sso", oidc_issuer="https://id.example", oidc_subject="42"))
        db.session.commit()
    client = app.test_client()
    with app.app_context():
        from web.accounts.login_sessions import open_login_session

        token = open_login_session(find_user("sso"))
    with client.session_transaction() as session:
        session[LOGIN_MARKER_KEY] = token
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert "its second factor, if any, is set up there" in page
    assert client.post("/account/second-factor", data={"csrf_token": csrf_token(page), "code": "1"}).status_code == 409


def test_the_code_must_follow_the_password_within_five_minutes(app, enrolled):
    from web.accounts.login_second_step import SECOND_STEP_KEY, SECOND_STEP_SECONDS

    client = app.test_client()
    client_login(client, "alice")
    with client.session_transaction() as session:
        session[SECOND_STEP_KEY] = {
            **session[SECOND_STEP_KEY],
            "since": session[SECOND_STEP_KEY]["since"] - SECOND_STEP_SECONDS - 1,
        }
    late = client.get("/login/code")
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    assert SECOND_STEP_KEY not in cookie_contents(client)
