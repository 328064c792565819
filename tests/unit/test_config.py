"""Settings of both sides, read from the environment."""

import pytest

from aperture.bokeh_servers import DEFAULT_ORIGINS
from aperture.environment import ConfigurationError, env_bool, env_float, env_int, env_list, resolve_secret
from bkruntime.settings import BokehServerSettings
from web.settings import load_settings


def dev_env(tmp_path, **values):
    return {"APERTURE_INSTANCE_DIR": str(tmp_path), **values}


def test_bokeh_defaults_work_locally(tmp_path):
    settings = BokehServerSettings.from_environ(dev_env(tmp_path))
    assert (settings.address, settings.port, settings.session_ids) == ("127.0.0.1", 5006, "signed")
    assert settings.allowed_origins == DEFAULT_ORIGINS
    assert not settings.production


def test_development_secret_is_generated_once_and_shared(tmp_path):
    first = resolve_secret(dev_env(tmp_path), "BOKEH_SECRET_KEY")
    second = BokehServerSettings.from_environ(dev_env(tmp_path)).secret_key
    third = load_settings(dev_env(tmp_path))["BOKEH_SECRET_KEY"]
    assert len(first) >= 32
    assert first == second == third
    assert (tmp_path / "dev-bokeh-secret-key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(ConfigurationError, match="BOKEH_SECRET_KEY must be set"):
        BokehServerSettings.from_environ(dev_env(tmp_path, APERTURE_ENV="production"))
    with pytest.raises(ConfigurationError, match="FLASK_SECRET_KEY must be set"):
        load_settings(dev_env(tmp_path, APERTURE_ENV="production", BOKEH_SECRET_KEY="k" * 40))
    assert not list(tmp_path.iterdir()), "production must not generate secrets"


def test_production_refuses_short_secrets(tmp_path):
    with pytest.raises(ConfigurationError, match="at least 32"):
        resolve_secret({"APERTURE_ENV": "production", "BOKEH_SECRET_KEY": "short"}, "BOKEH_SECRET_KEY")


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigurationError, match="APERTURE_ENV"):
        resolve_secret({"APERTURE_ENV": "prod"}, "BOKEH_SECRET_KEY")


@pytest.mark.parametrize("origins", ["*", "localhost:8000,*", "*.example.com"])
def test_wildcard_origins_are_refused(tmp_path, origins):
    with pytest.raises(ConfigurationError, match="wildcards"):
        BokehServerSettings.from_environ(dev_env(tmp_path, BOKEH_ALLOW_WEBSOCKET_ORIGIN=origins))


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("BOKEH_ALLOW_WEBSOCKET_ORIGIN", "http://localhost:8000", "without a scheme"),
        ("BOKEH_PREFIX", "apps", "must start with '/'"),
        ("BOKEH_SESSION_IDS", "unsigned", "BOKEH_SESSION_IDS"),
        ("BOKEH_PORT", "http", "must be an integer"),
        ("BOKEH_SERVER_LOG_LEVEL", "loud", "BOKEH_SERVER_LOG_LEVEL"),
    ],
)
def test_bad_bokeh_settings_name_the_variable(tmp_path, name, value, match):
    with pytest.raises(ConfigurationError, match=match):
        BokehServerSettings.from_environ(dev_env(tmp_path, **{name: value}))


def test_web_settings_keep_internal_and_public_urls_apart(tmp_path):
    settings = load_settings(
        dev_env(
            tmp_path,
            BOKEH_INTERNAL_URL="http://bokeh:5006/",
            BOKEH_PUBLIC_URL="https://apps.example.com",
            BOKEH_PROCESSES="1",
        )
    )
    assert settings["BOKEH_INTERNAL_URL"] == "http://bokeh:5006"
    assert settings["BOKEH_PUBLIC_URL"] == "https://apps.example.com"
    assert settings["BOKEH_PROCESS_PUBLIC_URLS"] == ("https://apps.example.com",)
    assert settings["BOKEH_PULL_TIMEOUT"] == 5.0
    assert settings["BOKEH_TOKEN_LIFETIME"] == 300


def test_each_bokeh_process_gets_its_own_url_on_both_sides(tmp_path):
    settings = load_settings(dev_env(tmp_path, BOKEH_PROCESSES="3"))
    assert settings["BOKEH_PROCESS_INTERNAL_URLS"] == (
        "http://127.0.0.1:5007",
        "http://127.0.0.1:5008",
        "http://127.0.0.1:5009",
    )
    assert settings["BOKEH_PROCESS_PUBLIC_URLS"][0] == "http://localhost:5007"
    based = load_settings(dev_env(tmp_path, BOKEH_PROCESSES="2", BOKEH_PROCESS_PORT_BASE="6100"))
    assert based["BOKEH_PROCESS_PUBLIC_URLS"] == ("http://localhost:6100", "http://localhost:6101")
    listed = load_settings(
        dev_env(
            tmp_path,
            BOKEH_PROCESSES="2",
            BOKEH_PUBLIC_URL="https://apps.example.com",
            BOKEH_PROCESS_PUBLIC_URLS="https://apps.example.com/p/0 https://apps.example.com/p/1",
        )
    )
    assert listed["BOKEH_PROCESS_PUBLIC_URLS"][1] == "https://apps.example.com/p/1"


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"BOKEH_PROCESSES": "2", "BOKEH_PUBLIC_URL": "https://apps.example.com"}, "must list each"),
        ({"BOKEH_PROCESSES": "2", "BOKEH_PROCESS_PUBLIC_URLS": "http://a:1"}, "lists 1 URL"),
        ({"BOKEH_PROCESSES": "0"}, "at least 1"),
        ({"BOKEH_TOKEN_LIFETIME": "1"}, "at least 5"),
    ],
)
def test_bad_process_settings_name_the_variable(tmp_path, values, match):
    with pytest.raises(ConfigurationError, match=match):
        load_settings(dev_env(tmp_path, **values))


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"BOKEH_PORT": "70000"}, "port from 1 to 65535"),
        ({"BOKEH_PROCESSES": "4", "BOKEH_PROCESS_PORT_BASE": "65534"}, "leaves no port"),
        ({"BOKEH_PROCESSES": "2", "BOKEH_PROCESS_PORT_BASE": "5005"}, "falls among the per-process ports"),
    ],
)
def test_bokeh_ports_are_checked(tmp_path, values, match):
    with pytest.raises(ConfigurationError, match=match):
        BokehServerSettings.from_environ(dev_env(tmp_path, **values))


def test_bokeh_runs_one_process_per_core_by_default(tmp_path):
    import os

    settings = BokehServerSettings.from_environ(dev_env(tmp_path))
    assert settings.processes == len(os.sched_getaffinity(0))
    assert [settings.process_port(index) for index in range(2)] == [5007, 5008]


@pytest.mark.parametrize("url", ["bokeh:5006", "ftp://bokeh", "http://", "http://bokeh:5006/?x=1"])
def test_web_settings_refuse_urls_that_are_not_http(tmp_path, url):
    with pytest.raises(ConfigurationError, match="BOKEH_INTERNAL_URL"):
        load_settings(dev_env(tmp_path, BOKEH_INTERNAL_URL=url))


def test_scalar_readers():
    env = {"I": "7", "F": "0.25", "B": "yes", "L": "a, b c"}
    assert env_int(env, "I", 1) == 7
    assert env_float(env, "F", 1.0) == 0.25
    assert env_bool(env, "B", False) is True
    assert env_list(env, "L", ()) == ("a", "b", "c")
    assert env_int(env, "MISSING", 3) == 3
    with pytest.raises(ConfigurationError, match="at least 1"):
        env_int({"I": "0"}, "I", 5, minimum=1)
    with pytest.raises(ConfigurationError, match="true or false"):
        env_bool({"B": "maybe"}, "B", False)
    with pytest.raises(ConfigurationError, match="at least"):
        env_float({"F": "nan"}, "F", 1.0)
