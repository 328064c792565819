"""The gallery: the site's front page, one card per live app."""

from flask import Blueprint, render_template

bp = Blueprint("gallery", __name__)


@bp.get("/")
def index():
    """List every app of the catalog with its page on this site and its standalone address."""
    return render_template("gallery.html")
