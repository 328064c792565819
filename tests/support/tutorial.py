"""The tutorial's files and commands (``docs/tutorial/first-app.md``), for the tests that follow it.

The tutorial shows the files of ``docs/tutorial/team-apps/`` (included from there when the site
is built); the tests copy that folder whole and run the tutorial's commands on the copy, so the
tutorial and what works cannot drift apart.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from tests.support.servers import PROJECT_ROOT, procfile_commands

TUTORIAL_FILES = PROJECT_ROOT / "docs" / "tutorial" / "team-apps"


def team_apps_folder(parent: Path) -> Path:
    """Step 2: the team's folder, outside Aperture's checkout, holding the tutorial's files."""
    folder = parent / "team-apps"
    shutil.copytree(TUTORIAL_FILES, folder)
    return folder


def served_with(team_apps: Path) -> dict[str, str]:
    """Step 3's environment: ``TEAM_APPS``, and ``APERTURE_APPS="bkapps:$TEAM_APPS"``."""
    return {"TEAM_APPS": str(team_apps), "APERTURE_APPS": f"bkapps{os.pathsep}{team_apps}"}


def team_procfile_commands(team_apps: Path, scratch: Path) -> dict[str, list[str]]:
    """Step 4's commands: the team's Procfile, ``$TEAM_APPS`` expanded as the shell does under honcho."""
    text = (team_apps / "Procfile").read_text().replace('"$TEAM_APPS"', shlex.quote(str(team_apps)))
    expanded = scratch / "Procfile"
    expanded.write_text(text)
    return procfile_commands(expanded)
