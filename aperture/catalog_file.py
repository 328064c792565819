"""Reading and checking the apps folders' catalog files (``catalog.toml``) into the catalog.

Each folder of ``APERTURE_APPS`` holds a ``catalog.toml`` with one ``[[apps]]`` table per app and
the apps' files or folders beside it, and optionally the views it puts on the site's dashboard
and wall (``[[dashboard]]``, ``[[wall]]``: ``aperture.catalog_pages``). Both sides read the same
files at startup; anything wrong (an unknown key, a wrong type, a name Bokeh would not serve the
app under, one name twice, a missing source, a view of an app nobody serves) is one
``CatalogError`` naming the file and the entry, and the process stops.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aperture.catalog import CATALOG_FILE, CATALOG_PAGES, PAGE_OPTIONS, AppCatalog, AppSpec, PageView
from aperture.catalog_pages import PageViewError, check_page_views, read_page_views
from aperture.environment import ConfigurationError
from aperture.params import ChoiceParam, FloatParam, IntParam, InvalidArgument, Param, TextParam

# key: (types it may have, required)
APP_KEYS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True),
    "title": ((str,), True),
    "description": ((str,), False),
    "source": ((str,), True),
    "params": ((list,), False),
    "options": ((list,), False),
    "bokehjs": ((list,), False),
    "public": ((bool,), False),
    "roles": ((list,), False),
    "sharing": ((str,), False),
    "kit": ((bool,), False),
}
_NUMBER = (int, float)
PARAM_KEYS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "int": {"default": ((int,), True), "minimum": ((int,), True), "maximum": ((int,), True)},
    "float": {"default": (_NUMBER, True), "minimum": (_NUMBER, True), "maximum": (_NUMBER, True)},
    "choice": {"default": ((str,), True), "choices": ((list,), True)},
    "text": {"default": ((str,), False), "max_length": ((int,), True)},
}
_PARAM_COMMON = {"name": ((str,), True), "type": ((str,), True), "help": ((str,), False)}
_PARAM_TYPES = {"int": IntParam, "float": FloatParam, "choice": ChoiceParam, "text": TextParam}
# The module an app imports to build through the project's kit (``AppSpec.kit``).
KIT_MODULE = "bkruntime.kit.app_session"


class CatalogError(ConfigurationError):
    """A catalog file that cannot be served; the message names the file and the entry."""


class _Entry:
    """Where a value was read: a catalog file and, within it, one app's table."""

    def __init__(self, file: Path, index: int | None = None, name: object = None) -> None:
        self.file, self.index, self.name = file, index, name

    def error(self, message: str) -> CatalogError:
        if isinstance(self.name, str):
            return CatalogError(f'{self.file}, app "{self.name}": {message}')
        if self.index is not None:
            return CatalogError(f"{self.file}, app entry {self.index + 1}: {message}")
        return CatalogError(f"{self.file}: {message}")


def read_catalogs(folders: Sequence[Path]) -> AppCatalog:
    """Every app of every folder's catalog file, in order; raises ``CatalogError``."""
    specs: list[AppSpec] = []
    declared_in: dict[str, Path] = {}
    views: list[tuple[Path, dict[str, tuple[PageView, ...]]]] = []
    for folder in folders:
        file_specs, file_views = read_catalog_file(folder / CATALOG_FILE)
        views.append((folder / CATALOG_FILE, file_views))
        for spec in file_specs:
            if spec.name in declared_in:
                raise _Entry(spec.folder / CATALOG_FILE, name=spec.name).error(
                    f"the name is declared twice (also in {declared_in[spec.name]})"
                )
            declared_in[spec.name] = spec.folder / CATALOG_FILE
            specs.append(spec)
    if not specs:
        raise CatalogError(f"no app declared in {', '.join(str(folder / CATALOG_FILE) for folder in folders)}")
    catalog = AppCatalog(specs)
    for file, file_views in views:
        for page, page_views in file_views.items():
            try:
                check_page_views(page, page_views, catalog)
            except PageViewError as error:
                raise _Entry(file).error(str(error)) from None
    pages = {page: [view for _, file_views in views for view in file_views[page]] for page in CATALOG_PAGES}
    return AppCatalog(specs, pages)


def read_catalog_file(file: Path) -> tuple[list[AppSpec], dict[str, tuple[PageView, ...]]]:
    """The apps one catalog file declares and the views it puts on site pages, checked (the views'
    apps and arguments only once every file is read); raises ``CatalogError``."""
    where = _Entry(file)
    if not file.parent.is_dir():
        raise where.error("no such apps folder (APERTURE_APPS)")
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise where.error("no such file: each apps folder needs a catalog file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise where.error(f"cannot read it: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise where.error(f"not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"apps", *CATALOG_PAGES})
    if unknown:
        tables = ", ".join(f"[[{key}]]" for key in ("apps", *CATALOG_PAGES))
        raise where.error(f"unknown key {unknown[0]!r} (a catalog file holds {tables} tables only)")
    apps = document.get("apps", [])
    if not isinstance(apps, list) or not all(isinstance(app, dict) for app in apps):
        raise where.error("apps must be [[apps]] tables")
    specs = [_spec(_Entry(file, index, table.get("name")), table) for index, table in enumerate(apps)]
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        if spec.name in seen:
            raise _Entry(file, index, spec.name).error("the name is declared twice (earlier in this file)")
        seen.add(spec.name)
    try:
        return specs, read_page_views(document)
    except PageViewError as error:
        raise where.error(str(error)) from None


def _spec(entry: _Entry, table: Mapping[str, Any]) -> AppSpec:
    _check_keys(entry, table, APP_KEYS, "")
    name, source = table["name"], table["source"]
    path = _checked_source(entry, entry.file.parent, source)
    served_as = path.stem if path.is_file() else path.name
    if name != served_as:
        raise entry.error(
            f"the name must be {served_as!r}, the name of its source {source!r}: Bokeh serves the app "
            f"at /{served_as}, so pages asking for /{name} would never load it"
        )
    params = tuple(_param(entry, "params", index, item) for index, item in enumerate(table.get("params", [])))
    options = PAGE_OPTIONS
    if "options" in table:
        options = tuple(_param(entry, "options", index, item) for index, item in enumerate(table["options"]))
    _check_unique_names(entry, "params", params)
    _check_unique_names(entry, "options", options)
    try:
        return AppSpec(
            name=name,
            title=table["title"],
            description=table.get("description", ""),
            source=source,
            params=params,
            options=options,
            bokehjs=_strings(entry, table, "bokehjs"),
            public=table.get("public", True),
            roles=_strings(entry, table, "roles"),
            sharing=table.get("sharing", "per_visitor"),
            kit=table["kit"] if "kit" in table else imports_kit(path),
            folder=entry.file.parent,
        )
    except ValueError as error:
        raise entry.error(str(error)) from None


def _check_keys(entry: _Entry, table: Mapping[str, Any], keys: Mapping[str, tuple], within: str) -> None:
    for key, value in table.items():
        if key not in keys:
            raise entry.error(f"unknown key {within}{key!r} (allowed: {', '.join(keys)})")
        types = keys[key][0]
        # TOML's true/false are bool, which Python counts as int too.
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            expected = " or ".join(_TYPE_NAMES[kind] for kind in types)
            raise entry.error(f"{within}{key!r} must be {expected}, not {_TYPE_NAMES.get(type(value), 'that')}")
    for key, (_types, required) in keys.items():
        if required and key not in table:
            raise entry.error(f"{within}{key!r} is missing")


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _checked_source(entry: _Entry, folder: Path, source: str) -> Path:
    if not source or Path(source).is_absolute() or ".." in Path(source).parts:
        raise entry.error(f"source {source!r} must be a file or folder beside the catalog file")
    path = folder / source
    if path.is_dir():
        if not any((path / main).is_file() for main in ("main.py", "main.ipynb")):
            raise entry.error(f"source {source!r} is a folder without main.py (a Bokeh directory app needs one)")
    elif not path.is_file():
        raise entry.error(f"source {source!r} does not exist in {folder}")
    elif path.suffix not in (".py", ".ipynb"):
        raise entry.error(f"source {source!r} must be a .py or .ipynb file or an app folder")
    return path


def _param(entry: _Entry, key: str, index: int, table: object) -> Param:
    if not isinstance(table, dict):
        raise entry.error(f"{key}[{index + 1}] must be a table with name and type")
    label = f"{key}[{table.get('name', index + 1)}]."
    kind = table.get("type")
    if kind not in PARAM_KEYS:
        raise entry.error(f"{label}'type' must be one of {', '.join(PARAM_KEYS)}, not {kind!r}")
    _check_keys(entry, table, {**_PARAM_COMMON, **PARAM_KEYS[kind]}, label)
    fields = {field: value for field, value in table.items() if field != "type"}
    if kind == "choice":
        fields["choices"] = _strings(entry, table, "choices", label)
    elif kind == "text":
        fields.setdefault("default", "")
    elif kind == "float":
        fields.update({field: float(table[field]) for field in ("default", "minimum", "maximum")})
    try:
        param = _PARAM_TYPES[kind](**fields)
        # The default must be a value the app accepts from a visitor.
        param.parse(str(param.default))
    except InvalidArgument as error:
        raise entry.error(f"{label}'default' {param.default!r} {error.message}") from None
    except ValueError as error:
        raise entry.error(f"{label[:-1]}: {error}") from None
    return param


def _strings(entry: _Entry, table: Mapping[str, Any], key: str, within: str = "") -> tuple[str, ...]:
    values = table.get(key, [])
    if not all(isinstance(value, str) for value in values):
        raise entry.error(f"{within}{key!r} must be a list of strings")
    return tuple(values)


def _check_unique_names(entry: _Entry, key: str, params: Iterable[Param]) -> None:
    names = [param.name for param in params]
    for name in names:
        if names.count(name) > 1:
            raise entry.error(f"{key} declares {name!r} twice")


def imports_kit(path: Path) -> bool:
    """Whether an app's Python files import the project's app kit (``bkruntime.kit.app_session``)."""
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for file in files:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # Bokeh reports a broken app when it runs it; here it is only not a kit app
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name == KIT_MODULE for alias in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and node.module == KIT_MODULE:
                return True
            if isinstance(node, ast.ImportFrom) and node.module == KIT_MODULE.rpartition(".")[0]:
                if any(alias.name == "app_session" for alias in node.names):
                    return True
    return False
