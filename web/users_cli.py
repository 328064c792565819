"""``flask --app web users ...``: manage the site's accounts from the command line.

``users create NAME [--admin] [--role ROLE]...`` prompts for the password twice (never take it
as an argument: it would show in the process list and the shell history), ``users list`` and
``users delete NAME``. Each applies the migrations first when ``DATABASE_AUTO_UPGRADE`` is on,
so they work on a fresh clone before the site has ever run.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from bkapps.access import ADMIN_ROLE
from web.accounts import AccountError, all_users, create_user, delete_user
from web.database import upgrade_schema

users = AppGroup("users", help="Manage the site's accounts.")


def _schema_ready() -> None:
    if current_app.config.get("DATABASE_AUTO_UPGRADE"):
        upgrade_schema(current_app._get_current_object())


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May open every app and the admin view.")
@click.option("--role", "roles", multiple=True, help="A role that opens private apps restricted to it (repeatable).")
def create(name: str, admin: bool, roles: tuple[str, ...]) -> None:
    """Create account NAME; asks for its password."""
    _schema_ready()
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(name, password, [*roles, *([ADMIN_ROLE] if admin else [])])
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {user.name}" + (f" (roles: {', '.join(user.roles)})" if user.roles else ""))


@users.command("list")
def list_users() -> None:
    """List the accounts: name, roles, creation date, share links."""
    _schema_ready()
    for user in all_users():
        roles = ",".join(user.roles) or "-"
        click.echo(f"{user.name}\t{roles}\t{user.created_at:%Y-%m-%d}\t{len(user.share_links)} share link(s)")


@users.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Delete this account and its share links?")
def delete(name: str) -> None:
    """Delete account NAME and its share links."""
    _schema_ready()
    if not delete_user(name):
        raise click.ClickException(f"there is no account called {name!r}")
    click.echo(f"deleted {name.strip().lower()}")


def init_app(app) -> None:
    app.cli.add_command(users)
