"""``/apps/sliders/match``: the pull path in use. Flask draws a target wave into a live session.

The target's amplitude, frequency, phase and offset are picked by this view for each page and
are known only to the site, so they cannot travel as the app's declared arguments: the view
pulls a ``sliders`` session (``bokeh_embed.pulled_embed``), adds the target as a dashed line to the
app's main plot, and the visitor moves the sliders until their wave lies on it. The session lives
in the one Bokeh process that built it; the page sends the browser there, and a browser that
comes after the session was discarded gets the app's "view expired" notice with a reload link.
Without the project's ``sliders`` (a team's app of that name is another app) the page is a 404.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from flask import Blueprint, render_template, request

from aperture.catalog import MAIN_PLOT_NAME
from showcase.waves import sine_wave
from web.accounts.access import current_login_id, visitor_payload
from web.embedding.embed import bokeh_embed
from web.pages.site_pages import WAVE_MATCH_NEEDS, needed_app_or_404

bp = Blueprint("wave_match", __name__, url_prefix="/apps/sliders")

TARGET_SOURCE_NAME = "target_wave"
TARGET_COLOUR = "#d97706"


@dataclass(frozen=True)
class TargetWave:
    """A wave the sliders can reach exactly (every value on a slider's 0.1 step)."""

    amplitude: float
    frequency: float
    phase: float
    offset: float

    @classmethod
    def pick(cls, rng: random.Random) -> TargetWave:
        def step(low: int, high: int) -> float:
            return rng.randint(low, high) / 10

        return cls(amplitude=step(10, 40), frequency=step(5, 30), phase=step(0, 62), offset=step(-30, 30))


def draw_target(target: TargetWave):
    """A change for the pulled document: the target as a dashed line on the app's main plot."""

    def change(doc: Document) -> None:
        plot = doc.select_one({"name": MAIN_PLOT_NAME})
        x = np.asarray(doc.select_one({"name": "wave"}).data["x"], dtype=float)
        y = sine_wave(x, target.amplitude, target.frequency, target.phase, target.offset)
        source = ColumnDataSource(data={"x": x.tolist(), "y": y.tolist()}, name=TARGET_SOURCE_NAME)
        plot.line("x", "y", source=source, line_width=3, line_dash="dashed", color=TARGET_COLOUR, name="target_line")

    return change


@bp.get("/match")
def match():
    """A live sliders session with a target wave only this site knows; match it with the sliders."""
    # The project's own sliders: its document is what draw_target changes.
    spec = needed_app_or_404(WAVE_MATCH_NEEDS)
    arguments = spec.parse_arguments(request.args.to_dict(flat=False))
    target = TargetWave.pick(random.Random())  # noqa: S311 (a puzzle, not a secret)
    live = bokeh_embed.pulled_embed(
        spec,
        arguments,
        draw_target(target),
        options={"title": "Match the dashed wave"},
        user=visitor_payload(),
        login=current_login_id(),
    )
    return render_template("wave_match.html", live=live, arguments=arguments)
