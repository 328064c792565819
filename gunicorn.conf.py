"""gunicorn settings for the Flask site (``gunicorn -c gunicorn.conf.py``), from the environment.

Threaded workers: a page with a live app waits on the Bokeh server for up to
BOKEH_PULL_TIMEOUT seconds, and threads keep other requests moving meanwhile.
"""

import os
import sys

from bkapps.config import ConfigurationError, env_int, env_str

try:
    # Resolve every setting in the master, so a bad or missing one stops startup with one clear
    # line instead of a traceback from each worker.
    from web.settings import load_settings

    site_settings = load_settings()
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
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = env_str(os.environ, "FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket defaults to one path per machine user, which two instances on one
# machine take from each other; nothing here uses it.
control_socket_disable = True
