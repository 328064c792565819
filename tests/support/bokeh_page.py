"""Reading a live Bokeh app's state in the browser, through BokehJS's own document models."""

from __future__ import annotations

import re

WAIT_MS = 30_000

# What the browser and BokehJS log when one reconnect attempt fails (it reached a process that was
# dying, or none yet): the next attempt follows, so a test tolerates these and nothing else.
RECONNECT_ATTEMPT_FAILED = re.compile(
    r"^WebSocket connection to '\S+/ws(\?\S*)?' failed|Failed to connect to Bokeh server: Could not open websocket"
)


def wait_for_canvas(page) -> None:
    """Wait until BokehJS has drawn a plot canvas (inside Bokeh's shadow DOM)."""
    page.wait_for_function(
        """() => {
            const canvases = [];
            const walk = (root) => root.querySelectorAll('*').forEach((el) => {
                if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) canvases.push(el);
                if (el.shadowRoot) walk(el.shadowRoot);
            });
            walk(document);
            return canvases.length > 0;
        }""",
        timeout=WAIT_MS,
    )


def wait_for_model(page, name: str) -> None:
    page.wait_for_function(
        "(name) => window.Bokeh && Bokeh.documents.some((doc) => doc.get_model_by_name(name))",
        arg=name,
        timeout=WAIT_MS,
    )


# The expression is written into the function's source (the tests' own code, never page input):
# the site's Content-Security-Policy forbids Function() and eval in the page.
_WITH_MODEL = """(name) => {
    const doc = Bokeh.documents.find((doc) => doc.get_model_by_name(name));
    const model = doc.get_model_by_name(name);
    return (EXPRESSION);
}"""


def model_value(page, name: str, expression: str):
    """Evaluate ``expression`` (JS, with ``model`` bound) on the named model of the page's document."""
    wait_for_model(page, name)
    return page.evaluate(_WITH_MODEL.replace("EXPRESSION", expression), name)


def wait_until(page, name: str, expression: str) -> None:
    """Wait until ``expression`` (JS, with ``model`` bound) is truthy for the named model."""
    wait_for_model(page, name)
    page.wait_for_function(_WITH_MODEL.replace("EXPRESSION", expression), arg=name, timeout=WAIT_MS)


def column(name: str) -> str:
    """JS for column ``name`` of the ColumnDataSource bound as ``model`` (a Map in BokehJS 3.x)."""
    return f"(model.data instanceof Map ? model.data.get('{name}') : model.data['{name}'])"


def move_first_slider_and_see_python_answer(page, steps: int = 1) -> None:
    """Move the sliders app's first slider (Offset) up and wait until Python on the server moved the
    wave: the wave has no JS callback, so only the app's Python callback can. Each call moves it
    further, so a second call proves a second answer."""
    before = model_value(page, "offset", "model.value")
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for _ in range(steps):
        handle.press("ArrowRight")
    wait_until(page, "offset", f"model.value > {before}")
    offset = model_value(page, "offset", "model.value")
    wait_until(page, "wave", f"Math.abs({column('y')}[0] - {offset}) < 1e-9")


# Every text the page's live-session notices show, in order: "Reconnected." stays only a few
# seconds, and a failed wait should say what the page said instead.
_RECORD_NOTICES = """(() => {
  window.apertureNotices = [];
  new MutationObserver(() => {
    for (const notice of document.querySelectorAll('.live-session-notice')) {
      const said = `${notice.dataset.state}: ${notice.textContent}`;
      if (window.apertureNotices.at(-1) !== said) window.apertureNotices.push(said);
    }
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})()"""


def wait_for_state(page, state: str, timeout_ms: int = WAIT_MS * 2) -> None:
    """Until every live app of the page is in ``state`` (``live`` once its connection is watched)."""
    page.wait_for_function(
        "(state) => [...document.querySelectorAll('.bk-session')].every((el) => el.dataset.state === state)",
        arg=state,
        timeout=timeout_ms,
    )


def record_notices(page) -> None:
    """Keep what the live-session notices say from the next page load on (see ``wait_for_notice``)."""
    page.add_init_script(_RECORD_NOTICES)


def wait_for_notice(page, text: str, timeout_ms: int = WAIT_MS * 2) -> None:
    """Until a notice has said ``text`` since the page loaded (``record_notices`` first)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "(text) => window.apertureNotices.some((said) => said.includes(text))", arg=text, timeout=timeout_ms
        )
    except PlaywrightTimeout:
        said = page.evaluate("() => window.apertureNotices")
        raise AssertionError(f"no notice said {text!r} within {timeout_ms} ms; the notices said: {said}") from None


def redirect_websockets(page, shared_url: str, own_url: str) -> None:
    """Make ``page``'s websockets to the Bokeh URL ``shared_url`` connect to ``own_url`` instead:
    a page made to reach one chosen Bokeh process (or replica), as the kernel or a front might."""
    shared = shared_url.replace("http://", "ws://")
    own = own_url.replace("http://", "ws://")
    page.add_init_script(
        f"""(() => {{
          const Native = window.WebSocket;
          window.WebSocket = class extends Native {{
            constructor(url, protocols) {{
              super(String(url).replace({shared!r}, {own!r}), protocols);
            }}
          }};
        }})();"""
    )
