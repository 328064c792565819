"""Iris: a histogram of one Iris measurement, stacked by species, with live controls.

The live version of the classic Flask + ``components()`` Iris page: picking a feature or moving
the bins slider recomputes the histogram in Python on the Bokeh server. Query arguments
``feature`` and ``bins`` (see the catalog) set the initial state, e.g.
http://localhost:5006/iris?feature=petal_length&bins=20.

The data set is read once per server by ``app_hooks.py`` and shared through the server context;
the same hooks count sessions and record who opened this one, shown in the ``session_info``
panel. Standalone, ``templates/index.html`` lays the page out (styled by ``static/iris.css``).
"""

import time

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, Select, Slider
from bokeh.plotting import curdoc

from bkruntime.kit.app_session import CATALOG, add_roots, build_app, session_summary, standalone_page_variables
from bkruntime.kit.fit_width import fit_width, wrapping_row
from bkruntime.kit.lifecycle import app_lifecycle
from showcase.iris import FEATURES, histogram
from showcase.iris_figure import histogram_columns, histogram_figure

BINS = CATALOG["iris"].param("bins")


def build(doc, feature, bins):
    state, _ = app_lifecycle(doc)
    iris = state.data

    feature_select = Select(
        title="Feature",
        value=feature,
        name="feature",
        options=[(name, label) for name, label in FEATURES.items()],
        width=230,
    )
    bins_slider = Slider(title="Bins", value=bins, start=BINS.minimum, end=BINS.maximum, step=1, name="bins", width=230)

    source = ColumnDataSource(data=histogram_columns(histogram(iris, feature, bins)), name="histogram")
    plot = histogram_figure(source, title="Iris")

    def update(attr, old, new):
        source.data = histogram_columns(histogram(iris, feature_select.value, int(bins_slider.value)))
        plot.xaxis.axis_label = FEATURES[feature_select.value]

    feature_select.on_change("value", update)
    bins_slider.on_change("value_throttled", update)

    session_info = fit_width(Div(text=session_summary(doc, state), name="session_info"), 440)

    update(None, None, None)
    controls = column(feature_select, bins_slider, width=250)
    add_roots(doc, wrapping_row(controls, plot, name="layout"), session_info)
    doc.title = "Iris"
    standalone_page_variables(
        doc,
        "iris",
        data_rows=len(iris),
        data_loaded_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.loaded_at)),
    )


build_app(curdoc(), "iris", build)
