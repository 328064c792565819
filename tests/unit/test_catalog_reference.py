"""The catalog file reference names exactly the keys the catalog reader accepts."""

import re
from pathlib import Path

from aperture.catalog_file import _PARAM_COMMON, APP_KEYS, PARAM_KEYS

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "catalog.md"
# An entry's sub-tables are documented as [[apps.params]] and [[apps.options]].
TABLES = {"params": "[[apps.params]]", "options": "[[apps.options]]"}


def documented_keys() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", REFERENCE.read_text(), flags=re.MULTILINE))


def test_every_key_of_an_entry_is_documented_and_nothing_else():
    assert documented_keys() == {TABLES.get(key, key) for key in APP_KEYS}


def test_every_parameter_type_and_key_is_documented():
    row = next(line for line in REFERENCE.read_text().splitlines() if line.startswith("| `[[apps.params]]` |"))
    for key in {*_PARAM_COMMON, *PARAM_KEYS, *(key for keys in PARAM_KEYS.values() for key in keys)}:
        assert f"`{key}`" in row, key
