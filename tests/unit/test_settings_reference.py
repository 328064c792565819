"""The settings reference is generated from the code that reads the settings: the two cannot drift."""

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOOK = PROJECT_ROOT / "docs" / "hooks" / "settings_reference.py"


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.spec_from_file_location("settings_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclass looks its module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_every_setting_read_is_documented_and_every_documented_one_is_read(reference):
    found = reference.problems(reference.read_settings(), reference.descriptions())
    assert not found, "\n".join(found)


def test_the_reference_lists_every_setting_with_where_it_is_read(reference):
    reads = reference.read_settings()
    page = reference.reference_markdown(reads, reference.descriptions())
    for name, places in reads.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"`{places[0].path}`" in row


def test_the_core_settings_are_found_where_they_are_read(reference):
    reads = reference.read_settings()
    assert "web/settings.py" in {read.path for read in reads["BOKEH_TOKEN_LIFETIME"]}
    assert "bkruntime/settings.py" in {read.path for read in reads["BOKEH_PORT"]}
    assert "gunicorn.conf.py" in {read.path for read in reads["WEB_WORKERS"]}
    assert "aperture/signing.py" in {read.path for read in reads["BOKEH_SECRET_KEY"]}  # through a constant
    assert "docker-compose.yml" in {read.path for read in reads["POSTGRES_PASSWORD"]}


@pytest.fixture
def project(tmp_path):
    """A small project tree reading settings in every way the scanner knows."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "settings.py").write_text(
        textwrap.dedent(
            """
            import os
            from aperture.environment import env_bool, env_int
            TIMEOUT_ENV = "SITE_TIMEOUT"

            def load(environ):
                return {
                    "mfa": env_bool(environ, "REQUIRE_MFA", False),
                    "days": env_int(environ, "AUDIT_RETENTION_DAYS", 90, minimum=1),
                    "timeout": environ.get(TIMEOUT_ENV, ""),
                    "home": os.environ["SITE_HOME"],
                    "lowercase": environ.get("not_a_setting"),
                }
            """
        )
    )
    (tmp_path / "docker-compose.yml").write_text("services:\n  web:\n    image: ${WEB_IMAGE:-web}\n")
    return tmp_path


def test_reads_are_found_in_every_form(reference, project):
    reads = reference.read_settings(project)
    assert list(reads) == ["AUDIT_RETENTION_DAYS", "REQUIRE_MFA", "SITE_HOME", "SITE_TIMEOUT", "WEB_IMAGE"]
    assert reads["REQUIRE_MFA"][0].where == "web/settings.py:8"


def test_an_undocumented_setting_is_named_with_where_to_describe_it(reference, project):
    documented = {
        "sections": {"The site": "Read by the site."},
        "settings": {
            name: {"section": "The site", "meaning": "..."}
            for name in ("AUDIT_RETENTION_DAYS", "SITE_HOME", "SITE_TIMEOUT", "WEB_IMAGE", "OLD_SETTING")
        },
    }
    found = reference.problems(reference.read_settings(project), documented)
    assert found == [
        "REQUIRE_MFA is read (web/settings.py:8) but not documented: add a [settings.REQUIRE_MFA] table to "
        "docs/hooks/settings.toml with section (one of 'The site'), default and meaning",
        "OLD_SETTING is documented in docs/hooks/settings.toml but no code reads it: remove its "
        "[settings.OLD_SETTING] table, or read it through aperture/environment.py",
    ]


def test_a_setting_in_an_unknown_section_is_named(reference, project):
    reads = {"REQUIRE_MFA": reference.read_settings(project)["REQUIRE_MFA"]}
    documented = {"sections": {"The site": ""}, "settings": {"REQUIRE_MFA": {"section": "Site", "meaning": "."}}}
    assert reference.problems(reads, documented) == [
        "[settings.REQUIRE_MFA] in docs/hooks/settings.toml: section must be one of The site, not 'Site'"
    ]
