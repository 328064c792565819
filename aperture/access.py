"""Who may open which app: the one rule the site, the Bokeh login check and the apps all apply.

A visitor is anonymous (``None``) or a signed-in ``Visitor`` with a name and roles. Public apps
are open to all; a private app (``AppSpec.public`` false) needs a signed-in visitor, and one of
the app's ``roles`` when it lists any. Admins (role ``admin``) may open everything. The site
puts ``Visitor.as_payload()`` into session tokens and into its login cookie; the Bokeh side reads
it back with ``Visitor.from_payload``, which refuses anything malformed rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aperture.catalog import AppSpec

ADMIN_ROLE = "admin"
# Account and role names: what a URL, a log line and a page can show without escaping surprises.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

# What ``access_to`` answers, as the gallery and ``/api/apps`` show it.
OPEN, LOGIN, FORBIDDEN = "open", "login", "forbidden"


@dataclass(frozen=True)
class Visitor:
    """A signed-in person as the apps see them: a name and roles, nothing secret."""

    name: str
    roles: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def as_payload(self) -> dict[str, Any]:
        """The JSON-ready form that travels in session tokens and the site's session cookie."""
        return {"name": self.name, "roles": list(self.roles)}

    @classmethod
    def from_payload(cls, payload: object) -> Visitor | None:
        """The visitor ``payload`` describes, or None when it is missing or malformed."""
        if not isinstance(payload, Mapping):
            return None
        name, roles = payload.get("name"), payload.get("roles", [])
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            return None
        if not isinstance(roles, list) or not all(isinstance(role, str) and NAME_PATTERN.match(role) for role in roles):
            return None
        return cls(name=name, roles=tuple(roles))


def may_open(spec: AppSpec, visitor: Visitor | None) -> bool:
    """True if ``visitor`` (None: anonymous) may open app ``spec``."""
    if spec.public:
        return True
    if visitor is None:
        return False
    if visitor.is_admin or not spec.roles:
        return True
    return any(role in visitor.roles for role in spec.roles)


def access_to(spec: AppSpec, visitor: Visitor | None) -> str:
    """``open``, ``login`` (anonymous, the app is private) or ``forbidden`` (signed in, no role)."""
    if may_open(spec, visitor):
        return OPEN
    return LOGIN if visitor is None else FORBIDDEN
