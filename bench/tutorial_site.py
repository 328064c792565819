"""The tutorial pattern as a site of its own, for the benchmarks to compare against.

Each view does what the Flask + Bokeh tutorials and Bokeh's embedding guide do: pull a session
from the Bokeh server (``pull_session``, no ``io_loop``), customise its document, and render
``server_session``'s script, which makes the browser load ``autoload.js`` from the Bokeh server.
It does the same job as the site's ``/apps/sliders``: the page's ``N`` argument goes to the
session and the main plot gets the site's title (``/stream`` likewise for the ``stream`` app, which
the site shows as one shared view; here every view pulls a session of its own). The one change to the tutorials' code is
``force_roundtrip()`` after the edit, without which the edit never reaches the server at all.

Served by gunicorn with the site's own ``gunicorn.conf.py`` (same workers and threads):
``gunicorn --config gunicorn.conf.py --pythonpath bench 'tutorial_site:create_app()'`` with
``BOKEH_INTERNAL_URL``, ``BOKEH_PUBLIC_URL``, ``BOKEH_SECRET_KEY`` and ``BOKEH_SIGN_SESSIONS``
set (Bokeh's client signs with the key from its environment).
"""

from __future__ import annotations

import os

from bokeh.client import pull_session
from bokeh.embed import server_session
from flask import Flask, render_template_string, request

TITLE = "Sliders — served by Flask"
STREAM_TITLE = "Stream — served by Flask"
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sliders</title></head>
<body>
<h1>Sliders</h1>
{{ script|safe }}
</body>
</html>
"""


def create_app() -> Flask:
    app = Flask(__name__)
    internal_url = os.environ["BOKEH_INTERNAL_URL"]
    public_url = os.environ["BOKEH_PUBLIC_URL"]

    def pulled_page(app_name: str, title: str) -> str:
        """A live session of ``app_name`` pulled for this page, retitled, then embedded."""
        with pull_session(url=f"{internal_url}/{app_name}", arguments=request.args.to_dict()) as session:
            session.document.select_one({"name": "main_plot"}).title.text = title
            session.force_roundtrip()
            script = server_session(session_id=session.id, url=f"{public_url}/{app_name}")
        return render_template_string(PAGE, script=script)

    @app.get("/sliders")
    def sliders():
        return pulled_page("sliders", TITLE)

    @app.get("/stream")
    def stream():
        return pulled_page("stream", STREAM_TITLE)

    @app.get("/healthz")
    def healthz():
        """Readiness, for the benchmarks that start this site."""
        return "ok"

    return app
