"""The HTTP endpoints reference lists exactly the site's routes, with their methods."""

import re
from pathlib import Path

import bokeh

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "http.md"
# A documented route: `GET /path`, `GET/POST /path`, with <placeholders> and an optional ?query.
DOCUMENTED = re.compile(r"`((?:GET|POST)(?:/(?:GET|POST))*) (/[^`?]*)(?:\?[^`]*)?`")


def normal(path: str) -> str:
    """A route with every placeholder (and BokehJS's version, which the site's URL names) as <>."""
    return re.sub(r"<[^>]*>", "<>", path.replace(bokeh.__version__, "<>"))


def documented_routes() -> set[tuple[str, str]]:
    site = REFERENCE.read_text().split("## Each Bokeh process")[0]
    return {(method, normal(path)) for methods, path in DOCUMENTED.findall(site) for method in methods.split("/")}


def test_every_route_of_the_site_is_documented_and_nothing_else(app):
    routes = {
        (method, normal(rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert sorted(routes - documented_routes()) == [], "routes missing from docs/reference/http.md"
    assert sorted(documented_routes() - routes) == [], "docs/reference/http.md lists routes the site lacks"
