"""Sliders: a sine wave whose amplitude, frequency, phase and offset are set by sliders.

Every slider change runs ``update()`` on the Bokeh server, which recomputes the curve in Python.
Query argument ``N`` (see the catalog) sets the number of points. Serve it with
``python -m bkapps`` and open http://localhost:5006/sliders?N=500.

``app_hooks.py`` counts sessions and records who opened this one (the ``session_info`` panel);
standalone, ``templates/index.html`` lays the page out, styled by ``static/sliders.css``.
"""

import numpy as np
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, Slider, TextInput
from bokeh.plotting import curdoc, figure

from bkruntime.kit.app_session import MAIN_PLOT_NAME, add_roots, build_app, session_summary, standalone_page_variables
from bkruntime.kit.fit_width import fit_width, wrapping_row
from bkruntime.kit.lifecycle import app_lifecycle
from showcase.waves import X_MAX, sample_x, sine_wave


def build(doc, N):
    state, _ = app_lifecycle(doc)
    title = TextInput(title="Title", value="my sine wave", name="title_input")
    amplitude = Slider(title="Amplitude", value=1.0, start=-5.0, end=5.0, step=0.1, name="amplitude")
    frequency = Slider(title="Frequency", value=1.0, start=0.1, end=5.1, step=0.1, name="frequency")
    phase = Slider(title="Phase", value=0.0, start=0.0, end=2 * np.pi, step=0.1, name="phase")
    offset = Slider(title="Offset", value=0.0, start=-5.0, end=5.0, step=0.1, name="offset")

    x = sample_x(N)

    def wave(amplitude, frequency, phase, offset):
        # Plain lists; numpy arrays would do too (they travel as binary buffers, which the site's
        # pages keep when a reconnect brings the document back: static/live_session.js).
        return dict(x=x.tolist(), y=sine_wave(x, amplitude, frequency, phase, offset).tolist())

    source = ColumnDataSource(data=wave(1.0, 1.0, 0.0, 0.0), name="wave")

    plot = figure(
        name=MAIN_PLOT_NAME,
        title=title.value,
        height=400,
        x_range=[0, X_MAX],
        y_range=[-10, 10],
        tools="crosshair,pan,reset,save,wheel_zoom",
    )
    plot.line("x", "y", source=source, line_width=3, line_alpha=0.6)

    def update(attr, old, new):
        source.data = wave(amplitude.value, frequency.value, phase.value, offset.value)

    def retitle(attr, old, new):
        plot.title.text = new

    for slider in (amplitude, frequency, phase, offset):
        slider.on_change("value", update)
    title.on_change("value", retitle)

    for widget in (title, offset, amplitude, phase, frequency):
        widget.width = 280
    controls = column(title, offset, amplitude, phase, frequency, width=300)
    session_info = fit_width(Div(text=session_summary(doc, state), name="session_info"), 440)
    add_roots(doc, wrapping_row(controls, fit_width(plot, 500), name="layout"), session_info)
    doc.title = "Sliders"
    standalone_page_variables(doc, "sliders", points=N)


build_app(curdoc(), "sliders", build)
