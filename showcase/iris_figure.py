"""The Iris histogram figure, drawn the same way by the live app and the classic Flask page."""

from __future__ import annotations

from bokeh.models import ColumnDataSource
from bokeh.palettes import Category10_3
from bokeh.plotting import figure

from aperture.catalog import MAIN_PLOT_NAME
from showcase.iris import SPECIES, Histogram


def histogram_columns(counts: Histogram) -> dict[str, list]:
    """``ColumnDataSource`` data for ``counts``: bar centres, widths and one column per species."""
    return dict(center=counts.centers, width=counts.widths, **counts.counts)


def histogram_figure(source: ColumnDataSource, **figure_options):
    """Bars of ``source`` (see ``histogram_columns``) stacked by species, with a legend."""
    plot = figure(
        name=MAIN_PLOT_NAME,
        height=400,
        # As wide as the page allows (a phone's width too), at most 600 px.
        sizing_mode="stretch_width",
        min_width=260,
        max_width=600,
        tools="pan,wheel_zoom,reset,save",
        y_axis_label="Count",
        **figure_options,
    )
    plot.vbar_stack(
        SPECIES,
        x="center",
        width="width",
        source=source,
        color=Category10_3,
        line_color="white",
        legend_label=list(SPECIES),
    )
    plot.legend.location = "top_right"
    plot.y_range.start = 0
    return plot
