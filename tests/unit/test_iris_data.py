"""The Iris data and its histogram, shared by the live app, the classic page and the API."""

import pytest

from showcase.iris import FEATURES, SPECIES, histogram, load_iris, shared_iris


def test_the_bundled_data_is_fishers_150_rows():
    data = load_iris()
    assert len(data) == 150
    assert set(data.measurements) == set(FEATURES)
    assert {str(species) for species in data.species} == set(SPECIES)


def test_the_shared_data_is_loaded_once_and_read_only():
    assert shared_iris() is shared_iris()
    with pytest.raises(ValueError, match="read-only"):
        shared_iris().measurements["sepal_length"][0] = 0.0


@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_flower_lands_in_one_bin(feature):
    counts = histogram(shared_iris(), feature, 12)
    assert len(counts.edges) == 13
    assert sum(sum(per_species) for per_species in counts.counts.values()) == 150
    assert all(sum(counts.counts[species]) == 50 for species in SPECIES)


def test_bins_have_centers_and_widths_for_bars():
    counts = histogram(shared_iris(), "petal_width", 5)
    assert counts.edges == pytest.approx([0.1, 0.58, 1.06, 1.54, 2.02, 2.5])
    assert counts.centers == pytest.approx([0.34, 0.82, 1.3, 1.78, 2.26])
    assert counts.widths == pytest.approx([0.48] * 5)
    assert counts.counts["setosa"] == [49, 1, 0, 0, 0]


@pytest.mark.parametrize(
    ("feature", "bins", "message"),
    [("colour", 10, "unknown feature"), ("sepal_width", 0, "bins")],
)
def test_bad_requests_are_refused(feature, bins, message):
    with pytest.raises(ValueError, match=message):
        histogram(shared_iris(), feature, bins)
