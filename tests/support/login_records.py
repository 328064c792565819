"""A stand-in for ``bkruntime.login_records.LoginRecords``: open logins kept in a dict, for unit tests
of the Bokeh side's login check without a database."""

from __future__ import annotations

from collections.abc import Iterable

from aperture.access import Visitor
from bkruntime.login_records import OpenLogin


class OpenLogins:
    """Logins by token; ``open(token, name, *roles)`` adds one, ``end(token)`` ends it."""

    def __init__(self) -> None:
        self._by_token: dict[str, OpenLogin] = {}

    def open(self, token: str, name: str, *roles: str) -> OpenLogin:
        login = OpenLogin(len(self._by_token) + 1, Visitor(name, roles))
        self._by_token[token] = login
        return login

    def end(self, token: str) -> None:
        self._by_token.pop(token, None)

    def by_token(self, token: str | None) -> OpenLogin | None:
        return self._by_token.get(token or "")

    def by_id(self, login_id: object) -> OpenLogin | None:
        return next((login for login in self._by_token.values() if login.id == login_id), None)

    def open_among(self, login_ids: Iterable[int]) -> dict[int, OpenLogin]:
        wanted = set(login_ids)
        return {login.id: login for login in self._by_token.values() if login.id in wanted}
