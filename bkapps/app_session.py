"""What every live app does with its session before it builds anything: read its arguments.

An app's ``main.py`` defines ``build(doc, **arguments)`` and ends with
``build_app(curdoc(), "<name>", build)``. The arguments come from the session's HTTP request (a
standalone visit's query string, or the ``arguments=`` Flask passed to ``pull_session``) and are
validated against the app's catalog entry, so both ways in follow the same rules. Invalid
arguments get a readable message in the page instead of a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from bokeh.document import Document
from bokeh.models import Div

from bkapps.catalog import CATALOG
from bkapps.params import InvalidArgument

# BokehJS adds its own arguments (bokeh-autoload-element, bokeh-absolute-url...) to the
# requests it makes; they are not the app's.
_BOKEH_ARGUMENT_PREFIX = "bokeh-"


def request_arguments(doc: Document) -> dict[str, list[str]]:
    """The session request's query arguments, decoded, without BokehJS's own."""
    context = doc.session_context
    request = context.request if context is not None else None
    raw: Mapping[str, list[bytes]] = request.arguments if request is not None else {}
    return {
        name: [value.decode("utf-8", "replace") for value in values]
        for name, values in raw.items()
        if not name.startswith(_BOKEH_ARGUMENT_PREFIX)
    }


def build_app(doc: Document, name: str, build: Callable[..., None]) -> None:
    """Call ``build(doc, **arguments)``, or explain in the page why the arguments are refused."""
    spec = CATALOG[name]
    try:
        arguments = spec.parse_arguments(request_arguments(doc))
    except InvalidArgument as error:
        show_invalid_argument(doc, spec.title, error)
        return
    build(doc, **arguments)


def show_invalid_argument(doc: Document, title: str, error: InvalidArgument) -> None:
    doc.title = f"{title}: invalid argument"
    message = (
        f"<h2>{html.escape(title)} cannot start</h2>"
        f"<p>Invalid query argument <code>{html.escape(error.name)}</code>: "
        f"{html.escape(error.message)}.</p>"
        "<p>Remove it or correct it in the address bar.</p>"
    )
    doc.add_root(Div(text=message, name="invalid_argument", styles={"font-size": "16px"}))
