"""A live page whose Bokeh process dies: the page says so, reconnects, and the same document comes back.

A stack of its own with two Bokeh processes. Killing the process that holds a page's session makes
BokehJS reconnect, through the shared port, to a process that rebuilds the session from the page's
token; the app's arguments and the page's options come back and the widgets run Python again.
A pulled session cannot be rebuilt: its page shows the app's "view expired" notice with a reload
link. A page kept open past its token's lifetime says it has expired and offers a reload.
"""

import signal

import pytest

from aperture.catalog import CATALOG, MAIN_PLOT_NAME
from tests.support.bokeh_page import (
    RECONNECT_ATTEMPT_FAILED,
    WAIT_MS,
    column,
    model_value,
    move_first_slider_and_see_python_answer,
    record_notices,
    wait_for_canvas,
    wait_for_notice,
    wait_for_state,
    wait_until,
)
from tests.support.page_errors import PageErrors
from tests.support.restarts import (
    bokeh_process,
    kill_a_process_that_holds_a_shared_view,
    kill_process_that_took,
    process_that_took,
    sessions_created,
    wait_for_processes,
)
from tests.support.servers import running_stack

NOTICE = ".live-session-notice"


@pytest.fixture(scope="module")
def restart_stack():
    with running_stack(processes=2) as live:
        yield live


@pytest.fixture
def short_token_stack():
    """Tokens that expire 8 s after the page view (long enough to load the page on a busy machine)."""
    with running_stack(processes=2, BOKEH_TOKEN_LIFETIME="8") as live:
        yield live


# Built through the project's kit, which applies the site's title option checked below.
PUBLIC_APPS = [spec.name for spec in CATALOG if spec.public and spec.kit]


def exercise(page, name: str) -> None:
    """Use the app's widget and wait until Python on the server has answered."""
    if name == "sliders":
        move_first_slider_and_see_python_answer(page)
    elif name == "iris":
        first = model_value(page, "histogram", f"{column('center')}[0]")
        page.locator("select").select_option(label="Sepal width (cm)")
        wait_until(page, "histogram", f"{column('center')}[0] !== {first}")
    elif name == "press":
        before = model_value(page, "numbers", f"{column('text')}.length")
        page.get_by_role("button", name="Press Me").click()
        wait_until(page, "numbers", f"{column('text')}.length === {before + 1}")
    elif name == "stream":
        length = model_value(page, "host", f"{column('time')}.length")
        wait_until(page, "host", f"{column('time')}.length > {length}")


@pytest.mark.parametrize("name", PUBLIC_APPS)
def test_the_same_document_comes_back_after_its_process_dies(restart_stack, page, name):
    stack = restart_stack
    query = {"sliders": "?N=37", "iris": "?feature=petal_length&bins=12", "stream": "?rate=200"}.get(name, "")
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/{name}{query}")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    assert page.locator(NOTICE).is_hidden()

    if CATALOG[name].sharing == "shared":
        kill_a_process_that_holds_a_shared_view(stack, before)
    else:
        kill_process_that_took(stack, before)
    wait_for_notice(page, "Reconnected")
    assert len(sockets) >= 2, "BokehJS opened a second websocket"
    wait_for_canvas(page)
    assert model_value(page, MAIN_PLOT_NAME, "model.title.text") == f"{CATALOG[name].title} — served by Flask"
    if name == "sliders":
        assert model_value(page, "wave", f"{column('y')}.length") == 37
    if name == "iris":
        assert model_value(page, "feature", "model.value") == "petal_length"
    exercise(page, name)
    wait_for_processes(stack)


# A busy page: every timer that repeats runs seconds apart (the site's script polls for BokehJS's
# documents with one).
SLOW_REPEATING_TIMERS = """(() => {
  const native = window.setInterval;
  window.setInterval = (callback, ms, ...args) => native(callback, Math.max(ms, 4000), ...args);
})()"""


def test_an_app_is_live_only_once_its_connection_is_watched(restart_stack, page):
    """A connection lost just after the app is drawn is still announced, and so is its return."""
    stack = restart_stack
    page.add_init_script(SLOW_REPEATING_TIMERS)
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/sliders?N=37")
    wait_for_state(page, "live")
    kill_process_that_took(stack, before)
    wait_for_notice(page, "Reconnected")
    wait_for_canvas(page)
    move_first_slider_and_see_python_answer(page)
    wait_for_processes(stack)


# Every websocket the page opens, kept where the test can see its state.
RECORD_WEBSOCKETS = """(() => {
  const Native = window.WebSocket;
  window.apertureSockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.apertureSockets.push(this); }
  };
})()"""


@pytest.fixture
def stopped_stack():
    """A stack of its own: the test stops its supervisor and a process, which the site's monitors
    and the supervisor's restarts remember for a while."""
    with running_stack(processes=2) as live:
        yield live


def test_a_change_made_while_the_websocket_reopens_reaches_the_rebuilt_session(stopped_stack, page):
    stack = stopped_stack
    errors = PageErrors(page)
    page.add_init_script(RECORD_WEBSOCKETS)
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/sliders?N=37")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    server_offset = model_value(page, "offset", "model.value")
    holder = process_that_took(stack, before)
    other = bokeh_process(stack, 1 - holder)
    killed = bokeh_process(stack, holder)
    # Nothing replaces the killed process while the supervisor is stopped, and the other process,
    # stopped, leaves BokehJS's new websocket connecting: the kernel queues it, nobody answers.
    stack.bokeh.signal(signal.SIGSTOP)
    try:
        other.suspend()
        killed.send_signal(signal.SIGKILL)
        page.wait_for_function(
            "() => apertureSockets.length >= 2 && apertureSockets.at(-1).readyState === WebSocket.CONNECTING",
            timeout=WAIT_MS,
        )
        # The visitor moves a widget now.
        model_value(page, "offset", f"(model.value = {server_offset + 1}, model.value)")
    finally:
        other.resume()
        stack.bokeh.signal(signal.SIGCONT)
    wait_for_notice(page, "Reconnected; your settings were restored.")
    wait_for_canvas(page)
    # Nothing was thrown at the widget; the change reached the rebuilt session once it was open,
    # where Python answered it, and its widgets run Python.
    assert model_value(page, "offset", "model.value") == server_offset + 1
    wait_until(page, "wave", f"Math.abs({column('y')}[0] - {server_offset + 1}) < 1e-9")
    move_first_slider_and_see_python_answer(page)
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)
    wait_for_processes(stack)


def test_a_pulled_page_whose_process_dies_says_so_and_offers_a_reload(restart_stack, page):
    stack = restart_stack
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/sliders/match")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    kill_process_that_took(stack, before)
    wait_until(page, "session_expired", "model.text.includes('this view has expired')")
    assert "Reload the page" in model_value(page, "session_expired", "model.text")
    wait_for_processes(stack)


def test_a_page_kept_open_past_its_tokens_lifetime_offers_a_reload(short_token_stack, page):
    stack = short_token_stack
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/press")
    wait_for_canvas(page)
    page.wait_for_function(
        "() => Date.now() / 1000 > Number(document.querySelector('.bk-session').dataset.expiresAt)",
        timeout=WAIT_MS,
    )
    kill_process_that_took(stack, before)
    wait_for_state(page, "gone")
    notice = page.locator(NOTICE)
    assert "expired" in notice.inner_text()
    page.get_by_role("button", name="Reload the page").click()
    wait_for_canvas(page)
    wait_for_state(page, "live")
    wait_for_processes(stack)
