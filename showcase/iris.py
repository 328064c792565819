"""The Iris data set and the species-coloured histogram computed from it.

Pure data work, no Bokeh: the live ``iris`` app and the Flask pages that show the same histogram
both call ``histogram()``. The CSV beside this module is Fisher's 1936 Iris data (150 rows).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).with_name("iris.csv")

FEATURES = {
    "sepal_length": "Sepal length (cm)",
    "sepal_width": "Sepal width (cm)",
    "petal_length": "Petal length (cm)",
    "petal_width": "Petal width (cm)",
}
SPECIES = ("setosa", "versicolor", "virginica")


@dataclass(frozen=True)
class IrisData:
    """Measurements by feature name, and the species of each row."""

    measurements: dict[str, np.ndarray]
    species: np.ndarray

    def __len__(self) -> int:
        return len(self.species)


@dataclass(frozen=True)
class Histogram:
    """Bin edges shared by all species, and the count per bin for each species."""

    feature: str
    edges: list[float]
    counts: dict[str, list[int]]

    @property
    def left(self) -> list[float]:
        return self.edges[:-1]

    @property
    def right(self) -> list[float]:
        return self.edges[1:]

    @property
    def centers(self) -> list[float]:
        """The middle of each bin, where its bar stands."""
        return [(left + right) / 2 for left, right in zip(self.left, self.right, strict=True)]

    @property
    def widths(self) -> list[float]:
        """The width of each bin (all equal, up to rounding)."""
        return [right - left for left, right in zip(self.left, self.right, strict=True)]


def load_iris(path: Path = DATA_FILE) -> IrisData:
    """Read the CSV; raises ``ValueError`` if a row is malformed or a species is unknown."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    unknown = {row["species"] for row in rows} - set(SPECIES)
    if unknown:
        raise ValueError(f"{path}: unknown species {sorted(unknown)}")
    measurements = {name: np.array([float(row[name]) for row in rows]) for name in FEATURES}
    return IrisData(measurements=measurements, species=np.array([row["species"] for row in rows]))


@cache
def shared_iris() -> IrisData:
    """The bundled data set, read once per process and shared by every request or session.

    Its arrays are made read-only, so no caller can change what the others see.
    """
    data = load_iris()
    for values in (*data.measurements.values(), data.species):
        values.flags.writeable = False
    return data


def histogram(data: IrisData, feature: str, bins: int) -> Histogram:
    """Count ``feature`` in ``bins`` equal-width bins over its whole range, split by species."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {', '.join(FEATURES)}")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    values = data.measurements[feature]
    edges = np.histogram_bin_edges(values, bins=bins)
    counts = {species: np.histogram(values[data.species == species], bins=edges)[0].tolist() for species in SPECIES}
    return Histogram(feature=feature, edges=edges.tolist(), counts=counts)
