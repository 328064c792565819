"""The classic pages under ``/classic/``: Bokeh plots built in Flask, no Bokeh server needed.

* ``/classic/iris``: the Iris histogram made in the view and embedded with ``components()``; a
  GET form picks the feature and bins, validated by the live ``iris`` app's own declarations.
* ``/classic/stream``: plots fed by ``AjaxDataSource`` polling ``/api/stream/signal`` every
  second, one appending (bounded by ``max_size``) and one replacing a sliding window. Why that
  route keeps no state between polls is explained in ``web.pages.stream_signal``.

BokehJS comes from this site (``web.embedding.bokehjs``), so both pages work offline and while the Bokeh
server is down.
"""

from __future__ import annotations

import time

from bokeh.embed import components
from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup

from aperture.params import parse_arguments
from showcase.iris import FEATURES, histogram, shared_iris
from web.embedding.bokehjs import bokehjs_resources
from web.operations.content_security import allow_eval, csp_nonce
from web.pages.classic_plots import (
    POLL_INTERVAL_MS,
    appending_source,
    iris_histogram_figure,
    replacing_source,
    stream_figure,
)
from web.pages.site_pages import CLASSIC_IRIS_NEEDS, needed_app_or_404
from web.pages.stream_signal import MAX_BATCH_TICKS, TICK_SECONDS, tick_at

bp = Blueprint("classic", __name__, url_prefix="/classic")

# The append plot opens with the last 10 s and grows from there; the replace plot always shows
# the last 30 s.
HISTORY_SECONDS = 10
WINDOW_SECONDS = 30


def render_plots(template: str, plots: list, **context: object) -> str:
    """Render ``template`` with ``plots`` embedded by ``components()`` and BokehJS from this site."""
    script, divs = components(plots)
    if any(type(model).__name__.startswith("CustomJS") for plot in plots for model in plot.references()):
        # BokehJS compiles CustomJS code with new Function.
        allow_eval()
    script = script.replace("<script", f'<script nonce="{csp_nonce()}"', 1)
    # Bokeh serialises our own models here; what came from the request was validated first.
    return render_template(
        template,
        bokehjs=bokehjs_resources(plots),
        plot_script=Markup(script),  # noqa: S704
        plot_divs=[Markup(div) for div in divs],  # noqa: S704
        **context,
    )


@bp.get("/iris")
def iris():
    """The Iris histogram for the form's ``feature`` and ``bins``, embedded with ``components()``."""
    # The project's live iris app's argument rules: without that app served, no page.
    spec = needed_app_or_404(CLASSIC_IRIS_NEEDS)
    arguments = spec.parse_arguments(request.args.to_dict(flat=False))
    counts = histogram(shared_iris(), arguments["feature"], arguments["bins"])
    return render_plots(
        "classic/iris.html",
        [iris_histogram_figure(counts)],
        params={param.name: param for param in spec.params},
        arguments=arguments,
        features=FEATURES,
    )


@bp.get("/stream")
def stream():
    """Two plots that poll the signal API from the browser: append mode and replace mode."""
    # The page takes no arguments; refusing unknown ones keeps it in line with every other page.
    parse_arguments((), request.args.to_dict(flat=False))
    first_cursor = tick_at(time.time() - HISTORY_SECONDS)
    append_url = url_for("api.stream_signal", after=first_cursor)
    replace_url = url_for("api.stream_signal", limit=round(WINDOW_SECONDS / TICK_SECONDS))
    plots = [
        stream_figure(appending_source(append_url), "Append mode: new ticks only", name="stream_append_plot"),
        stream_figure(
            replacing_source(replace_url), f"Replace mode: the last {WINDOW_SECONDS} s", name="stream_replace_plot"
        ),
    ]
    return render_plots(
        "classic/stream.html",
        plots,
        append_url=append_url,
        replace_url=replace_url,
        poll_interval_ms=POLL_INTERVAL_MS,
        max_points=MAX_BATCH_TICKS,
        window_seconds=WINDOW_SECONDS,
    )
