"""Accounts and the ``flask --app web users`` commands, on a fresh migrated database."""

import logging

import pytest

from web.accounts.users import AccountError, authenticate, create_user, find_user
from web.models import User

SECRET = "s3cret-passphrase"


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


def test_users_create_prompts_twice_and_stores_only_a_hash(app, caplog):
    with caplog.at_level(logging.DEBUG):
        result = run(app, "create", "Alice", input=f"{SECRET}\n{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert "created alice" in result.output
    assert SECRET not in result.output and SECRET not in caplog.text
    with app.app_context():
        user = find_user("ALICE")
        assert user.name == "alice" and user.roles == ()
        assert SECRET not in user.password_hash
        assert authenticate("alice", SECRET) == user
        assert authenticate("alice", "wrong-password") is None


def test_the_real_hash_method_is_scrypt(app, monkeypatch):
    from werkzeug.security import generate_password_hash

    from web import models

    monkeypatch.setattr(models, "generate_password_hash", generate_password_hash)
    user = User(name="x")
    user.set_password(SECRET)
    assert user.password_hash.startswith("scrypt:")


def test_users_create_admin_and_roles(app):
    assert run(app, "create", "ada", "--admin", "--role", "finance", input=f"{SECRET}\n{SECRET}\n").exit_code == 0
    with app.app_context():
        assert find_user("ada").roles == ("admin", "finance")
        assert find_user("ada").visitor().is_admin


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("bad name", SECRET, "a name is 1 to 64"),
        ("alice", "short", "at least 8 characters"),
    ],
)
def test_users_create_refuses_bad_input_with_a_message(app, name, password, message):
    result = run(app, "create", name, input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_taken_name_is_refused(app):
    with app.app_context():
        create_user("alice", SECRET)
        with pytest.raises(AccountError, match="already"):
            create_user("Alice", SECRET)


def test_users_list_and_delete(app):
    run(app, "create", "alice", input=f"{SECRET}\n{SECRET}\n")
    run(app, "create", "ada", "--admin", input=f"{SECRET}\n{SECRET}\n")
    listing = run(app, "list").output.splitlines()
    assert [line.split("\t")[:2] for line in listing] == [["ada", "admin"], ["alice", "-"]]
    assert run(app, "delete", "alice", "--yes").exit_code == 0
    assert [line.split("\t")[0] for line in run(app, "list").output.splitlines()] == ["ada"]
    missing = run(app, "delete", "alice", "--yes")
    assert missing.exit_code != 0 and "no account called 'alice'" in missing.output


def test_the_commands_migrate_a_fresh_database_first(app, tmp_path):
    from web import create_app

    fresh = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/fresh.db", "DATABASE_AUTO_UPGRADE": True})
    assert run(fresh, "list").exit_code == 0
    assert run(fresh, "create", "alice", input=f"{SECRET}\n{SECRET}\n").exit_code == 0


def test_users_create_reads_the_password_from_stdin_for_scripts(app, recwarn):
    result = run(app, "create", "robot", "--role", "finance", "--password-stdin", input=f"{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert result.output == "created robot (roles: finance)\n", "no prompt, no warning"
    assert not [warning for warning in recwarn if "getpass" in str(warning.message).lower()]
    with app.app_context():
        assert authenticate("robot", SECRET) is not None


@pytest.mark.parametrize(("stdin", "message"), [("", "holds no line"), ("short\n", "at least 8 characters")])
def test_users_create_refuses_a_missing_or_short_password_on_stdin(app, stdin, message):
    result = run(app, "create", "robot", "--password-stdin", input=stdin)
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert find_user("robot") is None


def test_the_minimum_password_length_is_a_setting(app):
    app.config["MIN_PASSWORD_LENGTH"] = 20
    result = run(app, "create", "alice", "--password-stdin", input=f"{SECRET}\n")
    assert result.exit_code != 0 and "at least 20 characters" in result.output


def test_users_set_roles_replaces_the_roles(app):
    run(app, "create", "bob", "--role", "finance", "--password-stdin", input=f"{SECRET}\n")
    result = run(app, "set-roles", "Bob", "admin", "ops")
    assert result.exit_code == 0 and result.output == "bob: roles admin, ops\n"
    assert run(app, "set-roles", "bob").output == "bob: roles none\n"
    with app.app_context():
        assert find_user("bob").roles == ()
    bad = run(app, "set-roles", "bob", "not a role")
    assert bad.exit_code != 0 and "is not a valid name" in bad.output
    missing = run(app, "set-roles", "nobody", "ops")
    assert missing.exit_code != 0 and "no account called 'nobody'" in missing.output


def test_users_log_out_ends_every_login_and_list_shows_them(app):
    from tests.support.site_accounts import logged_in_client, signed_in_name

    run(app, "create", "bob", "--password-stdin", input=f"{SECRET}\n")
    assert run(app, "list").output.split("\t")[4:] == ["last login never", "0 open session(s)\n"]
    browsers = [logged_in_client(app, "bob", SECRET) for _ in range(2)]
    assert run(app, "list").output.split("\t")[5] == "2 open session(s)\n"
    assert run(app, "log-out", "bob").output == "bob: 2 login session(s) ended\n"
    assert [signed_in_name(browser) for browser in browsers] == [None, None]
    assert run(app, "list").output.split("\t")[5] == "0 open session(s)\n"


def test_a_piped_password_gives_no_warning_from_the_real_command(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/piped.db", "DATABASE_AUTO_UPGRADE": "true"}
    command = [sys.executable, "-m", "flask", "--app", "web", "users", "create", "robot", "--password-stdin"]
    result = subprocess.run(command, input=f"{SECRET}\n", capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "created robot"
    assert "Warning" not in result.stderr and "Password" not in result.stdout + result.stderr
