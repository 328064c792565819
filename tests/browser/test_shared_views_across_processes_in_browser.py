"""Shared views in Chromium over two Bokeh processes: two pages whose websockets reach different
processes (the owner of the view and a relay) show one document and one count, and come back to
one document after the owner is killed.

Each page is made to reach one process: its websockets to the Bokeh server's shared port go to
that process's own port instead (the page's CSP, which names the shared port only, is bypassed).
"""

import signal

import pytest
import requests

from bkruntime.view_owners import rendezvous_owner
from tests.support.bokeh_client import embedded_session
from tests.support.bokeh_page import model_value, redirect_websockets, wait_for_canvas, wait_for_model, wait_until
from tests.support.restarts import bokeh_process, wait_for_processes
from tests.support.servers import running_stack

VIEWERS = ".live-session-viewers"
# BokehJS retries for about 30 s; a killed process is back well within that.
RECONNECT_MS = 90_000


@pytest.fixture(scope="module")
def two_process_stack():
    with running_stack(processes=2, BOKEH_PEER_CHECK_SECONDS="0.5") as live:
        yield live


@pytest.fixture
def pages(browser):
    """New pages whose websockets may be sent to one Bokeh process (``reach_process``)."""
    contexts = []

    def new_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield new_page
    for context in contexts:
        context.close()


def owner_and_relay(stack, url) -> tuple[int, int]:
    session_id = embedded_session(requests.get(url, timeout=30).text).session_id
    ports = [int(process_url.rsplit(":", 1)[1]) for process_url in stack.process_urls]
    owner = ports.index(rendezvous_owner(session_id, ports))
    return owner, 1 - owner


def reach_process(page, stack, index: int) -> None:
    """Make ``page``'s websockets to the shared port connect to Bokeh process ``index`` instead."""
    redirect_websockets(page, stack.bokeh_url, stack.process_urls[index])


def open_stream(page, url):
    page.goto(url)
    wait_for_canvas(page)
    wait_for_model(page, "pause")


def wait_for_viewers(page, count, timeout=30_000):
    page.wait_for_function(
        "([selector, count]) => document.querySelector(selector)?.dataset.viewers === String(count)",
        arg=[VIEWERS, count],
        timeout=timeout,
    )


def see_one_document(page, other_page) -> None:
    """Both pages count two viewers, and a widget moved on either changes the other."""
    for viewer in (page, other_page):
        wait_for_viewers(viewer, 2)
        assert viewer.locator(VIEWERS).inner_text() == "Shared view · 2 watching"
    other_page.locator("button", has_text="Pause").click()
    wait_until(page, "pause", "model.active === true")
    page.locator("button", has_text="Resume").click()
    wait_until(other_page, "pause", "model.active === false")


def see_one_watching(page) -> None:
    """Once the other viewer's page has closed."""
    wait_for_viewers(page, 1)
    assert page.locator(VIEWERS).inner_text() == "Shared view · 1 watching"


def test_pages_on_two_processes_show_one_document_and_one_count(two_process_stack, pages):
    stack = two_process_stack
    page, second_page = pages(), pages()
    url = f"{stack.web_url}/apps/stream?rate=1100"
    owner, relay = owner_and_relay(stack, url)
    reach_process(page, stack, owner)
    reach_process(second_page, stack, relay)
    open_stream(page, url)
    open_stream(second_page, url)
    # A widget moved on the relay's page changes the owner's page, and the other way round.
    see_one_document(page, second_page)
    # The second page's websocket is on the relay, which mirrors the owner's document.
    relay_health = requests.get(f"{stack.process_urls[relay]}/healthz", timeout=10).json()
    assert relay_health["shared_views"]["relayed_views"] == 1

    second_page.context.close()
    see_one_watching(page)


def test_after_kill_9_of_the_owner_both_pages_come_back_to_one_document(two_process_stack, pages):
    stack = two_process_stack
    page, second_page = pages(), pages()
    url = f"{stack.web_url}/apps/stream?rate=1300"
    owner, relay = owner_and_relay(stack, url)
    reach_process(page, stack, owner)
    reach_process(second_page, stack, relay)
    open_stream(page, url)
    open_stream(second_page, url)
    wait_for_viewers(page, 2)

    bokeh_process(stack, owner).send_signal(signal.SIGKILL)
    # The relay's page loses its connection as the relay gives the view up, and the owner's page
    # as its process dies; BokehJS reconnects both, the owner's once its process is replaced.
    for viewer in (page, second_page):
        viewer.wait_for_function("() => document.querySelector('.bk-session').dataset.state !== 'live'")
    wait_for_processes(stack)
    for viewer in (page, second_page):
        wait_for_viewers(viewer, 2, timeout=RECONNECT_MS)
    # Rebuilt as the app builds it, and one document again.
    assert model_value(page, "pause", "model.active") is False
    page.locator("button", has_text="Pause").click()
    wait_until(second_page, "pause", "model.active === true")


def test_after_kill_9_of_a_relay_its_page_comes_back_to_the_owners_document(two_process_stack, pages):
    stack = two_process_stack
    url = f"{stack.web_url}/apps/stream?rate=1700"
    owner, relay = owner_and_relay(stack, url)
    page, second_page = pages(), pages()
    reach_process(page, stack, owner)
    reach_process(second_page, stack, relay)
    open_stream(page, url)
    open_stream(second_page, url)
    wait_for_viewers(page, 2)
    page.locator("button", has_text="Pause").click()
    wait_until(second_page, "pause", "model.active === true")

    bokeh_process(stack, relay).send_signal(signal.SIGKILL)
    # The owner notices the relay's link gone: its page counts itself alone, the view still paused.
    wait_for_viewers(page, 1)
    wait_for_processes(stack)
    # The relay's page reconnects to the replaced process, which relays the owner's view again.
    wait_for_viewers(second_page, 2, timeout=RECONNECT_MS)
    wait_for_viewers(page, 2)
    assert model_value(second_page, "pause", "model.active") is True
    second_page.locator("button", has_text="Resume").click()
    wait_until(page, "pause", "model.active === false")
