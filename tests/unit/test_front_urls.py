"""Behind the front, every public URL of both sides follows from where browsers reach it."""

import pytest

from aperture.environment import ConfigurationError
from aperture.front_urls import with_front_urls
from bkruntime.settings import BokehServerSettings
from web.settings import load_settings


def test_nothing_changes_outside_the_front():
    environ = {"BOKEH_PUBLIC_URL": "http://localhost:5006"}
    assert with_front_urls(environ) is environ


def test_the_public_port_moves_every_public_url():
    derived = with_front_urls({"FRONT_PORT": "9090", "FRONT_STANDALONE_PORT": "7000"})
    assert derived["SITE_PUBLIC_URL"] == "http://localhost:9090"
    assert derived["BOKEH_PUBLIC_URL"] == "http://localhost:9090/bokeh"
    assert derived["BOKEH_PROCESS_PUBLIC_URLS"] == "http://localhost:9090/bokeh-process/{i}"
    assert derived["BOKEH_STANDALONE_URL"] == "http://localhost:7000"
    assert derived["BOKEH_ALLOW_WEBSOCKET_ORIGIN"] == "localhost:9090,127.0.0.1:9090,localhost:7000,127.0.0.1:7000"


def test_a_public_name_and_explicit_urls():
    derived = with_front_urls(
        {
            "APERTURE_PUBLIC_ORIGIN": "https://example.com/",
            "APERTURE_STANDALONE_ORIGIN": "https://apps.example.com",
            "BOKEH_PUBLIC_URL": "https://bokeh.example.com",
            "BOKEH_ALLOW_WEBSOCKET_ORIGIN": "",
        }
    )
    assert derived["SITE_PUBLIC_URL"] == "https://example.com"
    assert derived["BOKEH_PUBLIC_URL"] == "https://bokeh.example.com", "a URL set on its own wins"
    # Bokeh takes a missing port as 80 on both sides, so the bare host matches https pages too.
    assert derived["BOKEH_ALLOW_WEBSOCKET_ORIGIN"] == "example.com,apps.example.com"
    assert with_front_urls({"APERTURE_PUBLIC_ORIGIN": "http://127.0.0.1:8080"})["BOKEH_STANDALONE_URL"] == (
        "http://127.0.0.1:5006"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APERTURE_PUBLIC_ORIGIN", "localhost:8080", "APERTURE_PUBLIC_ORIGIN must be an origin like"),
        ("APERTURE_PUBLIC_ORIGIN", "http://example.com/site", "(no path)"),
        ("APERTURE_STANDALONE_ORIGIN", "http://example.com:port", "APERTURE_STANDALONE_ORIGIN must be an origin"),
        ("FRONT_PORT", "eighty", "FRONT_PORT must be an integer"),
        ("FRONT_STANDALONE_PORT", "70000", "FRONT_STANDALONE_PORT must be a port from 1 to 65535"),
    ],
)
def test_bad_front_settings_are_named(name, value, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        with_front_urls({name: value})


def test_both_sides_agree_behind_the_front(tmp_path):
    environ = {"APERTURE_INSTANCE_DIR": str(tmp_path), "FRONT_PORT": "9090", "BOKEH_PROCESSES": "2"}
    site = load_settings(environ)
    bokeh = BokehServerSettings.from_environ(environ)
    assert site["BOKEH_ALLOW_WEBSOCKET_ORIGIN"] == bokeh.allowed_origins
    assert site["BOKEH_PROCESS_PUBLIC_URLS"] == (
        "http://localhost:9090/bokeh-process/0",
        "http://localhost:9090/bokeh-process/1",
    )
    assert bokeh.site_login.site_public_url == "http://localhost:9090"
