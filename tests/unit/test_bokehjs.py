"""BokehJS served by the site: the installed version, long-cached, nothing outside its folder."""

import bokeh
import pytest
from bokeh.settings import settings as bokeh_settings

from web.embedding.bokehjs import BOKEHJS_PREFIX

BOKEH_JS = f"/bokehjs/{bokeh.__version__}/static/js/bokeh.min.js"


def test_the_installed_bokehjs_is_served_with_long_cache_headers(client):
    response = client.get(BOKEH_JS)
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.data == (bokeh_settings.bokehjs_path() / "js" / "bokeh.min.js").read_bytes()
    cache = response.cache_control
    assert cache.public and cache.immutable and cache.max_age == 365 * 24 * 3600


def test_the_prefix_holds_the_version():
    assert BOKEHJS_PREFIX == f"/bokehjs/{bokeh.__version__}"


@pytest.mark.parametrize(
    "path",
    [
        "/bokehjs/0.12.5/static/js/bokeh.min.js",  # another version than the installed one
        f"{BOKEHJS_PREFIX}/static/js/nope.js",
        f"{BOKEHJS_PREFIX}/static/js/../../__init__.py",
        f"{BOKEHJS_PREFIX}/static/..%2F..%2F__init__.py",
        f"{BOKEHJS_PREFIX}/static/%2Fetc%2Fpasswd",
        f"{BOKEHJS_PREFIX}/static/js/lib/index.d.ts",  # in the folder, but not a bundle
    ],
)
def test_anything_else_is_a_404(client, path):
    # Werkzeug first redirects a doubled slash ("static//etc") to a single one: follow it.
    assert client.get(path, follow_redirects=True).status_code == 404
