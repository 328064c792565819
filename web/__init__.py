"""The Flask site: pages, navigation and JSON around live Bokeh apps.

``create_app()`` builds it (gunicorn runs ``web:create_app()``). Settings come from the
environment through ``web.settings``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from aperture.catalog import CATALOG
from aperture.log_format import log_formatter
from web import database, errors, page_context, settings
from web.accounts import (
    account,
    audit,
    auth,
    backchannel_logout,
    login_second_step,
    password_resets,
    second_factor_views,
    single_sign_on,
    users_cli,
)
from web.embedding import bokehjs, templating
from web.embedding.embed import bokeh_embed
from web.operations import (
    admin,
    audit_view,
    content_security,
    health,
    metrics,
    origin_check,
    proxy_headers,
    request_log,
)
from web.pages import api, classic, dashboard, gallery, live_apps, share_links, standalone, wall, wave_match

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the site; ``config`` overrides settings read from the environment (tests)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(settings.load_settings())
    # The apps' catalog files: a bad entry stops the site here (CatalogError names the file and entry).
    CATALOG.load()
    if config:
        app.config.from_mapping(config)
    _configure_logging(app)
    proxy_headers.init_app(app)
    request_log.init_app(app)
    metrics.init_app(app)
    database.init_app(app)
    audit.init_app(app)
    auth.init_app(app)
    single_sign_on.init_app(app)
    second_factor_views.init_app(app)
    backchannel_logout.init_app(app)
    users_cli.init_app(app)
    bokeh_embed.init_app(app)
    content_security.init_app(app)
    origin_check.init_app(app)
    page_context.init_app(app)
    templating.init_app(app)
    blueprints = (
        errors.bp,
        gallery.bp,
        live_apps.bp,
        wave_match.bp,
        dashboard.bp,
        wall.bp,
        health.bp,
        classic.bp,
        api.bp,
        bokehjs.bp,
        auth.bp,
        single_sign_on.bp,
        backchannel_logout.bp,
        share_links.bp,
        admin.bp,
        audit_view.bp,
        account.bp,
        second_factor_views.bp,
        login_second_step.bp,
        password_resets.bp,
        standalone.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def _configure_logging(app: Flask) -> None:
    """Log the site's messages (``web.*`` loggers, Flask-Limiter's warnings) to stdout, for containers."""
    logger = logging.getLogger("web")
    if app.config["LOG_TO_STDOUT"] and not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(log_formatter(app.config["LOG_FORMAT"]))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Flask-Limiter says there when its storage (Redis) stops or starts answering again.
        limiter_logger = logging.getLogger("flask-limiter")
        limiter_logger.addHandler(handler)
        limiter_logger.setLevel(logging.WARNING)
