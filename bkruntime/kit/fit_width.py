"""Sizes for the project's apps that fit any screen: as wide as the page lets them, never wider.

An app laid out in pixels is wider than a phone (390 px) and makes the whole page scroll sideways.
The project's apps size to the width instead (Bokeh's ``sizing_mode="stretch_width"``), between
a width a phone can show and the width they were designed for, and their rows wrap, so that parts
side by side on a desk stack on a phone. Bokeh's ``Row`` is a CSS flex box without a property for
wrapping, so ``wrapping_row`` sets CSS ``flex-wrap`` through the model's ``styles``.
"""

from __future__ import annotations

from typing import TypeVar

from bokeh.layouts import row
from bokeh.models import LayoutDOM, Row

# What fits a 390 px phone inside the site's page and card paddings, a toolbar included.
PHONE_WIDTH = 260

Model = TypeVar("Model", bound=LayoutDOM)


def fit_width(model: Model, width: int, min_width: int = PHONE_WIDTH) -> Model:
    """Let ``model`` take the width it is given, at most ``width`` px (its designed width)."""
    model.sizing_mode = "stretch_width"
    model.max_width = width
    model.min_width = min(width, min_width)
    return model


def wrapping_row(*children: LayoutDOM, **properties: object) -> Row:
    """A row as wide as the page allows, whose children wrap onto new lines when it is too narrow."""
    return row(*children, sizing_mode="stretch_width", styles={"flex-wrap": "wrap"}, **properties)
