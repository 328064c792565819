"""What a page must allow to show a document: its BokehJS bundles, and whether it runs JS code strings.

``needs_of(doc)`` is run by each Bokeh process's startup self-check on the document every app
builds with its default arguments (``bkruntime.readiness``); the process publishes the result on its
``/healthz``, where the site's background monitor reads it (``web.operations.bokeh_monitor``), so page views
never ask Bokeh. The bundles are what Bokeh itself would bundle for those models (widgets, tables,
GL, MathJax); ``custom_js`` says the document holds code that BokehJS compiles in the browser with
``new Function`` (``CustomJS`` and its kin), which the page's CSP must then allow ('unsafe-eval').
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bokeh.document import Document

# The optional bundles besides bokeh.min.js, in the order pages load them.
BOKEHJS_BUNDLES = ("gl", "widgets", "tables", "mathjax")


@dataclass(frozen=True)
class DocumentNeeds:
    """The optional BokehJS bundles a document needs, and whether it holds JS code strings."""

    bokehjs: tuple[str, ...]
    custom_js: bool

    def as_json(self) -> dict[str, Any]:
        return {"bokehjs": list(self.bokehjs), "custom_js": self.custom_js}

    @classmethod
    def from_json(cls, data: object) -> DocumentNeeds | None:
        """The needs another process published, or None if ``data`` is not such a record."""
        if not isinstance(data, Mapping):
            return None
        bundles, custom_js = data.get("bokehjs"), data.get("custom_js")
        if not isinstance(bundles, list) or not isinstance(custom_js, bool):
            return None
        return cls(tuple(bundle for bundle in BOKEHJS_BUNDLES if bundle in bundles), custom_js)


# Everything a page may need: what it loads and allows while an app's needs are not known yet.
ALL_NEEDS = DocumentNeeds(BOKEHJS_BUNDLES, True)


def needs_of(doc: Document) -> DocumentNeeds:
    """What ``doc``'s models need in the browser, as Bokeh's own bundling decides it."""
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import Resources

    bundle = bundle_for_objs_and_resources([doc], Resources(mode="server", root_url="/"))
    files = {url.url.rsplit("/", 1)[-1].split(".")[0].removeprefix("bokeh-") for url in bundle.js_files}
    bundles = tuple(name for name in BOKEHJS_BUNDLES if name in files)
    return DocumentNeeds(bundles, any(holds_js_code(model) for model in doc.models))


def holds_js_code(model: object) -> bool:
    """Whether BokehJS compiles code of ``model`` from a string (``CustomJS``, ``CustomJSHover``...)."""
    # The CustomJS* models (callbacks, tick formatters and tickers, filters, transforms, hover
    # fields...) share no base class; they and the other code-carrying models (a labeling policy,
    # a canvas texture) are named so or carry a ``code`` property.
    kind = type(model)
    properties = getattr(kind, "properties", None)
    return kind.__name__.startswith("CustomJS") or (callable(properties) and "code" in properties())
