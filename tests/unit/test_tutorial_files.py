"""The tutorial shows every file its tests use: each file of docs/tutorial/team-apps/ is included
in the page (MkDocs fails the build on an included file that does not exist)."""

import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial"
INCLUDED = re.compile(r'^--8<-- "([^"]+)"$', flags=re.MULTILINE)


def test_every_file_of_the_teams_folder_is_shown_in_the_tutorial():
    files = {
        path.relative_to(TUTORIAL).as_posix()
        for path in (TUTORIAL / "team-apps").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert set(INCLUDED.findall((TUTORIAL / "first-app.md").read_text())) == files
