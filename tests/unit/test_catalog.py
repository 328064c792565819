"""The catalog of live apps."""

import pytest

from aperture.catalog import CATALOG, AppCatalog, AppSpec
from showcase.iris import FEATURES


def test_every_app_has_its_source_and_a_main():
    for spec in CATALOG:
        assert spec.path.exists(), spec.name
        assert spec.path.suffix == ".py" or (spec.path / "main.py").exists(), spec.name


def test_catalog_holds_the_showcase_apps():
    assert {"sliders", "iris", "press", "stream"} <= set(CATALOG.names)
    assert CATALOG.get("nope") is None
    assert "iris" in CATALOG


def test_iris_declares_its_features_from_the_data_module():
    feature = CATALOG["iris"].param("feature")
    assert feature.choices == tuple(FEATURES)


def test_names_must_be_url_safe():
    with pytest.raises(ValueError, match="must match"):
        AppSpec(name="Bad Name", title="x", description="x", source="x")


def test_names_are_unique():
    spec = AppSpec(name="a", title="A", description="", source="a")
    with pytest.raises(ValueError, match="declared twice"):
        AppCatalog([spec, spec])
