"""Which of the project's packages may import which: the arrows between the site, the runtime and the apps.

The site (``web``) and the Bokeh runtime (``bkruntime``) share only the contract (``aperture``);
apps (``bkapps``) see only the runtime's kit; the kit imports none of the runtime's process
machinery; nothing but an app imports an app. ``showcase`` is a library the site and the apps share.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("web", "aperture", "bkruntime", "bkapps", "showcase")
# Each area, and the areas it may import (an area is a package, or the kit inside the runtime).
ALLOWED = {
    "web": {"web", "aperture", "showcase"},
    "aperture": {"aperture"},
    "bkruntime.kit": {"bkruntime.kit", "aperture"},
    "bkruntime": {"bkruntime", "bkruntime.kit", "aperture"},
    "bkapps": {"bkapps", "bkruntime.kit", "showcase"},
    "showcase": {"showcase", "aperture"},
}
# `python -m bkapps` stays a way to start the runtime over the project's apps.
ENTRY_POINTS = {("bkapps/__main__.py", "bkruntime")}


def area(module: str) -> str | None:
    """The area a dotted module name belongs to (None for a third-party module)."""
    if module == "bkruntime.kit" or module.startswith("bkruntime.kit."):
        return "bkruntime.kit"
    top = module.split(".")[0]
    return top if top in FIRST_PARTY else None


def imported_modules(path: Path) -> set[str]:
    """Every absolute module ``path`` imports, at the top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from bkruntime import kit` imports the kit: name the module each name may be.
            modules |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


def source_files() -> list[Path]:
    return sorted(path for package in FIRST_PARTY for path in (ROOT / package).rglob("*.py"))


def area_of_file(relative: str) -> str | None:
    return area(relative.removesuffix(".py").replace("/", "."))


def wrong_imports(relative: str, path: Path) -> list[str]:
    """The modules ``path`` (the project's file ``relative``) imports against the arrows."""
    own = area_of_file(relative)
    return sorted(
        module
        for module in imported_modules(path)
        if (target := area(module)) is not None
        and target not in ALLOWED[own]
        and (relative, target) not in ENTRY_POINTS
    )


def test_every_package_is_checked():
    assert {area_of_file(path.relative_to(ROOT).as_posix()) for path in source_files()} == set(ALLOWED)


@pytest.mark.parametrize("path", source_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_imports_follow_the_arrows(path):
    relative = path.relative_to(ROOT).as_posix()
    wrong = wrong_imports(relative, path)
    assert not wrong, f"{relative} may import only {sorted(ALLOWED[area_of_file(relative)])}, not {wrong}"


def test_the_arrows_catch_a_wrong_import_anywhere_in_a_module(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "import json\n\ndef view():\n    from bkapps.iris import main\n    from bkruntime import metrics\n"
    )
    assert wrong_imports("web/module.py", module) == [
        "bkapps.iris",
        "bkapps.iris.main",
        "bkruntime",
        "bkruntime.metrics",
    ]
    module.write_text("from bkruntime import metrics\nfrom aperture.catalog import CATALOG\n")
    assert wrong_imports("bkruntime/kit/module.py", module) == ["bkruntime", "bkruntime.metrics"]
    assert wrong_imports("bkruntime/module.py", module) == []
