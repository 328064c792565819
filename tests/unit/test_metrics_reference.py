"""The metrics reference names every metric the site and the Bokeh processes define, and no other."""

import ast
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = PROJECT_ROOT / "docs" / "reference" / "metrics.md"
DEFINITIONS = [PROJECT_ROOT / "web" / "operations" / "metrics.py", PROJECT_ROOT / "bkruntime" / "metrics.py"]
# prometheus_client adds these to a counter's or a histogram's name when it exposes it.
SUFFIXES = ("_total", "_sum", "_count", "_bucket")


def defined_names() -> set[str]:
    """The first argument of every Counter, Gauge, Histogram or *MetricFamily call (an f-string's
    fixed start for the few named per event)."""
    names = set()
    for path in DEFINITIONS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                first = node.args[0]
                if function.endswith(("Counter", "Gauge", "Histogram", "MetricFamily")):
                    if isinstance(first, ast.Constant):
                        names.add(first.value)
                    elif isinstance(first, ast.JoinedStr):
                        names.add(first.values[0].value)
    return {name for name in names if name.startswith("aperture_")}


def documented_names() -> set[str]:
    rows = [line for line in REFERENCE.read_text().splitlines() if line.startswith("| `aperture_")]
    return {name for row in rows for name in re.findall(r"`(aperture_[a-z_]+)`", row.split(" | ")[0])}


def base(name: str) -> str:
    """The name as defined: without the one suffix prometheus_client added."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_every_metric_defined_is_documented():
    documented = {base(name) for name in documented_names()}
    for name in defined_names():
        assert any(entry.startswith(name) for entry in documented), f"{name} missing from docs/reference/metrics.md"


def test_every_metric_documented_is_defined():
    defined = defined_names()
    for name in documented_names():
        assert any(base(name).startswith(entry) for entry in defined), (
            f"docs/reference/metrics.md: {name} is not defined"
        )
