"""One log line per request of the site (web.operations.request_log), read from the records it logs."""

import logging

import pytest

from aperture.log_format import PlainFormatter
from web.embedding.page_record import start_record
from web.operations.request_log import gunicorn_log_config


@pytest.fixture
def request_lines(caplog):
    """The ``web.request`` records logged so far."""
    caplog.set_level(logging.INFO, logger="web.request")
    return lambda: [record for record in caplog.records if record.name == "web.request"]


def test_a_page_view_is_one_line_with_app_validated_arguments_and_outcome(client, monitor_reports, request_lines):
    monitor_reports(True)
    assert client.get("/apps/iris?feature=petal_length").status_code == 200
    (line,) = request_lines()
    fields = line.fields
    assert line.getMessage() == "GET /apps/iris 200"
    assert fields["outcome"] == "ok" and fields["status"] == 200 and fields["duration_ms"] >= 0
    assert fields["app"] == "iris" and fields["kind"] == "token"
    # Validated: the default bins is there, typed, as the app receives it.
    assert fields["arguments"] == {"feature": "petal_length", "bins": 10}
    plain = PlainFormatter().format(line)
    assert "GET /apps/iris 200 outcome=ok" in plain
    assert "app=iris kind=token arguments.feature=petal_length arguments.bins=10" in plain


def test_an_invalid_argument_names_it_and_logs_no_raw_query(client, request_lines):
    assert client.get("/apps/iris?bins=999&feature=%0Afake").status_code == 400
    (line,) = request_lines()
    assert line.fields["outcome"] == "invalid_argument" and line.fields["status"] == 400
    assert line.fields["argument"] in ("bins", "feature")
    assert "fake" not in PlainFormatter().format(line)


def test_bokeh_down_is_a_503_line_with_the_reason(client, monitor_reports, request_lines):
    monitor_reports(False, "the Bokeh server cannot be reached")
    assert client.get("/apps/sliders?N=50").status_code == 503
    (line,) = request_lines()
    assert line.fields["outcome"] == "bokeh_unavailable"
    assert line.fields["reason"] == "the Bokeh server cannot be reached"
    assert line.fields["app"] == "sliders" and line.fields["arguments"] == {"N": 50}


def test_a_failed_pull_is_logged_with_its_path(client, monitor_reports, request_lines):
    monitor_reports(True)  # but nothing listens: the pull itself fails
    assert client.get("/apps/sliders/match?N=60").status_code == 503
    (line,) = request_lines()
    assert line.fields["kind"] == "pull" and line.fields["outcome"] == "bokeh_unavailable"
    assert "cannot be reached" in line.fields["reason"]


def test_a_dashboard_lists_its_apps_and_which_were_unavailable(client, monitor_reports, request_lines):
    monitor_reports(False, "the Bokeh server cannot be reached")
    assert client.get("/dashboard").status_code == 200
    (line,) = request_lines()
    assert line.fields["app"] == ["stream", "iris", "sliders"]
    assert line.fields["unavailable"] == ["stream", "iris", "sliders"]
    assert line.fields["outcome"] == "bokeh_unavailable"


@pytest.mark.parametrize(("path", "status", "outcome"), [("/", 200, "ok"), ("/apps/nope", 404, "not_found")])
def test_every_request_gets_its_line(client, request_lines, path, status, outcome):
    assert client.get(path).status_code == status
    (line,) = request_lines()
    assert line.fields["outcome"] == outcome and "app" not in line.fields


def test_gunicorn_logs_json_without_an_access_log():
    assert gunicorn_log_config("plain") == {}
    config = gunicorn_log_config("json")
    assert config["formatters"]["json"]["()"] == "aperture.log_format.JsonFormatter"
    assert config["loggers"]["gunicorn.access"]["handlers"] == []


def test_the_record_starts_before_any_other_hook_and_once(app):
    hooks = app.before_request_funcs[None]
    assert hooks[0] is start_record and hooks.count(start_record) == 1
