"""gunicorn settings for the Flask site (``gunicorn -c gunicorn.conf.py``), from the environment.

Threaded workers: a page with a live app waits on the Bokeh server for up to
BOKEH_PULL_TIMEOUT seconds, and threads keep other requests moving meanwhile.
"""

import os
import shutil
import sys
import tempfile

# The workers' Prometheus metrics meet in files in one directory that the site's /metrics adds
# up (prometheus_client's multiprocess mode). prometheus_client reads this variable when `web`
# imports it, below, and the directory must start empty: each start of the site makes its own,
# removed at exit (on_exit).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aperture-metrics-")

from aperture.environment import ConfigurationError, env_int, env_str

try:
    # Resolve every setting in the master, so a bad or missing one stops startup with one clear
    # line instead of a traceback from each worker.
    from aperture.catalog import CATALOG
    from web.operations.metrics import mark_worker_dead
    from web.operations.request_log import gunicorn_log_config
    from web.settings import load_settings

    site_settings = load_settings()
    # The apps' catalog files too: a bad entry names its file and entry here, once.
    CATALOG.load()
    bind = [env_str(os.environ, "WEB_BIND", "127.0.0.1:8000")]
    workers = env_int(os.environ, "WEB_WORKERS", 2, minimum=1)
    threads = env_int(os.environ, "WEB_THREADS", 4, minimum=1)
except ConfigurationError as error:
    sys.exit(f"web: {error}")

try:
    # Development: apply the database migrations once, here in the master, before any worker
    # starts (DATABASE_AUTO_UPGRADE); production runs `flask --app web db upgrade` instead.
    from sqlalchemy.exc import SQLAlchemyError

    from web.database import prepare_database

    prepare_database(site_settings)
except SQLAlchemyError as error:
    sys.exit(f"web: cannot prepare the database: {error}")

wsgi_app = "web:create_app()"
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
# No access log: the site logs one line per request itself, with what the page embedded and how
# it ended, in LOG_FORMAT (web.operations.request_log).
accesslog = None
errorlog = "-"
forwarded_allow_ips = env_str(os.environ, "FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's own lines in LOG_FORMAT too (nothing to change for plain text).
logconfig_dict = gunicorn_log_config(site_settings["LOG_FORMAT"])

# gunicorn's control socket defaults to one path per machine user, which two instances on one
# machine take from each other; nothing here uses it.
control_socket_disable = True


def child_exit(server, worker):
    mark_worker_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
