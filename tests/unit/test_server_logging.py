"""One line per refused websocket (bkruntime.server_logging), on records shaped like tornado's and Bokeh's."""

import logging
import sys

import pytest
from bokeh.protocol.exceptions import ProtocolError

from aperture.log_format import PlainFormatter
from bkruntime.server_logging import BOKEH_WS_LOGGER, TORNADO_LOGGER, RefusedWebsocketFilter, refusal_reason

EXPIRED = "Token is expired. Configure the app with a larger value for --session-token-expiration if necessary"


def failure(error: BaseException):
    try:
        raise error
    except BaseException:
        return sys.exc_info()


def tornado_record(error: BaseException, msg="Uncaught exception %s\n%r", args=("GET /sliders/ws (127.0.0.1)", "req")):
    return logging.LogRecord(TORNADO_LOGGER, logging.ERROR, "web.py", 1, msg, args, failure(error))


def bokeh_record(msg, args=()):
    return logging.LogRecord(BOKEH_WS_LOGGER, logging.INFO, "ws.py", 1, msg, args, None)


@pytest.fixture
def refusals():
    reasons = []
    return RefusedWebsocketFilter(reasons.append), reasons


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Invalid token signature", "invalid_signature"),
        (EXPIRED, "expired"),
        ("No token received in subprotocol header", "no_token"),
        ("Session expiry has not been provided", "no_expiry"),
        ("Subprotocol header is not 'bokeh'", "bad_subprotocol"),
        ("something new", "other"),
    ],
)
def test_reasons(message, reason):
    assert refusal_reason(ProtocolError(message)) == reason


def test_a_refused_token_becomes_one_warning_line(refusals):
    refusal_filter, reasons = refusals
    entry = tornado_record(ProtocolError(EXPIRED))
    assert refusal_filter.filter(entry)
    line = PlainFormatter().format(entry)
    assert line.splitlines() == [line]
    assert "WARNING tornado.application: websocket refused, GET /sliders/ws (127.0.0.1): Token is expired" in line
    assert line.endswith("event=websocket_refused reason=expired")
    assert reasons == ["expired"]


def test_the_lines_that_only_announce_a_refusal_are_dropped(refusals):
    refusal_filter, reasons = refusals
    assert not refusal_filter.filter(bokeh_record("WebSocket connection opened"))
    assert not refusal_filter.filter(bokeh_record("Token for session %r had invalid signature", ("abc",)))
    assert refusal_filter.filter(bokeh_record("ServerConnection created"))
    assert reasons == []


def test_debug_logging_keeps_every_line(refusals):
    refusal_filter, _ = refusals
    bokeh_logger = logging.getLogger("bokeh")
    level = bokeh_logger.level
    bokeh_logger.setLevel(logging.DEBUG)
    try:
        assert refusal_filter.filter(bokeh_record("WebSocket connection opened"))
    finally:
        bokeh_logger.setLevel(level)


def test_a_session_that_could_not_be_created_keeps_only_bokehs_own_line(refusals):
    refusal_filter, reasons = refusals
    entry = tornado_record(ProtocolError("Session not found"), msg="Exception in callback %r", args=("cb",))
    assert not refusal_filter.filter(entry)
    assert reasons == ["other"]


def test_an_origin_refusal_is_counted_and_kept(refusals):
    refusal_filter, reasons = refusals
    assert refusal_filter.filter(bokeh_record("Refusing websocket connection from Origin '%s'; ...", ("http://x",)))
    assert reasons == ["origin"]


def test_other_errors_keep_their_traceback(refusals):
    refusal_filter, reasons = refusals
    entry = tornado_record(ValueError("a real bug"))
    assert refusal_filter.filter(entry)
    assert entry.exc_info is not None and entry.levelno == logging.ERROR
    assert reasons == []
