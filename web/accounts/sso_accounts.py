"""Accounts of people who log in through an OpenID Connect provider (``web.accounts.single_sign_on``).

An account is matched by the provider's issuer and the person's ``sub``, never by name: a
provider's user called ``ada`` does not become the site's local ``ada``. The first login creates
the account, without a password, under a name derived from the claims (``preferred_username``,
else the email's local part, else ``sub``), made valid for ``NAME_PATTERN`` and unique. Roles
from the provider, when the site takes them, replace the account's at every login.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aperture.access import NAME_PATTERN
from web.accounts.audit import record
from web.accounts.users import find_user
from web.database import db
from web.models import User

log = logging.getLogger(__name__)

MAX_NAME = 64
# Room for "-99999" after a derived name that is taken.
_MAX_BASE = MAX_NAME - 6
_NOT_IN_NAME = re.compile(r"[^a-z0-9_.-]+")
_CREATE_ATTEMPTS = 3
# The actor of audit entries the provider's answer caused (no account name has a space).
SINGLE_SIGN_ON = "single sign-on"


def name_from_text(text: object) -> str:
    """``text`` as an account name (lower-case ASCII, invalid runs become ``-``), or ``""``."""
    if not isinstance(text, str):
        return ""
    text = text.split("@", 1)[0]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    name = _NOT_IN_NAME.sub("-", ascii_text).strip("-_.")
    return name[:_MAX_BASE].rstrip("-_.")


def base_name(claims: Mapping[str, object], subject: str) -> str:
    """The name a new account would like: the first usable of preferred_username, email, sub."""
    for value in (claims.get("preferred_username"), claims.get("email"), subject):
        name = name_from_text(value)
        if name and NAME_PATTERN.match(name):
            return name
    return "user"


def unique_name(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no account has yet."""
    if find_user(base) is None:
        return base
    number = 2
    while find_user(f"{base}-{number}") is not None:
        number += 1
    return f"{base}-{number}"


def roles_from_claim(claims: Mapping[str, object], claim: str) -> list[str]:
    """The valid role names in ``claim`` (a dotted path like ``realm_access.roles``; a list or a
    space-separated string); others are left out with a warning."""
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return []
    roles = []
    for role in value:
        name = role.strip().lower() if isinstance(role, str) else ""
        if NAME_PATTERN.match(name):
            roles.append(name)
        else:
            log.warning("single sign-on: ignored role %r from claim %s (not a valid role name)", role, claim)
    return roles


def find_linked_user(issuer: str, subject: str) -> User | None:
    return db.session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))


def account_for(issuer: str, subject: str, claims: Mapping[str, object], roles: Iterable[str] | None) -> User:
    """The account of (``issuer``, ``subject``), created on the first login; ``roles`` (None: keep
    the account's) replace its roles."""
    for _ in range(_CREATE_ATTEMPTS):
        user = find_linked_user(issuer, subject)
        created, old_roles = user is None, user.roles if user is not None else ()
        if user is None:
            user = User(name=unique_name(base_name(claims, subject)), oidc_issuer=issuer, oidc_subject=subject)
            user.roles = roles or ()
            db.session.add(user)
            log.info("single sign-on: new account %s for %s at %s", user.name, subject, issuer)
        elif roles is not None:
            user.roles = roles
        try:
            db.session.commit()
        except IntegrityError:
            # Another login took the name (or made this person's account) at the same moment.
            db.session.rollback()
            continue
        if created:
            record("account_created", actor=SINGLE_SIGN_ON, subject=user.name, detail=f"{subject} at {issuer}")
        elif user.roles != old_roles:
            detail = f"{', '.join(old_roles) or 'none'} -> {', '.join(user.roles) or 'none'}, from the provider"
            record("roles_changed", actor=SINGLE_SIGN_ON, subject=user.name, detail=detail)
        return user
    raise RuntimeError(f"could not create an account for {subject} at {issuer}")
