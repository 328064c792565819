"""The ``iris`` app (directory format); see ``main.py``. ``data.py`` is shared with Flask."""
