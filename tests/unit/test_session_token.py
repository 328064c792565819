"""Session tokens minted by the site: what they carry, and that Bokeh accepts them as its own."""

import json

from bokeh.util.token import check_token_signature, get_session_id, get_token_payload

from aperture.session_token import (
    EXPECTS_EXISTING_KEY,
    encode_arguments,
    mint_session,
    token_payload,
    visit_record,
)
from tests.support.servers import TEST_BOKEH_SECRET


def test_arguments_travel_as_lists_of_bytes_like_tornados():
    assert encode_arguments({"N": 37, "feature": "petal_length", "x": 0.5}) == {
        "N": [b"37"],
        "feature": [b"petal_length"],
        "x": [b"0.5"],
    }


def test_the_payload_always_carries_arguments_headers_and_cookies():
    # Without them the session would see the websocket request's own, copied from the page URL.
    payload = token_payload({})
    assert payload["arguments"] == {} and payload["headers"] == {} and payload["cookies"] == {}
    assert EXPECTS_EXISTING_KEY not in payload


def test_a_minted_token_is_signed_and_readable_by_bokeh():
    visit = visit_record("http://site/apps/sliders", "10.0.0.1", "agent/1" + "x" * 500)
    grant = mint_session(TEST_BOKEH_SECRET, 120, token_payload({"N": 37}, options={"title": "T"}, visit=visit))
    assert check_token_signature(grant.token, secret_key=TEST_BOKEH_SECRET.encode(), signed=True)
    assert not check_token_signature(grant.token, secret_key=b"another-key-0123456789abcdef0123456789", signed=True)
    assert get_session_id(grant.token) == grant.session_id
    payload = get_token_payload(grant.token)
    assert payload["arguments"] == {"N": [b"37"]}
    assert payload["options"] == {"title": "T"}
    assert payload["visit"]["remote_ip"] == "10.0.0.1"
    assert len(payload["visit"]["user_agent"]) == 120
    assert payload["session_expiry"] > 0


def test_a_token_for_a_pulled_page_says_the_session_must_exist():
    payload = token_payload({"N": 10}, expects_existing=True)
    assert json.loads(json.dumps(payload[EXPECTS_EXISTING_KEY])) is True
