"""Accounts and login: who the visitor is, what they may open, passwords, single sign-on, limits."""
