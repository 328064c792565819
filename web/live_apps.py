"""One page of the site per live app, with the app's Bokeh session embedded."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from bkapps.catalog import CATALOG, MAIN_PLOT_NAME
from web.embed import Customizer, bokeh_embed

bp = Blueprint("live_apps", __name__, url_prefix="/apps")


def retitle_main_plot(title: str) -> Customizer:
    """A customisation that sets the title of the app's main plot to ``title``."""

    def retitle(doc):
        plot = doc.select_one({"name": MAIN_PLOT_NAME})
        if plot is not None:
            plot.title.text = title

    return retitle


@bp.get("/<name>")
def show(name: str):
    """Embed a fresh session of app ``name``, started with the page's validated query arguments."""
    spec = CATALOG.get(name)
    if spec is None:
        abort(404, description=f"There is no live app called “{name}”.")
    arguments = spec.parse_arguments(request.args.to_dict(flat=False))
    live = bokeh_embed.embed(spec, arguments, customize=retitle_main_plot(f"{spec.title} — served by Flask"))
    return render_template("live_app.html", live=live, arguments=arguments)
