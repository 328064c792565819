"""The ``sliders`` app (directory format); see ``main.py``."""
