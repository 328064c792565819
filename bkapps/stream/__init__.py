"""The ``stream`` app (directory format); see ``main.py``."""
