"""Portfolio: a private app that greets the signed-in visitor and gives admins one more control.

The catalog marks it private: the site embeds it for signed-in visitors only, and the Bokeh
server's login check (``bkruntime.auth_module``) sends standalone visitors to the site's login page.
Who opened the session comes from the signed session token (``session_visitor``), never from the
query string. Admins get a stress-test slider that no one else's document even contains.
Query argument ``days`` (see the catalog); standalone: http://localhost:5006/portfolio?days=365.
"""

import html

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, Slider
from bokeh.plotting import curdoc, figure

from bkruntime.kit.app_session import MAIN_PLOT_NAME, add_roots, build_app, session_visitor
from bkruntime.kit.fit_width import fit_width, wrapping_row

from .data import ASSETS, simulate

COLOURS = ("#1d4ed8", "#059669", "#d97706")


def greeting(visitor) -> str:
    if visitor is None:
        return "<h3>Hello, guest.</h3><p>You are looking at a view someone shared with you.</p>"
    role = " You are an admin: the stress test below is yours." if visitor.is_admin else ""
    return f"<h3>Hello, {html.escape(visitor.name)}.</h3><p>Your simulated portfolio.{role}</p>"


def build(doc, days):
    visitor = session_visitor(doc)
    source = ColumnDataSource(data=simulate(days), name="portfolio")

    plot = figure(name=MAIN_PLOT_NAME, title="Portfolio value", height=400, x_axis_label="trading day")
    plot.line("day", "total", source=source, line_width=3, color="#102a43", legend_label="Portfolio")
    for name, colour in zip(ASSETS, COLOURS, strict=True):
        plot.line("day", name, source=source, line_width=1.5, alpha=0.7, color=colour, legend_label=name)
    plot.legend.location = "top_left"

    controls = [Div(text=greeting(visitor), name="greeting", width=280)]
    if visitor is not None and visitor.is_admin:
        shock = Slider(title="Stress test: one-day shock (%)", value=0, start=-50, end=20, step=5, name="admin_shock")

        def stress(attr, old, new):
            source.data = simulate(days, shock=new / 100)

        shock.on_change("value_throttled", stress)
        controls.append(shock)

    add_roots(doc, wrapping_row(column(*controls, width=300), fit_width(plot, 620), name="layout"))
    doc.title = "Portfolio"


build_app(curdoc(), "portfolio", build)
