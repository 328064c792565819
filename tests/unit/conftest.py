"""Unit tests hash passwords with a cheap method: scrypt's cost is the point in production and
only slows tests down (test_accounts.py checks the real default)."""

import functools

import pytest
from werkzeug.security import generate_password_hash

from web import models
from web.accounts import users


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    cheap = functools.partial(generate_password_hash, method="pbkdf2:sha256:1000")
    monkeypatch.setattr(models, "generate_password_hash", cheap)
    monkeypatch.setattr(users, "_UNKNOWN_USER_HASH", cheap("no account has this password"))
