"""Reading configuration from the environment, shared by the Bokeh and the Flask settings modules.

Every value has a default that works on a developer's machine, except secrets in production
mode (``APERTURE_ENV=production``): there a missing secret stops the process at startup. In
development a missing secret is generated once into the instance folder and read back by every
process, so the Flask site and the Bokeh server agree on it without any setup.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "production")
MIN_SECRET_LENGTH = 32

Environ = Mapping[str, str]


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and what it expects."""


def env_str(environ: Environ, name: str, default: str) -> str:
    value = environ.get(name, "").strip()
    return value or default


def env_int(environ: Environ, name: str, default: int, minimum: int = 0) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, not {text!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(environ: Environ, name: str, default: float, minimum: float = 0.0) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {text!r}") from None
    if not value >= minimum:  # also rejects nan
        raise ConfigurationError(f"{name} must be at least {minimum:g}, not {text}")
    return value


def env_bool(environ: Environ, name: str, default: bool) -> bool:
    text = environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {text!r}")


def env_list(environ: Environ, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma- or whitespace-separated list."""
    text = environ.get(name, "").replace(",", " ").split()
    return tuple(text) if text else default


def is_production(environ: Environ) -> bool:
    mode = env_str(environ, "APERTURE_ENV", "development").lower()
    if mode not in ENVIRONMENTS:
        raise ConfigurationError(f"APERTURE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")
    return mode == "production"


def instance_dir(environ: Environ) -> Path:
    """Where generated development secrets live (git-ignored); shared by both processes."""
    return Path(env_str(environ, "APERTURE_INSTANCE_DIR", str(PROJECT_ROOT / "instance")))


def resolve_secret(environ: Environ, name: str) -> str:
    """The secret in ``name``; in development, a generated one shared through the instance folder."""
    value = environ.get(name, "").strip()
    if value:
        if is_production(environ) and len(value) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"{name} must be at least {MIN_SECRET_LENGTH} characters in production")
        return value
    if is_production(environ):
        raise ConfigurationError(f"{name} must be set when APERTURE_ENV=production")
    return _development_secret(instance_dir(environ) / f"dev-{name.lower().replace('_', '-')}")


def _development_secret(path: Path) -> str:
    """Read the secret at ``path``, creating it atomically if no process has yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        # Created readable by its owner only: never a moment when others could read it.
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            # link() refuses to overwrite, so when two processes start at once exactly one
            # secret wins and both read the complete file.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text().strip()
    if not secret:
        raise ConfigurationError(f"development secret file {path} is empty; delete it to regenerate")
    return secret


def database_url(environ: Environ) -> str:
    """``DATABASE_URL`` as SQLAlchemy takes it; default: a SQLite file in the instance folder.

    The site keeps its accounts and logins there; the Bokeh processes read the logins from it too
    (``bkruntime.login_records``), so both sides must name the same database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = env_str(environ, "DATABASE_URL", "")
    if not url:
        return f"sqlite:///{instance_dir(environ).resolve() / 'aperture.db'}"
    # A plain postgresql:// means psycopg2 to SQLAlchemy; the project installs psycopg 3.
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme) :]
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigurationError("DATABASE_URL must be an SQLAlchemy URL like postgresql://user@host/db") from None
    return url
