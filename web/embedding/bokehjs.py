"""BokehJS served by this site, for the pages that embed plots without a Bokeh server.

A ``components()`` embed needs BokehJS loaded beside it. The tutorials load it from a CDN, which
offline and corporate networks cannot reach, and the Bokeh server's ``/static/`` is down exactly
when these pages must keep working. So the site serves the files shipped inside the installed
bokeh package, under a path that holds its version
(``/bokehjs/<bokeh version>/static/js/bokeh.min.js``): the JS always matches the Python that
produced the page, and browsers may cache each file for a year because an upgrade changes the URL.

``bokehjs_resources(models)`` renders the ``<script>`` tags for exactly the BokehJS bundles those
models need (widgets, GL... only when used), pointing at these routes.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bokeh
from bokeh.core.templates import JS_RESOURCES
from bokeh.embed.bundle import bundle_for_objs_and_resources
from bokeh.model import Model
from bokeh.resources import Resources
from bokeh.settings import settings as bokeh_settings
from flask import Blueprint, Response, abort, request, send_from_directory
from markupsafe import Markup

from web.operations.content_security import csp_nonce

BOKEHJS_PREFIX = f"/bokehjs/{bokeh.__version__}"
ONE_YEAR_SECONDS = 365 * 24 * 3600
# The package's static folder also holds TypeScript declarations, sources and the compiler;
# pages need only the bundles: bokeh.min.js and bokeh-<name>.min.js (and their unminified twins).
_BUNDLE = re.compile(r"^js/bokeh(-[a-z]+)?(\.min)?\.js$")

bp = Blueprint("bokehjs", __name__, url_prefix=BOKEHJS_PREFIX)


@bp.get("/static/<path:filename>")
def asset(filename: str):
    """One BokehJS file of the installed bokeh, cacheable for a year (its URL holds the version)."""
    if not _BUNDLE.match(filename):
        abort(404)
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        # Compressed once per worker: bokeh.min.js shrinks to about a quarter.
        response = Response(_gzipped(filename), mimetype="text/javascript")
        response.headers["Content-Encoding"] = "gzip"
        response.cache_control.max_age = ONE_YEAR_SECONDS
        response.cache_control.public = True
    else:
        # send_from_directory refuses paths that leave the folder ("..", absolute paths) with a 404.
        response = send_from_directory(bokeh_settings.bokehjs_path(), filename, max_age=ONE_YEAR_SECONDS)
    response.vary.add("Accept-Encoding")
    response.cache_control.immutable = True
    return response


@lru_cache(maxsize=16)
def _gzipped(filename: str) -> bytes:
    # The name matched _BUNDLE: a file directly inside the package's js/ folder.
    return gzip.compress((Path(bokeh_settings.bokehjs_path()) / filename).read_bytes(), compresslevel=6)


def bokehjs_resources(models: Sequence[Model]) -> Markup:
    """The ``<script>``/``<link>`` tags that load, from this site, the BokehJS ``models`` need."""
    # Bokeh's "server" mode is the one that takes a URL root; here the "server" is this site.
    resources = Resources(mode="server", root_url=f"{request.script_root}{BOKEHJS_PREFIX}/")
    bundle = bundle_for_objs_and_resources(models, resources)
    # Bokeh renders these tags from our prefix and its own file names; nothing of the request
    # but the script root, which the WSGI server sets. Its inline line setting BokehJS's log
    # level to the default is left out; other inline code gets this page's script nonce.
    _, css_tags = bundle
    tags = Markup(JS_RESOURCES.render(js_files=bundle.js_files, js_raw=[], hashes=bundle.hashes) + css_tags)  # noqa: S704
    for code in bundle.js_raw:
        if not code.startswith("Bokeh.set_log_level("):
            tags += Markup('<script nonce="{}">{}</script>').format(csp_nonce(), Markup(code))  # noqa: S704
    return tags
