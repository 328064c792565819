"""Catalog files: what they declare, and one clear error for each bad entry."""

import os
import textwrap

import pytest

from aperture.catalog import APPS_DIR, CATALOG, PAGE_OPTIONS, ConfiguredCatalog, apps_folders
from aperture.catalog_file import CatalogError, imports_kit, read_catalog_file, read_catalogs
from aperture.params import ChoiceParam, FloatParam, IntParam, TextParam
from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder

FULL_ENTRY = """
    [[apps]]
    name = "plain"
    title = "Plain"
    description = "Every key."
    source = "plain"
    bokehjs = ["widgets", "tables"]
    public = false
    roles = ["analyst"]
    sharing = "shared"
    kit = true

    [[apps.params]]
    name = "n"
    type = "int"
    default = 5
    minimum = 1
    maximum = 10
    help = "how many"

    [[apps.params]]
    name = "scale"
    type = "float"
    default = 1
    minimum = 0.5
    maximum = 2.5

    [[apps.params]]
    name = "colour"
    type = "choice"
    default = "red"
    choices = ["red", "blue"]

    [[apps.params]]
    name = "label"
    type = "text"
    max_length = 20

    [[apps.options]]
    name = "title"
    type = "text"
    max_length = 40
"""


def test_the_projects_own_apps_come_from_its_catalog_file():
    assert apps_folders({}) == (APPS_DIR,)
    own = read_catalogs([APPS_DIR])
    assert own.names == ["sliders", "iris", "press", "stream", "portfolio"]
    assert own.names == CATALOG.names[: len(own)]
    assert all(spec.folder == APPS_DIR and spec.kit for spec in own)
    assert CATALOG["iris"].param("bins") == IntParam("bins", default=10, minimum=3, maximum=50, help="number of bins")
    assert not CATALOG["portfolio"].public
    assert CATALOG["stream"].bokehjs == ("widgets", "tables")


def test_an_entry_with_every_key(tmp_path):
    [spec], _views = read_catalog_file(write_apps_folder(tmp_path, FULL_ENTRY) / "catalog.toml")
    assert spec.path == tmp_path / "plain"
    assert (spec.public, spec.roles, spec.sharing, spec.kit) == (False, ("analyst",), "shared", True)
    assert spec.bokehjs == ("widgets", "tables")
    assert spec.params == (
        IntParam("n", default=5, minimum=1, maximum=10, help="how many"),
        FloatParam("scale", default=1.0, minimum=0.5, maximum=2.5),
        ChoiceParam("colour", default="red", choices=("red", "blue")),
        TextParam("label", default="", max_length=20),
    )
    assert spec.options == (TextParam("title", default="", max_length=40),)


def test_defaults_of_a_minimal_entry(tmp_path):
    [spec], _views = read_catalog_file(write_apps_folder(tmp_path, PLAIN_ENTRY) / "catalog.toml")
    assert (spec.public, spec.roles, spec.sharing, spec.params) == (True, (), "per_visitor", ())
    assert spec.options == PAGE_OPTIONS
    assert spec.kit is False, "a plain Bokeh app does not import the kit"


def test_several_folders_in_order(tmp_path):
    first = write_apps_folder(tmp_path / "first", PLAIN_ENTRY)
    second = write_apps_folder(
        tmp_path / "second",
        entry(name='"single"', source='"single.py"'),
        {"single.py": "from bkruntime.kit.app_session import build_app\n"},
    )
    environ = {"APERTURE_APPS": os.pathsep.join([str(first), str(second), str(first)])}
    assert apps_folders(environ) == (first, second)
    catalog = ConfiguredCatalog(environ)
    assert catalog.names == ["plain", "single"]
    assert catalog["single"].path == second / "single.py"
    assert catalog["single"].kit, "derived from its import of the kit"


def test_the_kit_is_found_however_it_is_imported(tmp_path):
    for number, line in enumerate(
        [
            "import bkruntime.kit.app_session",
            "from bkruntime.kit import app_session",
            "from bkruntime.kit.app_session import build_app",
        ]
    ):
        (tmp_path / f"app{number}.py").write_text(f"{line}\n")
        assert imports_kit(tmp_path / f"app{number}.py"), line
    (tmp_path / "plain.py").write_text("from bokeh.io import curdoc\nimport aperture.catalog\n")
    assert not imports_kit(tmp_path / "plain.py")


def entry(**changes: str) -> str:
    """The plain app's entry with keys replaced (a value of None drops the key), as TOML."""
    lines = []
    for line in textwrap.dedent(PLAIN_ENTRY).strip().splitlines():
        key = line.split("=")[0].strip()
        if key in changes:
            if changes[key] is not None:
                lines.append(f"{key} = {changes.pop(key)}")
            else:
                changes.pop(key)
        else:
            lines.append(line)
    lines += [f"{key} = {value}" for key, value in changes.items()]
    return "\n".join(lines) + "\n"


PARAM = '\n[[apps.params]]\nname = "n"\ntype = "int"\ndefault = 5\nminimum = 1\nmaximum = 10\n'

# (catalog file text, files beside it, the message after "<file>, ")
BAD_ENTRIES = {
    "unknown key": (entry(titel='"Plain"'), PLAIN_APP, "app \"plain\": unknown key 'titel' (allowed: name, title, "),
    "wrong type": (entry(public='"no"'), PLAIN_APP, "app \"plain\": 'public' must be true or false, not a string"),
    "number for a string": (entry(title="3"), PLAIN_APP, "app \"plain\": 'title' must be a string, not an integer"),
    "missing key": (entry(title=None), PLAIN_APP, "app \"plain\": 'title' is missing"),
    "name Bokeh would not serve": (
        entry(name='"bk-plain"'),
        PLAIN_APP,
        "app \"bk-plain\": the name must be 'plain', the name of its source 'plain': Bokeh serves the app at "
        "/plain, so pages asking for /bk-plain would never load it",
    ),
    "file name": (
        entry(name='"press-me"', source='"press_me.py"'),
        {"press_me.py": ""},
        "app \"press-me\": the name must be 'press_me'",
    ),
    "missing source": (entry(source='"gone"'), {}, "app \"plain\": source 'gone' does not exist in "),
    "folder without main.py": (
        entry(),
        {"plain/data.py": ""},
        "app \"plain\": source 'plain' is a folder without main.py",
    ),
    "source outside the folder": (
        entry(source='"../plain"'),
        PLAIN_APP,
        "app \"plain\": source '../plain' must be a file or folder beside the catalog file",
    ),
    "not an app file": (
        entry(name='"notes"', source='"notes.txt"'),
        {"notes.txt": ""},
        "app \"notes\": source 'notes.txt' must be a .py or .ipynb file or an app folder",
    ),
    "twice in one file": (
        entry() + entry(),
        PLAIN_APP,
        'app "plain": the name is declared twice (earlier in this file)',
    ),
    "name not URL-safe": (
        entry(name='"Plain App"', source='"Plain App"'),
        {"Plain App/main.py": ""},
        "app \"Plain App\": app name 'Plain App' must match ",
    ),
    "unknown bundle": (
        entry(bokehjs='["widgets", "maps"]'),
        PLAIN_APP,
        "app \"plain\": app 'plain' asks for unknown BokehJS bundles ['maps']",
    ),
    "roles on a public app": (
        entry(roles='["analyst"]'),
        PLAIN_APP,
        "app \"plain\": app 'plain' is public: roles would restrict nobody",
    ),
    "unknown sharing": (
        entry(sharing='"everyone"'),
        PLAIN_APP,
        "app \"plain\": app 'plain': sharing must be one of per_visitor, shared",
    ),
    "parameter type": (
        entry() + PARAM.replace('"int"', '"integer"'),
        PLAIN_APP,
        "app \"plain\": params[n].'type' must be one of int, float, choice, text, not 'integer'",
    ),
    "parameter key": (
        entry() + PARAM + "min = 1\n",
        PLAIN_APP,
        "app \"plain\": unknown key params[n].'min' (allowed: name, type, help, default, minimum, maximum)",
    ),
    "parameter bound type": (
        entry() + PARAM.replace("maximum = 10", 'maximum = "10"'),
        PLAIN_APP,
        "app \"plain\": params[n].'maximum' must be an integer, not a string",
    ),
    "default out of bounds": (
        entry() + PARAM.replace("default = 5", "default = 50"),
        PLAIN_APP,
        "app \"plain\": params[n].'default' 50 must be an integer from 1 to 10, not 50",
    ),
    "choice default": (
        entry() + '\n[[apps.params]]\nname = "c"\ntype = "choice"\ndefault = "x"\nchoices = ["a", "b"]\n',
        PLAIN_APP,
        "app \"plain\": params[c]: default 'x' of 'c' is not one of its choices",
    ),
    "parameter twice": (
        entry() + PARAM + PARAM,
        PLAIN_APP,
        "app \"plain\": params declares 'n' twice",
    ),
    "entry without a name": (
        entry(name=None),
        PLAIN_APP,
        "app entry 1: 'name' is missing",
    ),
    "top-level key": ('title = "mine"\n' + entry(), PLAIN_APP, "unknown key 'title' (a catalog file holds [[apps]]"),
    "not TOML": ("[[apps]\nname = ", PLAIN_APP, "not valid TOML: "),
}


@pytest.mark.parametrize("case", BAD_ENTRIES)
def test_each_bad_entry_is_one_error_naming_the_file_and_the_entry(tmp_path, case):
    text, files, message = BAD_ENTRIES[case]
    folder = write_apps_folder(tmp_path / "apps", text, files)
    with pytest.raises(CatalogError) as raised:
        ConfiguredCatalog({"APERTURE_APPS": str(folder)}).load()
    assert str(raised.value).startswith(f"{folder / 'catalog.toml'}, {message}") or str(raised.value).startswith(
        f"{folder / 'catalog.toml'}: {message}"
    ), str(raised.value)
    assert "\n" not in str(raised.value)


def test_one_name_in_two_folders(tmp_path):
    first = write_apps_folder(tmp_path / "first", PLAIN_ENTRY)
    second = write_apps_folder(tmp_path / "second", PLAIN_ENTRY)
    with pytest.raises(CatalogError) as raised:
        read_catalogs([first, second])
    assert str(raised.value) == (
        f'{second / "catalog.toml"}, app "plain": the name is declared twice (also in {first / "catalog.toml"})'
    )


def test_an_app_of_the_projects_own_name_in_another_folder(tmp_path):
    folder = write_apps_folder(tmp_path, entry(name='"sliders"', source='"sliders"'), {"sliders/main.py": ""})
    with pytest.raises(CatalogError, match=r"also in .*bkapps/catalog\.toml"):
        read_catalogs([APPS_DIR, folder])


def test_a_folder_without_a_catalog_file_or_no_folder_at_all(tmp_path):
    with pytest.raises(CatalogError, match=r"catalog\.toml: no such file: each apps folder needs a catalog file"):
        read_catalogs([tmp_path])
    with pytest.raises(CatalogError, match=r"missing/catalog.toml: no such apps folder \(APERTURE_APPS\)"):
        read_catalogs([tmp_path / "missing"])


def test_a_catalog_without_apps(tmp_path):
    write_apps_folder(tmp_path, "# nothing yet\n", {})
    with pytest.raises(CatalogError, match="no app declared in"):
        read_catalogs([tmp_path])


def test_the_site_refuses_to_start_on_a_bad_catalog(tmp_path, monkeypatch):
    import web

    folder = write_apps_folder(tmp_path, entry(source='"gone"'), {})
    monkeypatch.setattr(web, "CATALOG", ConfiguredCatalog({"APERTURE_APPS": str(folder)}))
    with pytest.raises(CatalogError, match=r'catalog.toml, app "plain": source \'gone\' does not exist'):
        web.create_app({"TESTING": True})
