"""The ``stream`` app's figures and tables, built from its data sources (layout only, no behaviour)."""

from bokeh.models import ColumnDataSource, DataTable, TableColumn
from bokeh.plotting import figure

from bkruntime.kit.app_session import MAIN_PLOT_NAME
from bkruntime.kit.fit_width import fit_width

CPU_COLOUR = "#1d4ed8"
MEMORY_COLOUR = "#d97706"


def host_plot(host: ColumnDataSource):
    """CPU and memory over time: the main plot, fed by ``stream()``."""
    plot = figure(
        name=MAIN_PLOT_NAME,
        # Short enough for a phone's width; the app's text says whose machine it is.
        title="CPU and memory (%)",
        x_axis_type="datetime",
        y_range=(0, 100),
        height=300,
        tools="xpan,xwheel_zoom,reset,save",
    )
    plot.line("time", "cpu", source=host, line_width=2, color=CPU_COLOUR, legend_label="CPU")
    plot.line("time", "memory", source=host, line_width=2, color=MEMORY_COLOUR, legend_label="Memory")
    plot.legend.location = "top_left"
    # Few enough time labels not to overlap on a phone's width.
    plot.xaxis.ticker.desired_num_ticks = 4
    return fit_width(plot, 620)


def cores_plot(cores: ColumnDataSource, core_labels: list[str]):
    """One bar per CPU core, replaced whenever the background thread delivers a measurement."""
    plot = figure(
        name="cores_plot",
        title="Load per core (%)",
        x_range=core_labels,
        y_range=(0, 100),
        height=300,
        toolbar_location=None,
    )
    plot.vbar(x="core", top="load", width=0.7, source=cores, color=CPU_COLOUR)
    return fit_width(plot, 300)


def table(source: ColumnDataSource, name: str, columns: dict[str, str]) -> DataTable:
    """A compact table of ``columns`` (field -> title) of ``source``: the first column takes most of
    its width (the table scales its columns' widths to its own), the others hold short numbers."""
    table_columns = [
        TableColumn(field=field, title=title, width=300 if index == 0 else 70)
        for index, (field, title) in enumerate(columns.items())
    ]
    return fit_width(DataTable(source=source, name=name, columns=table_columns, index_position=None, height=180), 420)
