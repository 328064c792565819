"""The settings reference, generated from the code that reads the settings.

Every setting is an environment variable read through the helpers of ``aperture/environment.py``
(``env_str(environ, "NAME", default)``...), a module's own wrapper around them
(``env_url(environ, "NAME", ...)``, the front's ``_text(environ, "NAME", ...)``), ``environ.get``
or ``environ[...]``; docker-compose files read theirs as ``${NAME}``. ``read_settings()`` finds
every such read by scanning the code (``ast``, nothing is imported or run): a call that passes an
environment followed by a name, the name written out or a module-level constant holding it.
The descriptions live in one data file, ``settings.toml`` beside this module, keyed by name.

MkDocs runs this module as a hook (``mkdocs.yml``): the settings page's marker becomes the tables,
and a setting read but not documented, or documented but not read, fails the build with a line
naming it and saying where to fix it. ``tests/unit/test_settings_reference.py`` checks the same.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DESCRIPTIONS = Path(__file__).with_name("settings.toml")
MARKER = "<!-- generated: settings reference -->"
# Where the settings are read: the Python code of both sides and the front, and compose files.
PYTHON_SOURCES = ("aperture", "web", "bkruntime", "bkapps", "showcase", "deploy", "gunicorn.conf.py")
COMPOSE_SOURCES = ("docker-compose.yml", "deploy/compose")
SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
COMPOSE_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
ENVIRON_NAMES = ("environ", "env")


@dataclass(frozen=True)
class Read:
    """One place that reads a setting."""

    name: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def read_settings(root: Path = PROJECT_ROOT) -> dict[str, list[Read]]:
    """Every setting the code reads, with the places that read it."""
    reads: dict[str, list[Read]] = defaultdict(list)
    python_files = sorted(_files(root, PYTHON_SOURCES, "*.py"))
    constants = _string_constants(python_files)
    for path in python_files:
        for name, line in _python_reads(path, constants):
            reads[name].append(Read(name, path.relative_to(root).as_posix(), line))
    for path in sorted(_files(root, COMPOSE_SOURCES, "*.yml")):
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            for name in COMPOSE_READ.findall(text):
                reads[name].append(Read(name, path.relative_to(root).as_posix(), number))
    return dict(sorted(reads.items()))


def _files(root: Path, sources: tuple[str, ...], pattern: str):
    for source in sources:
        path = root / source
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (found for found in path.rglob(pattern) if "node_modules" not in found.parts)


def _string_constants(paths: list[Path]) -> dict[str, str]:
    """Module-level ``NAME_ENV = "SETTING"`` constants of every module, by constant name."""
    constants = {}
    for path in paths:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
    return constants


def _python_reads(path: Path, constants: dict[str, str]):
    """(setting, line) for every read of a setting in one Python file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            yield from _call_reads(node, constants)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            yield from _named(node.slice, constants, node.lineno)


def _call_reads(call: ast.Call, constants: dict[str, str]):
    # environ.get(NAME) / environ.pop(NAME) / os.getenv(NAME)
    function = call.func
    if isinstance(function, ast.Attribute) and call.args:
        if (function.attr in ("get", "pop", "setdefault") and _is_environ(function.value)) or (
            function.attr == "getenv" and isinstance(function.value, ast.Name) and function.value.id == "os"
        ):
            yield from _named(call.args[0], constants, call.lineno)
            return
    # reader(environ, NAME, ...): the helpers of aperture.environment and every wrapper of them
    for index, argument in enumerate(call.args[:-1]):
        if _is_environ(argument):
            yield from _named(call.args[index + 1], constants, call.lineno)
            return


def _is_environ(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ENVIRON_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)


def _named(node: ast.AST, constants: dict[str, str], line: int):
    value = None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value
    elif isinstance(node, ast.Name):
        value = constants.get(node.id)
    if value and SETTING_NAME.match(value):
        yield value, line


def descriptions(path: Path = DESCRIPTIONS) -> dict:
    with path.open("rb") as file:
        return tomllib.load(file)


def problems(reads: dict[str, list[Read]], documented: dict) -> list[str]:
    """One line per setting read but not documented, or documented but not read."""
    settings = documented["settings"]
    found = []
    for name, places in reads.items():
        if name not in settings:
            found.append(
                f"{name} is read ({', '.join(read.where for read in places)}) but not documented: "
                f"add a [settings.{name}] table to docs/hooks/settings.toml with section (one of "
                f"{', '.join(repr(section) for section in documented['sections'])}), default and meaning"
            )
    for name in settings:
        if name not in reads:
            found.append(
                f"{name} is documented in docs/hooks/settings.toml but no code reads it: "
                f"remove its [settings.{name}] table, or read it through aperture/environment.py"
            )
    for name, entry in settings.items():
        if entry.get("section") not in documented["sections"]:
            found.append(
                f"[settings.{name}] in docs/hooks/settings.toml: section must be one of "
                f"{', '.join(documented['sections'])}, not {entry.get('section')!r}"
            )
    return found


def reference_markdown(reads: dict[str, list[Read]], documented: dict) -> str:
    """The settings page's tables: one per section, in the data file's order."""
    by_section = defaultdict(list)
    for name, entry in documented["settings"].items():
        by_section[entry["section"]].append(name)
    parts = []
    for section, introduction in documented["sections"].items():
        names = sorted(by_section.get(section, ()))
        if not names:
            continue
        parts += [f"## {section}", "", introduction.strip(), ""]
        parts += ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
        for name in names:
            entry = documented["settings"][name]
            readers = ", ".join(f"`{path}`" for path in sorted({read.path for read in reads.get(name, ())}))
            parts.append(
                f"| `{name}` | {_cell(entry.get('default', ''))} | {_cell(entry['meaning'])}"
                f"<br><small>read by {readers}</small> |"
            )
        parts.append("")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def on_page_markdown(markdown: str, page, config, files) -> str:
    """MkDocs hook: the settings page gets its tables; a mismatch fails the build."""
    if MARKER not in markdown:
        return markdown
    from mkdocs.exceptions import PluginError

    reads, documented = read_settings(), descriptions()
    found = problems(reads, documented)
    if found:
        raise PluginError("settings reference:\n" + "\n".join(found))
    return markdown.replace(MARKER, reference_markdown(reads, documented))
