"""The team's site: Aperture's own, plus the team's pages. gunicorn runs ``create_app()``."""

from flask import Blueprint, render_template

import web

pages = Blueprint("team", __name__, template_folder="templates")


@pages.route("/team/orders")
def orders():
    """The orders app on a page of the team's own."""
    return render_template("orders_page.html")


def create_app():
    app = web.create_app()
    app.register_blueprint(pages)
    return app
