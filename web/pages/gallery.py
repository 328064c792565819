"""The gallery: the site's front page, one card per live app (and the icon browsers ask the root for)."""

from flask import Blueprint, redirect, render_template, url_for

bp = Blueprint("gallery", __name__)


@bp.get("/")
def index():
    """List every app of the catalog with its page on this site and its standalone address."""
    return render_template("gallery.html")


@bp.get("/favicon.ico")
def favicon():
    """Pages without a link to the icon (JSON answers, say): browsers ask here, and a 404 would
    be an error in their console."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
