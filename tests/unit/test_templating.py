"""The ``live_app(...)`` template helper: validated like a page, errors shown in place."""

import pytest
from flask import render_template_string

from web.embedding import embed


@pytest.fixture
def bokeh_up(monitor_reports):
    monitor_reports(True)


def render(app, source):
    with app.test_request_context("/"):
        return render_template_string(source)


def test_a_valid_call_embeds_a_token_session_with_its_arguments(app, bokeh_up):
    html = render(app, '{{ live_app("iris", feature="petal_length", bins=20) }}{{ bokehjs_for_page() }}')
    assert 'data-app="iris"' in html and "Bokeh.embed.embed_items" in html
    assert "bokeh-widgets.min.js" in html


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('live_app("nope")', "The live app “nope” is unavailable: there is no live app of that name."),
        ('live_app("iris", bins=500)', "invalid argument bins: must be an integer from 3 to 50, not 500"),
        ('live_app("iris", colour="red")', "colour: is not an argument of this app"),
        ('live_app("iris", options={"title": "x" * 200})', "title: must be a line of text of at most 80"),
    ],
)
def test_a_bad_call_shows_a_message_in_place(app, bokeh_up, call, message):
    html = render(app, f"<main>{{{{ {call} }}}}</main><footer>still here</footer>")
    assert message in html.replace("&#34;", '"')
    assert "live-app-unavailable" in html and "still here" in html
    assert "embed_items" not in html


def test_bokeh_down_shows_why_in_place(app):
    html = render(app, '{{ live_app("sliders") }}')
    assert "The live app “Sliders” is unavailable: the Bokeh server cannot be reached." in html


def test_markup_in_arguments_is_escaped(app, bokeh_up):
    html = render(app, '{{ live_app("iris", feature="<script>alert(1)</script>") }}')
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_the_helper_is_a_template_global(app):
    assert app.jinja_env.globals["live_app"] is not None
    assert embed.bokeh_embed is not None
