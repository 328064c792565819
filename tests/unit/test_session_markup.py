"""The markup that puts a session into a page: render items without autoload.js, nothing unescaped."""

import pytest

from aperture.session_token import mint_session, token_payload
from tests.support.servers import TEST_BOKEH_SECRET
from web.embedding.session_markup import bokehjs_tags, session_markup, uses_render_items


def test_bokehs_render_item_api_is_still_where_we_use_it():
    """Fails on a Bokeh upgrade that moves ``script_for_render_items`` or ``RenderItem``: pages
    would then fall back to asking the Bokeh server for autoload.js."""
    assert uses_render_items()


def test_the_session_script_carries_the_token_and_no_autoload_request():
    grant = mint_session(TEST_BOKEH_SECRET, 60, token_payload({"N": 37}))
    html = str(session_markup("http://localhost:5006", "/sliders", grant.token))
    assert grant.token in html
    assert "autoload.js" not in html
    assert '"/sliders", "http://localhost:5006/sliders"' in html
    assert html.count("<script") == 1 and html.count("</script>") == 1


@pytest.mark.parametrize(
    ("root", "path", "token"),
    [
        ('http://x"/>', "/sliders", "abc.def"),
        ("http://localhost:5006", "/sliders</script>", "abc.def"),
        ("http://localhost:5006", "/sliders", "abc</script><script>alert(1)"),
    ],
)
def test_nothing_unchecked_reaches_the_script(root, path, token):
    with pytest.raises(ValueError):
        session_markup(root, path, token)


def test_bokehjs_tags_load_only_the_declared_bundles_with_versions():
    tags = str(bokehjs_tags("http://localhost:5006", ("widgets",)))
    assert "http://localhost:5006/static/js/bokeh.min.js?v=" in tags
    assert "bokeh-widgets.min.js?v=" in tags
    assert "mathjax" not in tags and "tables" not in tags
