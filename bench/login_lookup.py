"""What a revocable login costs per request: the account found by its row id (the naive way, which
a deleted account's cookie could reuse) vs through its login session (``web.accounts.login_sessions``).

Builds the site on a fresh SQLite file with one account and one open login, then times N lookups
each way, with the ORM's identity map emptied before each (as a new request's session is).
Usage: ``python bench/login_lookup.py [lookups]`` (default 2000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import TEST_BOKEH_SECRET, TEST_FLASK_SECRET

os.environ.setdefault("BOKEH_SECRET_KEY", TEST_BOKEH_SECRET)
os.environ.setdefault("FLASK_SECRET_KEY", TEST_FLASK_SECRET)

from web import create_app, database
from web.accounts.login_sessions import open_login_session, user_of
from web.accounts.users import create_user
from web.database import db
from web.models import User


def timed(count: int, lookup) -> float:
    """Seconds per call of ``lookup``, each with an empty identity map."""
    started = time.perf_counter()
    for _ in range(count):
        db.session.expunge_all()
        assert lookup() is not None
    return (time.perf_counter() - started) / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    folder = tempfile.mkdtemp(prefix="aperture-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "TESTING": True})
    database.upgrade_schema(app)
    with app.test_request_context():
        user = create_user("bench", "a bench passphrase")
        user_id, token = user.id, open_login_session(user)
        results = {
            "row id (naive)": timed(count, lambda: db.session.get(User, user_id)),
            "login session": timed(count, lambda: user_of(token)),
        }
    print(f"{count} account lookups on SQLite, one open login")
    for name, seconds in results.items():
        print(f"{name:<16} {seconds * 1e6:8.0f} µs per lookup")
    print(f"ratio login session / row id: {results['login session'] / results['row id (naive)']:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
