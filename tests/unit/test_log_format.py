"""Log lines as plain text or JSON (aperture.log_format)."""

import json
import logging
import sys

import pytest

from aperture.environment import ConfigurationError
from aperture.log_format import JsonFormatter, PlainFormatter, log_format_setting, log_formatter, logfmt


def record(message="GET /apps/iris 200", fields=None, in_message=(), exc_info=None, name="web.request"):
    entry = logging.LogRecord(name, logging.INFO, __file__, 1, message, (), exc_info)
    if fields is not None:
        entry.fields = fields
    entry.in_message = in_message
    return entry


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "plain"),
        ({"LOG_FORMAT": "json"}, "json"),
        ({"LOG_FORMAT": " JSON "}, "json"),
        ({"LOG_FORMAT": ""}, "plain"),
    ],
)
def test_the_setting(environ, expected):
    assert log_format_setting(environ) == expected


def test_an_unknown_format_is_refused_by_name():
    with pytest.raises(ConfigurationError, match="LOG_FORMAT must be one of plain, json"):
        log_format_setting({"LOG_FORMAT": "xml"})


def test_logfmt_flattens_mappings_joins_lists_and_skips_none():
    fields = {"app": ["stream", "iris"], "arguments": {"feature": "petal_length", "bins": 20}, "process": None}
    assert logfmt(fields) == "app=stream,iris arguments.feature=petal_length arguments.bins=20"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("petal_length", "petal_length"),
        ("two words", '"two words"'),
        ("a\nfake line", '"a\\nfake line"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("k=v", '"k=v"'),
        ("", '""'),
        (True, "true"),
        (12.5, "12.5"),
    ],
)
def test_plain_values_are_bare_only_when_safe(value, shown):
    assert logfmt({"key": value}) == f"key={shown}"


def test_plain_lines_carry_the_fields_after_the_message():
    line = PlainFormatter().format(
        record(fields={"path": "/apps/iris", "outcome": "ok", "duration_ms": 3.2}, in_message=("path",))
    )
    assert line.endswith(" INFO web.request: GET /apps/iris 200 outcome=ok duration_ms=3.2")


def test_a_visitor_cannot_start_a_line_of_their_own():
    fields = {"argument": "x\n2026-01-01 00:00:00,000 INFO web.request: forged"}
    assert len(PlainFormatter().format(record(fields=fields)).splitlines()) == 1
    assert len(JsonFormatter().format(record(fields=fields)).splitlines()) == 1


def test_static_fields_go_on_every_plain_line():
    assert PlainFormatter({"process": 1}).format(record(message="started")).endswith("started process=1")


def test_json_lines_hold_the_standard_keys_and_the_fields():
    line = JsonFormatter({"process": 0}).format(record(fields={"status": 200, "arguments": {"N": 37}}))
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "web.request"
    assert entry["message"] == "GET /apps/iris 200"
    assert entry["status"] == 200 and entry["arguments"] == {"N": 37} and entry["process"] == 0
    assert entry["time"].endswith("+00:00")


def test_a_field_cannot_replace_a_standard_key():
    entry = json.loads(JsonFormatter().format(record(fields={"message": "forged", "level": "DEBUG"})))
    assert entry["message"] == "GET /apps/iris 200" and entry["level"] == "INFO"


def test_a_traceback_stays_inside_its_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(record(message="failed", exc_info=sys.exc_info()))
    assert len(line.splitlines()) == 1
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_log_formatter_picks_by_setting():
    assert isinstance(log_formatter("json"), JsonFormatter)
    assert isinstance(log_formatter("plain"), PlainFormatter)
