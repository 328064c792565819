"""Shared views in Chromium over two replicas (two supervisors, one Bokeh process each, sharing a
peer registry in Redis): two pages, each made to reach one replica, show one document and one
count, and "1 watching" once one closes."""

import pytest
import requests

from bkruntime.view_owners import rendezvous_owner
from tests.browser.test_shared_views_across_processes_in_browser import open_stream, see_one_document, see_one_watching
from tests.integration.test_shared_views_across_replicas import member, second_replica, see_each_other, wait_for
from tests.support.bokeh_client import embedded_session
from tests.support.bokeh_page import redirect_websockets
from tests.support.redis_server import running_redis
from tests.support.servers import running_stack


@pytest.fixture(scope="module")
def replicas():
    with (
        running_redis() as redis,
        running_stack(processes=1, BOKEH_PEER_REGISTRY_URL=redis.url, BOKEH_PEER_CHECK_SECONDS="0.5") as first,
        second_replica(first) as second,
    ):
        yield first, second


def reach_replica(page, site, replica) -> None:
    """Make ``page``'s websockets to the site's Bokeh URL connect to ``replica``'s process instead."""
    redirect_websockets(page, site.bokeh_url, replica.process_urls[0])


def test_pages_on_two_replicas_show_one_document_and_one_count(replicas, browser):
    wait_for(lambda: see_each_other(replicas), "the replicas find each other in the registry")
    site = replicas[0]
    url = f"{site.web_url}/apps/stream?rate=1900"
    session_id = embedded_session(requests.get(url, timeout=30).text).session_id
    members = [member(replica) for replica in replicas]
    owner = members.index(rendezvous_owner(session_id, members))
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True) for _ in replicas]
    try:
        on_owner, on_relay = (context.new_page() for context in contexts)
        for page, replica in ((on_owner, replicas[owner]), (on_relay, replicas[1 - owner])):
            page.set_default_timeout(30_000)
            reach_replica(page, site, replica)
            open_stream(page, url)
        # A widget moved on one replica's page reaches the other's, both ways.
        see_one_document(on_owner, on_relay)
        relay_health = requests.get(f"{replicas[1 - owner].process_urls[0]}/healthz", timeout=10).json()
        assert relay_health["shared_views"]["relayed_views"] == 1
        contexts.pop().close()
        see_one_watching(on_owner)
    finally:
        for context in contexts:
            context.close()
