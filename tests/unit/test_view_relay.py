"""Owners and relays of shared views (``bkruntime.view_owners``, ``bkruntime.view_relay``): who owns
a view, the relay's token, the viewer count's rows, and the Bokeh internals the relay relies on."""

import asyncio
import warnings

import pytest
from bokeh.document import Document
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import HTTPError
from tornado.websocket import WebSocketHandler

from aperture.session_token import (
    RELAY_KEY,
    SHARED_KEY,
    USER_KEY,
    VISIT_KEY,
    mint_token,
    relay_payload,
    shared_session_id,
    token_payload,
)
from aperture.site_login import SiteLoginReader, SiteLoginSettings
from bkruntime import shared_views, view_relay
from bkruntime.auth_module import ANONYMOUS, SiteLoginGate
from bkruntime.kit.process_identity import COUNT_ENV, INDEX_ENV
from bkruntime.view_owners import Peers, rendezvous_owner
from tests.support.login_records import OpenLogins
from tests.support.servers import TEST_BOKEH_SECRET, TEST_FLASK_SECRET, free_ports

PORTS = [7101, 7102, 7103, 7104]


def view_ids(count: int) -> list[str]:
    return [shared_session_id(TEST_BOKEH_SECRET, "stream", {"rate": rate}) for rate in range(count)]


def test_every_process_computes_the_same_owner_and_views_spread_over_the_processes():
    ids = view_ids(400)
    owners = [rendezvous_owner(session_id, PORTS) for session_id in ids]
    assert owners == [rendezvous_owner(session_id, list(reversed(PORTS))) for session_id in ids]
    shares = [owners.count(port) for port in PORTS]
    assert min(shares) > 400 / len(PORTS) / 2, shares


def test_a_process_going_moves_only_the_views_it_owned():
    ids = view_ids(400)
    before = {session_id: rendezvous_owner(session_id, PORTS) for session_id in ids}
    after = {session_id: rendezvous_owner(session_id, PORTS[1:]) for session_id in ids}
    moved = [session_id for session_id in ids if before[session_id] != after[session_id]]
    assert moved and all(before[session_id] == PORTS[0] for session_id in moved)
    assert all(after[session_id] == before[session_id] for session_id in ids if before[session_id] != PORTS[0])
    with pytest.raises(ValueError):
        rendezvous_owner(ids[0], [])


def test_peers_own_what_rendezvous_says_among_those_up_and_tell_when_that_changes():
    session_id = view_ids(1)[0]
    owner = PORTS.index(rendezvous_owner(session_id, PORTS))
    peers = Peers("127.0.0.1", PORTS, own_index=(owner + 1) % len(PORTS))
    changes = []
    peers.on_change(lambda: changes.append(sorted(peers.up)))
    peers.up = {0, 1, 2, 3}
    assert peers.owner_of(session_id) == owner and not peers.owns(session_id)
    peers.mark_down(owner)
    assert owner not in peers.up and changes == [sorted({0, 1, 2, 3} - {owner})]
    assert peers.owner_of(session_id) != owner
    peers.mark_down(peers.own_index)  # never itself
    assert peers.own_index in peers.up and len(changes) == 1


def test_a_round_of_checks_finds_processes_that_do_not_answer_down():
    base = free_ports(3)
    peers = Peers("127.0.0.1", [base, base + 1, base + 2], own_index=0, check_seconds=0.1)
    peers.up = {0, 1, 2}

    async def check():
        await peers.check_once()
        await peers.ready()

    asyncio.run(check())
    assert peers.up == {0} and peers.owner_of(view_ids(1)[0]) == 0


def test_a_relays_token_names_the_view_and_the_relay_but_no_viewer():
    viewer = token_payload({"rate": 500}, user={"name": "alice", "roles": []}, app="stream", shared=True)
    viewer[VISIT_KEY] = {"url": "/apps/stream"}
    viewer["session_expiry"] = 123
    payload = relay_payload(viewer, 1)
    assert payload[RELAY_KEY] == 1 and payload[SHARED_KEY] is True
    assert USER_KEY not in payload and VISIT_KEY not in payload and "session_expiry" not in payload
    assert payload["arguments"] == viewer["arguments"] and payload["app"] == "stream"


class Context:
    def __init__(self, url):
        self.url = url


class WebSocket(WebSocketHandler):
    """What the gate reads of Bokeh's websocket handler: the app, no cookie, the token's subprotocol."""

    def __init__(self, app, token):
        self.application_context = Context(f"/{app}")
        headers = HTTPHeaders({"Host": "localhost", "Sec-WebSocket-Protocol": f"bokeh, {token}"})
        self.request = HTTPServerRequest(start_line=RequestStartLine("GET", f"/{app}/ws", "HTTP/1.1"), headers=headers)

    def get_cookie(self, name):
        return None

    def get_argument(self, name, default=None):
        return default


GATE = SiteLoginGate(
    SiteLoginReader(SiteLoginSettings(TEST_FLASK_SECRET, "aperture_session", 3600, "http://x")),
    TEST_BOKEH_SECRET,
    OpenLogins(),
)


def private_view(user=None, secret=TEST_BOKEH_SECRET, relay=None, app="portfolio"):
    session_id = shared_session_id(TEST_BOKEH_SECRET, "portfolio", {"days": 180})
    payload = token_payload({"days": 180}, user=user, app=app, shared=True)
    if relay is not None:
        payload = relay_payload(payload, relay)
    return mint_token(session_id, secret, 60, payload)


def test_the_owner_lets_a_relay_link_into_a_private_shared_view_and_nothing_posing_as_one():
    # A viewer without access is refused wherever they arrive, relay or owner.
    with pytest.raises(HTTPError) as refused:
        GATE.user(WebSocket("portfolio", private_view()))
    assert refused.value.status_code == 403
    # The relay's own link, minted with the deployment's key, speaks for viewers checked at the relay.
    assert GATE.user(WebSocket("portfolio", private_view(relay=1))) == ANONYMOUS
    # Signed with another key, or bound to another app: refused.
    forged = private_view(relay=1, secret="another-bokeh-secret-0123456789abcdefghij")
    for token in (forged, private_view(relay=1, app="stream")):
        with pytest.raises(HTTPError):
            GATE.user(WebSocket("portfolio", token))


class Connection:
    """A ServerConnection as the count reads it: its websocket handler's token."""

    def __init__(self, token):
        self._socket = type("Handler", (), {"_token": token})()


class Session:
    def __init__(self, document, connections, mirror_of=None):
        self.document, self.destroyed, self.id = document, False, "x" * 40
        self._subscribed_connections = set(connections)
        if mirror_of is not None:
            setattr(self, view_relay.MIRROR, mirror_of)


def viewer_token():
    return private_view(user={"name": "alice", "roles": []})


@pytest.fixture
def three_processes(monkeypatch):
    monkeypatch.setenv(COUNT_ENV, "3")
    monkeypatch.setenv(INDEX_ENV, "0")


def test_the_owner_counts_its_own_viewers_and_zeroes_relays_whose_link_is_gone(three_processes, monkeypatch):
    doc = Document()
    model = shared_views.add_viewer_count(doc)
    assert model.data == {"viewers": [0, 0, 0]}
    model.data = {"viewers": [0, 4, 7]}  # rows the relays reported
    linked = Connection(private_view(relay=1))
    shared_views.refresh_count(Session(doc, [Connection(viewer_token()), Connection(viewer_token()), linked]))
    # Process 2's link is gone: its viewers went elsewhere.
    assert model.data["viewers"] == [2, 4, 0]
    assert shared_views.audience(doc) == 6


def test_a_relay_sets_only_its_own_row(three_processes, monkeypatch):
    monkeypatch.setenv(INDEX_ENV, "2")
    doc = Document()
    model = shared_views.add_viewer_count(doc)
    model.data = {"viewers": [3, 4, 0]}
    shared_views.refresh_count(Session(doc, [Connection(viewer_token())], mirror_of=0))
    assert model.data["viewers"] == [3, 4, 1]


def test_the_relay_relies_on_bokeh_internals_that_this_bokeh_has():
    # Fails when a Bokeh upgrade moves one: update bkruntime.view_relay (install() declines meanwhile).
    assert view_relay.internals_in_place()
    assert view_relay.relay_index_of(Connection(private_view(relay=3))) == 3
    assert view_relay.relay_index_of(Connection(viewer_token())) is None


def test_metrics_and_the_admin_numbers_say_each_views_audience_owner_and_relay_lag():
    from bkruntime import metrics
    from web.operations.bokeh_stats import metrics_numbers

    text = metrics.exposition(
        {},  # the per-app gauges keep their labels for the process: leave them to their own tests
        shared_views=[("stream", "abcdefabcdef", 3), ("iris", "012345678901", 2)],
        shared_view_roles=[
            ("stream", "abcdefabcdef", "relay", 0, 7, 0.0042),
            ("iris", "012345678901", "owner", 1, 2, None),
        ],
    ).decode()
    assert 'aperture_bokeh_shared_view_audience{app="stream",owner="0",role="relay",view="abcdefabcdef"} 7.0' in text
    assert 'aperture_bokeh_shared_view_relay_lag_seconds{app="stream",owner="0",view="abcdefabcdef"} 0.0042' in text
    assert 'aperture_bokeh_shared_view_relay_lag_seconds{app="iris"' not in text
    views = {view["app"]: view for view in metrics_numbers(text)["shared_views"]}
    assert views["stream"] == {
        "app": "stream",
        "view": "abcdefabcdef",
        "viewers": 3,
        "audience": 7,
        "role": "relay",
        "owner": 0,
        "lag_ms": 4.2,
    }
    assert views["iris"]["role"] == "owner" and "lag_ms" not in views["iris"]


def test_the_owner_settings_have_defaults_and_refuse_bad_values_in_one_line(tmp_path):
    from aperture.environment import ConfigurationError
    from bkruntime.settings import BokehServerSettings

    def settings(**values):
        return BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), **values})

    default = settings()
    assert default.shared_view_owners is True and default.peer_check_seconds == 1.0
    chosen = settings(BOKEH_SHARED_VIEW_OWNERS="false", BOKEH_PEER_CHECK_SECONDS="0.5")
    assert chosen.shared_view_owners is False and chosen.peer_check_seconds == 0.5
    for bad in ("0", "soon"):
        with pytest.raises(ConfigurationError, match="BOKEH_PEER_CHECK_SECONDS"):
            settings(BOKEH_PEER_CHECK_SECONDS=bad)


def test_no_owners_nor_relays_when_turned_off_or_alone(tmp_path, monkeypatch):
    from bkruntime.server_process import shared_view_relays
    from bkruntime.settings import BokehServerSettings

    def settings(**values):
        return BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), **values})

    monkeypatch.setenv(COUNT_ENV, "2")
    assert shared_view_relays(settings(BOKEH_SHARED_VIEW_OWNERS="false"), 0) is None
    monkeypatch.setenv(COUNT_ENV, "1")
    assert shared_view_relays(settings(), 0) is None


def test_a_busy_peer_that_misses_a_check_stays_up_until_it_missed_several(monkeypatch):
    import socket

    from bkruntime import view_owners

    monkeypatch.setattr(view_owners, "CHECK_TIMEOUT_SECONDS", 0.2)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections queue, nobody answers: a process too busy to reply
    try:
        own = free_ports(1)
        peers = Peers("127.0.0.1", [own, silent.getsockname()[1]], own_index=0)
        peers.up = {0, 1}

        async def rounds(count):
            for _ in range(count):
                await peers.check_once()

        asyncio.run(rounds(view_owners.MISSES_TO_DOWN - 1))
        assert peers.up == {0, 1}
        asyncio.run(rounds(1))
        assert peers.up == {0}
    finally:
        silent.close()


def test_a_click_on_a_relays_mirror_reaches_the_owners_python_once():
    from bokeh.document.events import MessageSentEvent
    from bokeh.events import ButtonClick
    from bokeh.models import Button
    from bokeh.protocol import Protocol

    owner = Document()
    button = Button(label="Go", name="go")
    clicks = []
    button.on_event(ButtonClick, lambda event: clicks.append(event))
    owner.add_root(button)
    mirror = Document.from_json(owner.to_json())
    mirror.models.flush_synced()  # as the link does once it has the owner's document

    class Link:
        """Sends what the mirror forwards as the relay's link does: a PATCH-DOC to the owner."""

        def send_event(self, event):
            message = Protocol().create("PATCH-DOC", [MessageSentEvent(mirror, "bokeh_event", event)])
            received = Protocol().assemble(message.header_json, message.metadata_json, message.content_json)
            received.apply_to_document(owner)

    view_relay.forward_ui_events(mirror, Link())
    # A relay's viewer clicks: BokehJS sends the event, the relay applies it to its mirror.
    click = ButtonClick(mirror.get_model_by_name("go"))
    message = Protocol().create("PATCH-DOC", [MessageSentEvent(mirror, "bokeh_event", click)])
    incoming = Protocol().assemble(message.header_json, message.metadata_json, message.content_json)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the owner knows the button: the event names it by id
        incoming.apply_to_document(mirror)
    assert len(clicks) == 1 and clicks[0].model is button
    # What the relay's server raises itself stays there.
    from bokeh.events import ConnectionLost

    mirror.callbacks.trigger_event(ConnectionLost())
    assert len(clicks) == 1
