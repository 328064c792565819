"""A light client that loads pages and opens their live sessions the way a browser with BokehJS does.

Used by the benchmarks in this folder, which need many page views per second from one process:
Bokeh's own ``ClientSession`` builds a ``Document`` and runs a loop per session, so this speaks
Bokeh's websocket protocol directly with Tornado's clients instead. One page view:

1. ``GET`` the page (as the browser's navigation does);
2. for a page made with ``server_session`` (the tutorial pattern), the browser's script then asks
   the Bokeh server for ``autoload.js``: a CORS preflight (the script sends a ``Bokeh-Session-Id``
   header to another origin) and the ``GET``, whose answer holds the session's token;
3. the websocket to the URL the render item names, with subprotocols ``["bokeh", token]`` and the
   page's ``Origin``; the server's ``ACK``; ``PULL-DOC-REQ``; ``PULL-DOC-REPLY``; close.

``DocumentCheck`` then says whether the session the browser got is the one the page promised
(its arguments and the site's customisation), reading the reply's JSON without building models.
BokehJS and its CSS are not fetched: a browser has them in its cache after the first page.
"""

from __future__ import annotations

import base64
import html
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bokeh_client import EmbeddedSession, embedded_sessions
from tests.support.session_holder import ProtocolFailure, connect_like_bokehjs, pull_document

TIMEOUT_SECONDS = 60.0
_AUTOLOAD_SOURCE = re.compile(r"xhr\.open\('GET', \"([^\"]+)\", true\);")
_AUTOLOAD_HEADER = re.compile(r"xhr\.setRequestHeader\(\"([^\"]+)\", \"([^\"]+)\"\)")


class PageViewError(Exception):
    """A step of a page view failed (an HTTP error, a refused websocket, an unexpected message)."""


@dataclass(frozen=True)
class DocumentCheck:
    """What the session's document must show: the page's ``N`` argument (sliders' ``wave`` length;
    ``None`` for another app) and its title."""

    points: int | None
    title: str
    # A named model the document must hold: one the site added (the pull path's target wave), or
    # one of another app's own models, if any.
    added_model: str | None = None

    def kept(self, doc: dict) -> bool:
        names = _named_models(doc)
        if self.points is not None:
            wave = names.get("wave")
            if wave is None or _column_length(wave, "x") != self.points:
                return False
        if self.added_model is not None and self.added_model not in names:
            return False
        return self.title in _texts(doc)


@dataclass(frozen=True)
class PageView:
    """The outcome of one page view: its timings and whether the session kept what the page asked."""

    page_seconds: float
    total_seconds: float
    kept: bool
    notice: bool


def http_client() -> AsyncHTTPClient:
    # One client per loop; enough connections for every concurrent page view of a benchmark.
    return AsyncHTTPClient(max_clients=64)


async def fetch(client: AsyncHTTPClient, url: str, **options) -> str:
    response = await client.fetch(HTTPRequest(url, request_timeout=TIMEOUT_SECONDS, **options), raise_error=False)
    if response.code != 200:
        raise PageViewError(f"{options.get('method', 'GET')} {url}: HTTP {response.code} {response.reason}")
    return response.body.decode("utf-8")


async def page_view(client: AsyncHTTPClient, page_url: str, check: DocumentCheck, follow: bool = True) -> PageView:
    """Load ``page_url`` and, if ``follow``, open its session as BokehJS would."""
    started = time.perf_counter()
    page = await fetch(client, page_url)
    page_seconds = time.perf_counter() - started
    if not follow:
        return PageView(page_seconds, page_seconds, kept=False, notice=False)
    embed = await session_of_page(client, page_url, page)
    doc = await open_session(embed, origin_of(page_url))
    return PageView(page_seconds, time.perf_counter() - started, check.kept(doc), shows_expiry_notice(doc))


def shows_expiry_notice(doc: dict) -> bool:
    """True for the notice an app shows instead of a pulled session that was discarded."""
    return "session_expired" in _named_models(doc)


async def session_of_page(client: AsyncHTTPClient, page_url: str, page: str) -> EmbeddedSession:
    """The session a page embeds: from its own render item, or from the ``autoload.js`` it loads."""
    sessions = embedded_sessions(page)
    if sessions:
        return sessions[0]
    source = _AUTOLOAD_SOURCE.search(page)
    if source is None:
        raise PageViewError(f"{page_url}: no live session in the page")
    url = urljoin(page_url, html.unescape(source.group(1)))
    headers = dict(_AUTOLOAD_HEADER.findall(page))
    origin = origin_of(page_url)
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": ",".join(name.lower() for name in headers),
    }
    await fetch(client, url, method="OPTIONS", headers=preflight)
    script = await fetch(client, url, headers={**headers, "Origin": origin})
    sessions = embedded_sessions(script)
    if not sessions:
        raise PageViewError(f"{url}: no render item in autoload.js")
    return sessions[0]


async def open_session(embed: EmbeddedSession, origin: str, websocket_url: str | None = None) -> dict:
    """Open ``embed``'s session like BokehJS (ACK, then PULL-DOC) and return the document's JSON."""
    try:
        connection = await connect_like_bokehjs(embed, origin, websocket_url, TIMEOUT_SECONDS)
    except Exception as error:
        raise PageViewError(f"websocket to {websocket_url or embed.websocket_url} refused: {error}") from error
    try:
        _receiver, document = await pull_document(connection)
        return document
    except ProtocolFailure as failure:
        raise PageViewError(str(failure)) from failure
    finally:
        connection.close()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _named_models(doc: dict) -> dict[str, dict]:
    """Serialized models by their ``name`` attribute."""
    named = {}
    for node in _walk(doc):
        if node.get("type") == "object" and isinstance(node.get("attributes"), dict):
            name = node["attributes"].get("name")
            if isinstance(name, str):
                named[name] = node
    return named


def _texts(doc: dict) -> set[str]:
    return {
        node["attributes"]["text"]
        for node in _walk(doc)
        if isinstance(node.get("attributes"), dict) and isinstance(node["attributes"].get("text"), str)
    }


def _column_length(model: dict, column: str) -> int | None:
    """How many values ``column`` of a serialized ``ColumnDataSource`` holds."""
    data = model["attributes"].get("data", {})
    entries = data.get("entries", []) if isinstance(data, dict) else []
    for key, value in entries:
        if key != column:
            continue
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict) and value.get("type") == "ndarray":
            shape = value.get("shape") or []
            if shape:
                return int(shape[0])
            array = value.get("array", {})
            if isinstance(array, dict) and array.get("type") == "bytes" and isinstance(array.get("data"), str):
                return len(base64.b64decode(array["data"])) // 8
    return None
