"""Who may open which app (``aperture.access``), the rule both the site and the Bokeh server apply."""

import pytest

from aperture.access import FORBIDDEN, LOGIN, OPEN, Visitor, access_to, may_open
from aperture.catalog import CATALOG, AppSpec

PUBLIC = AppSpec(name="pub", title="Pub", description="", source="pub")
PRIVATE = AppSpec(name="priv", title="Priv", description="", source="priv", public=False)
ANALYSTS = AppSpec(name="ana", title="Ana", description="", source="ana", public=False, roles=("analyst",))


@pytest.mark.parametrize(
    ("spec", "visitor", "expected"),
    [
        (PUBLIC, None, OPEN),
        (PUBLIC, Visitor("alice"), OPEN),
        (PRIVATE, None, LOGIN),
        (PRIVATE, Visitor("alice"), OPEN),
        (ANALYSTS, None, LOGIN),
        (ANALYSTS, Visitor("alice"), FORBIDDEN),
        (ANALYSTS, Visitor("bob", ("analyst",)), OPEN),
        (ANALYSTS, Visitor("ada", ("admin",)), OPEN),
    ],
)
def test_public_private_and_roles(spec, visitor, expected):
    assert access_to(spec, visitor) == expected
    assert may_open(spec, visitor) == (expected == OPEN)


def test_the_catalog_has_a_private_app_and_keeps_the_showcase_public():
    assert not CATALOG["portfolio"].public
    assert all(CATALOG[name].public for name in ("sliders", "iris", "press", "stream"))


def test_roles_on_a_public_app_are_a_mistake():
    with pytest.raises(ValueError, match="public"):
        AppSpec(name="x", title="X", description="", source="x", roles=("analyst",))


def test_a_visitor_travels_as_plain_json_and_comes_back():
    ada = Visitor("ada", ("admin",))
    assert ada.as_payload() == {"name": "ada", "roles": ["admin"]}
    assert Visitor.from_payload(ada.as_payload()) == ada
    assert ada.is_admin and not Visitor("alice").is_admin


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "alice",
        {},
        {"name": ""},
        {"name": "<script>"},
        {"name": "alice", "roles": "admin"},
        {"name": "alice", "roles": [1]},
        {"name": "alice", "roles": ["ad min"]},
    ],
)
def test_malformed_visitors_are_refused_not_guessed(payload):
    assert Visitor.from_payload(payload) is None
