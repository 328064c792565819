"""The audit trail: an entry after each security event, none for a forged or refused request;
its log lines, retention, and the admin's page and JSON (read only)."""

import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from aperture.audit_record import AUDIT_EVENTS, AuditRecord
from tests.support.site_accounts import PASSWORD, client_login, create_account, csrf_token, logged_in_client
from web import create_app
from web.accounts import audit
from web.database import db
from web.models import AuditEvent, utcnow

SECRET = "s3cret-passphrase"


def entries(app, kind=None) -> list[tuple[str, str, str, str]]:
    """(kind, actor, subject, detail) of every entry, oldest first."""
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if kind:
            query = query.where(AuditEvent.kind == kind)
        return [(e.kind, e.actor, e.subject, e.detail) for e in db.session.scalars(query)]


def kinds(app) -> list[str]:
    return [entry[0] for entry in entries(app)]


def users(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=["users", *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def token_of(client, path="/account") -> str:
    return csrf_token(client.get(path, follow_redirects=True).get_data(as_text=True))


def test_logins_succeeded_and_failed_with_why_address_and_browser(app):
    create_account(app, "alice")
    client = app.test_client()
    client_login(client, "alice", password="wrong-guess")
    client_login(client, "nobody", password="wrong-guess")
    client_login(client, "alice")
    assert entries(app) == [
        ("login_failed", "", "alice", "wrong password"),
        ("login_failed", "", "nobody", "no such account"),
        ("login_succeeded", "alice", "alice", "password"),
    ]
    with app.app_context():
        entry = db.session.scalars(select(AuditEvent)).first()
        assert entry.address == "127.0.0.1" and entry.user_agent.startswith("Werkzeug/")


def test_a_refused_login_is_recorded_with_its_limit(app):
    create_account(app, "alice")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    client = app.test_client()
    client_login(client, "alice", password="wrong-guess")
    assert client_login(client, "alice", password="wrong-guess").status_code == 429
    assert entries(app)[-1] == (
        "login_failed",
        "",
        "alice",
        "refused: too many failed logins for this account from your address (1 per 1 minute)",
    )


def test_logout_log_out_everywhere_and_a_password_change(app):
    create_account(app, "alice")
    other = logged_in_client(app, "alice")
    client = logged_in_client(app, "alice")
    form = client.get("/account/password").get_data(as_text=True)
    fields = {"csrf_token": csrf_token(form), "current": PASSWORD, "password": SECRET, "confirm": SECRET}
    assert client.post("/account/password", data=fields).status_code == 302
    client.post("/account/logout-everywhere", data={"csrf_token": token_of(client)})
    again = logged_in_client(app, "alice", password=SECRET)
    again.post("/logout", data={"csrf_token": token_of(again)})
    assert other.get("/account").status_code == 302
    assert entries(app)[2:] == [
        ("password_changed", "alice", "alice", "1 other login session(s) ended"),
        ("logins_ended", "alice", "alice", "1 login session(s), by log out everywhere"),
        ("login_succeeded", "alice", "alice", "password"),
        ("logout", "alice", "alice", ""),
    ]


def test_an_admin_ending_logins_is_recorded_with_both_names(app):
    create_account(app, "root", "admin")
    create_account(app, "bob")
    logged_in_client(app, "bob")
    admin = logged_in_client(app, "root")
    page = admin.get("/admin").get_data(as_text=True)
    bob_id = re.search(r'action="/admin/accounts/(\d+)/end-sessions"', page).group(1)
    # root's own row comes after bob's in name order: the first form is bob's.
    assert (
        admin.post(f"/admin/accounts/{bob_id}/end-sessions", data={"csrf_token": csrf_token(page)}).status_code == 302
    )
    assert entries(app, "logins_ended") == [("logins_ended", "root", "bob", "1 login session(s), by an admin")]


def test_the_users_command_records_with_the_command_line_as_actor(app):
    users(app, "create", "carol", "--role", "finance", input=f"{SECRET}\n{SECRET}\n")
    users(app, "set-roles", "carol", "admin")
    output = users(app, "reset-password", "carol")
    users(app, "log-out", "carol")
    link = re.search(r"(/reset-password/\S+)", output).group(1)
    client = app.test_client()
    form = client.get(link).get_data(as_text=True)
    fields = {"csrf_token": csrf_token(form), "password": "another-secret", "confirm": "another-secret"}
    assert client.post(link, data=fields).status_code == 302
    users(app, "delete", "carol", "--yes")
    assert entries(app) == [
        ("account_created", "command line", "carol", "roles: finance"),
        ("roles_changed", "command line", "carol", "finance -> admin"),
        ("password_reset_issued", "command line", "carol", ""),
        ("logins_ended", "command line", "carol", "0 login session(s), by users log-out"),
        ("password_reset_used", "", "carol", "0 login session(s) ended"),
        ("account_deleted", "command line", "carol", ""),
    ]


def test_share_links_created_opened_and_revoked(app, monitor_reports):
    monitor_reports(True)
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    client.post("/s", data={"csrf_token": token_of(client, "/"), "app": "sliders", "query": "N=50"})
    links = client.get("/links").get_data(as_text=True)
    path = re.search(r'href="(/s/[A-Za-z0-9_-]+)"', links).group(1)
    link_id = re.search(r'action="/links/(\d+)/revoke"', links).group(1)
    assert app.test_client().get(path).status_code == 200
    client.post(f"/links/{link_id}/revoke", data={"csrf_token": csrf_token(links)})
    described = f"link {link_id} of sliders"
    assert entries(app)[1:] == [
        ("share_link_created", "alice", "alice", described),
        ("share_link_opened", "", "alice", described),
        ("share_link_revoked", "alice", "alice", described),
    ]
    assert all(path.rsplit("/", 1)[1] not in entry[3] for entry in entries(app)), "the token opens the link"


def test_single_sign_on_accounts_created_and_roles_changed_by_the_provider(app):
    from web.accounts.sso_accounts import account_for

    with app.app_context():
        account_for("https://id.example", "42", {"preferred_username": "dana"}, ["finance"])
        account_for("https://id.example", "42", {"preferred_username": "dana"}, ["finance"])
        account_for("https://id.example", "42", {"preferred_username": "dana"}, ["admin"])
    assert entries(app) == [
        ("account_created", "single sign-on", "dana", "42 at https://id.example"),
        ("roles_changed", "single sign-on", "dana", "finance -> admin, from the provider"),
    ]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/logout", {}),
        ("/account/logout-everywhere", {}),
        ("/links/1/revoke", {}),
        ("/admin/accounts/1/end-sessions", {}),
        ("/login", {"name": "alice", "password": "wrong-guess"}),
        ("/account/second-factor", {"code": "123456"}),
    ],
)
def test_a_forged_request_without_the_csrf_token_records_nothing(app, path, data):
    create_account(app, "alice", "admin")
    client = logged_in_client(app, "alice")
    before = entries(app)
    assert client.post(path, data=data).status_code == 400
    assert entries(app) == before


def test_each_entry_is_one_json_line_in_the_log(app, caplog):
    create_account(app, "alice")
    with caplog.at_level(logging.INFO, logger="web.audit"):
        client_login(app.test_client(), "alice", password="wrong-guess")
    lines = [record.getMessage() for record in caplog.records if record.name == "web.audit"]
    assert len(lines) == 1 and "\n" not in lines[0]
    line = json.loads(lines[0])
    assert {key: line[key] for key in ("kind", "actor", "subject", "detail")} == {
        "kind": "login_failed",
        "actor": "",
        "subject": "alice",
        "detail": "wrong password",
    }
    assert line["address"] == "127.0.0.1" and line["at"].endswith("+00:00")
    assert "wrong-guess" not in caplog.text


def test_entries_past_the_retention_are_deleted_at_startup_and_on_later_writes(app, monkeypatch):
    def add(days_old):
        entry = AuditRecord("logout", actor=f"old{days_old}", at=utcnow() - timedelta(days=days_old))
        db.session.execute(insert(AUDIT_EVENTS).values(entry.row()))
        db.session.commit()

    with app.app_context():
        add(40)
        add(10)
    app.config["AUDIT_RETENTION_DAYS"] = 30
    restarted = create_app({**app.config, "AUDIT_RETENTION_DAYS": 30})
    assert [entry[1] for entry in entries(restarted)] == ["old10"]
    with app.app_context():
        add(40)
        audit.record("logout", actor="new")
        assert [entry[1] for entry in entries(app)] == ["old10", "old40", "new"], "pruned at most hourly"
        monkeypatch.setitem(audit._last_prune, "at", -audit.PRUNE_EVERY_SECONDS)
        audit.record("logout", actor="newer")
    assert [entry[1] for entry in entries(app)] == ["old10", "new", "newer"]


@pytest.fixture
def trail(app):
    create_account(app, "root", "admin")
    create_account(app, "bob")
    client = app.test_client()
    client_login(client, "bob", password="wrong-guess")
    logged_in_client(app, "bob")
    return logged_in_client(app, "root")


def test_the_admin_reads_the_trail_as_json_with_filters(app, trail):
    everything = trail.get("/api/admin/audit").get_json()["events"]
    assert [event["kind"] for event in everything] == ["login_succeeded", "login_succeeded", "login_failed"]
    assert everything[0]["subject"] == "root" and everything[0]["at"].endswith("+00:00")
    bob = trail.get("/api/admin/audit?person=Bob").get_json()["events"]
    assert [(event["kind"], event["subject"]) for event in bob] == [("login_succeeded", "bob"), ("login_failed", "bob")]
    failed = trail.get("/api/admin/audit?kind=login_failed").get_json()["events"]
    assert [event["detail"] for event in failed] == ["wrong password"]
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert trail.get(f"/api/admin/audit?since={tomorrow}").get_json()["events"] == []
    assert len(trail.get(f"/api/admin/audit?until={tomorrow}&limit=2").get_json()["events"]) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=nonsense", "kind must be one of"),
        ("since=yesterday", "since must be an ISO date"),
        ("limit=0", "limit must be"),
    ],
)
def test_bad_filters_get_a_clear_400(trail, query, message):
    answer = trail.get(f"/api/admin/audit?{query}", headers={"Accept": "application/json"})
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)


def test_the_admin_page_shows_the_trail_with_its_filter_form(trail):
    answer = trail.get("/admin/audit?person=bob")
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    assert page.count('class="audit-event"') == 2 and 'value="bob"' in page
    assert 'href="/admin/audit"' in trail.get("/admin").get_data(as_text=True)


def test_only_admins_see_the_trail(app, trail):
    assert app.test_client().get("/api/admin/audit").status_code == 403
    assert app.test_client().get("/admin/audit").status_code == 302
    bob = logged_in_client(app, "bob")
    assert bob.get("/api/admin/audit").status_code == 403 and bob.get("/admin/audit").status_code == 403


def test_nothing_changes_or_deletes_an_entry(app):
    audit_rules = [rule for rule in app.url_map.iter_rules() if "audit" in rule.rule]
    assert {rule.rule for rule in audit_rules} == {"/admin/audit", "/api/admin/audit"}
    assert all(rule.methods <= {"GET", "HEAD", "OPTIONS"} for rule in audit_rules)
    commands = app.cli.commands["users"].commands
    assert not [name for name in commands if "audit" in name]
