"""``flask --app web users ...``: manage the site's accounts from the command line.

``users create NAME [--admin] [--role ROLE]...`` prompts for the password twice (never take it
as an argument: it would show in the process list and the shell history), or reads one line from
standard input with ``--password-stdin`` (scripts). ``users set-roles NAME [ROLE]...``,
``users reset-password NAME`` (prints a one-time link), ``users log-out NAME`` (ends every login
session), ``users reset-mfa NAME`` (removes a lost second factor), ``users list`` and
``users delete NAME``. Each change is recorded in the audit trail with the actor ``command line``.
Each applies the migrations first when ``DATABASE_AUTO_UPGRADE`` is on, so they work on a fresh
clone before the site has ever run.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from aperture.access import ADMIN_ROLE
from web.accounts.audit import COMMAND_LINE, record
from web.accounts.login_sessions import end_all_login_sessions, open_session_counts
from web.accounts.password_resets import issue_reset, reset_url
from web.accounts.second_factor import remove_second_factor
from web.accounts.users import (
    AccountError,
    all_users,
    create_user,
    delete_user,
    find_user,
    passwords_refused,
    set_roles,
)
from web.database import upgrade_schema

users = AppGroup("users", help="Manage the site's accounts.")


def _schema_ready() -> None:
    if current_app.config.get("DATABASE_AUTO_UPGRADE"):
        upgrade_schema(current_app._get_current_object())


def _user_or_fail(name: str):
    user = find_user(name)
    if user is None:
        raise click.ClickException(f"there is no account called {name.strip().lower()!r}")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, without its line ending; no prompt and no terminal handling (no getpass warning).
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("--password-stdin: standard input holds no line")
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May open every app and the admin view.")
@click.option("--role", "roles", multiple=True, help="A role that opens private apps restricted to it (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create(name: str, admin: bool, roles: tuple[str, ...], password_stdin: bool) -> None:
    """Create account NAME; asks for its password."""
    _schema_ready()
    password = _read_password(password_stdin)
    try:
        user = create_user(name, password, [*roles, *([ADMIN_ROLE] if admin else [])])
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    record("account_created", actor=COMMAND_LINE, subject=user.name, detail=f"roles: {' '.join(user.roles) or 'none'}")
    click.echo(f"created {user.name}" + (f" (roles: {', '.join(user.roles)})" if user.roles else ""))


@users.command("set-roles")
@click.argument("name")
@click.argument("roles", nargs=-1)
def set_roles_command(name: str, roles: tuple[str, ...]) -> None:
    """Give account NAME exactly ROLES (none: no role; 'admin' for the admin view)."""
    _schema_ready()
    before = find_user(name)
    old_roles = before.roles if before else ()
    try:
        user = set_roles(name, roles)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    record("roles_changed", actor=COMMAND_LINE, subject=user.name, detail=_roles_change(old_roles, user.roles))
    click.echo(f"{user.name}: roles {', '.join(user.roles) or 'none'}")


@users.command("reset-password")
@click.argument("name")
def reset_password(name: str) -> None:
    """Print a one-time link that sets a new password for NAME."""
    _schema_ready()
    user = _user_or_fail(name)
    refused = passwords_refused()
    if refused:
        raise click.ClickException(f"{refused} (LOCAL_LOGIN=false): a reset link would set a password nobody can use")
    link = reset_url(issue_reset(user))
    record("password_reset_issued", actor=COMMAND_LINE, subject=user.name)
    hours = int(current_app.config["PASSWORD_RESET_TTL_SECONDS"]) / 3600
    click.echo(f"Give {user.name} this link; it sets a new password once, within {hours:g} hour(s):")
    click.echo(link)


@users.command("log-out")
@click.argument("name")
def log_out_command(name: str) -> None:
    """End every login session of NAME, on every browser."""
    _schema_ready()
    user = _user_or_fail(name)
    ended = end_all_login_sessions(user)
    record("logins_ended", actor=COMMAND_LINE, subject=user.name, detail=f"{ended} login session(s), by users log-out")
    click.echo(f"{user.name}: {ended} login session(s) ended")


@users.command("reset-mfa")
@click.argument("name")
def reset_mfa(name: str) -> None:
    """Remove NAME's second factor and recovery codes (they lost them); the password alone then logs in."""
    _schema_ready()
    user = _user_or_fail(name)
    if not user.has_second_factor and not user.totp_pending_secret:
        raise click.ClickException(f"{user.name} has no second factor")
    remove_second_factor(user)
    record("second_factor_reset", actor=COMMAND_LINE, subject=user.name, detail="by users reset-mfa")
    click.echo(f"{user.name}: second factor removed; they can enrol a new one from their account page")


@users.command("list")
def list_users() -> None:
    """List the accounts: name, roles, creation date, share links, last login, open sessions."""
    _schema_ready()
    counts = open_session_counts()
    for user in all_users():
        roles = ",".join(user.roles) or "-"
        last_login = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        click.echo(
            f"{user.name}\t{roles}\t{user.created_at:%Y-%m-%d}\t{len(user.share_links)} share link(s)"
            f"\tlast login {last_login}\t{counts.get(user.id, 0)} open session(s)"
        )


@users.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Delete this account, its login sessions and share links?")
def delete(name: str) -> None:
    """Delete account NAME, its login sessions and share links."""
    _schema_ready()
    if not delete_user(name):
        raise click.ClickException(f"there is no account called {name!r}")
    record("account_deleted", actor=COMMAND_LINE, subject=name.strip().lower())
    click.echo(f"deleted {name.strip().lower()}")


def _roles_change(old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """What a roles change did, for the audit trail: ``admin, finance -> finance``."""
    return f"{', '.join(old) or 'none'} -> {', '.join(new) or 'none'}"


def init_app(app) -> None:
    app.cli.add_command(users)
