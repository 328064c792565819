"""Share links: a signed-in visitor publishes the view of an app they see, anyone opens it.

``POST /s`` (from an app page, with its CSRF token) stores the app and its validated arguments
under an unguessable token (``secrets.token_urlsafe``, 256 bits); ``/s/<token>`` opens a live
session of that view for anyone, signed in or not, until its owner revokes it on ``/links``.
The session carries the arguments and the *viewer's* identity, never the owner's: a shared
view of a private app is published to everyone (as publishing did in the old Bokeh server),
but the owner's name and roles stay theirs.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField
from wtforms.validators import InputRequired, Length

from aperture.access import may_open
from aperture.catalog import CATALOG
from aperture.params import InvalidArgument
from web.accounts.access import current_visitor, visitor_payload
from web.accounts.audit import record
from web.database import db
from web.embedding.embed import bokeh_embed
from web.models import ShareLink, utcnow

bp = Blueprint("share_links", __name__)

TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class ShareForm(FlaskForm):
    app = HiddenField(validators=[InputRequired(), Length(max=64)])
    query = HiddenField(validators=[Length(max=2000)])


class RevokeForm(FlaskForm):
    """Nothing but the CSRF token: revoking is a POST another site must not be able to forge."""


def share_query(arguments: dict[str, object]) -> str:
    """The form value that carries a page's validated arguments to ``POST /s``."""
    return urlencode({name: str(value) for name, value in arguments.items()})


@bp.post("/s")
@login_required
def create():
    """Publish the view (app and arguments) the form names; then show the owner their links."""
    form = ShareForm()
    if not form.validate():
        abort(400, description="A share needs the app and its arguments.")
    spec = CATALOG.get(form.app.data)
    if spec is None:
        abort(404, description=f"There is no live app called “{form.app.data}”.")
    if not may_open(spec, current_visitor()):
        abort(403, description=f"“{spec.title}” is not open to your account.")
    arguments = spec.parse_arguments(parse_qs(form.query.data or "", keep_blank_values=True))
    link = ShareLink(token=secrets.token_urlsafe(TOKEN_BYTES), owner=current_user, app=spec.name)
    link.arguments = arguments
    db.session.add(link)
    db.session.commit()
    record("share_link_created", actor=current_user.name, subject=current_user.name, detail=_describe(link))
    address = url_for(".open_link", token=link.token, _external=True)
    flash(f"Anyone with this link now sees this view of {spec.title}: {address}")
    return redirect(url_for(".mine"))


@bp.get("/s/<token>")
def open_link(token: str):
    """A live session of the published view, for anyone with the link."""
    link = _link_or_404(token)
    spec = CATALOG.get(link.app)
    if spec is None:
        abort(410, description="The app of this share link no longer exists.")
    try:
        arguments = spec.parse_arguments({name: [value] for name, value in link.arguments.items()})
    except InvalidArgument:
        abort(410, description=f"{spec.title} no longer takes this link's arguments.")
    viewer = current_visitor()
    record("share_link_opened", actor=viewer.name if viewer else None, subject=link.owner.name, detail=_describe(link))
    title = f"{spec.title} — shared by {link.owner.name}"[: spec.option("title").max_length]
    live = bokeh_embed.token_embed(spec, arguments, options={"title": title}, user=visitor_payload())
    response = render_template("share_links/shared.html", live=live, arguments=arguments, link=link)
    # The token is the only key to this page: keep it out of Referer headers and caches.
    return response, 200, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.get("/links")
@login_required
def mine():
    """The signed-in visitor's share links, newest first, each with its revoke button."""
    return render_template("share_links/mine.html", links=current_user.share_links, catalog=CATALOG, form=RevokeForm())


@bp.post("/links/<int:link_id>/revoke")
@login_required
def revoke(link_id: int):
    """Stop a link of the visitor's from opening anything."""
    if not RevokeForm().validate():
        abort(400, description="The form was incomplete.")
    link = db.session.get(ShareLink, link_id)
    if link is None or link.owner_id != current_user.id:
        abort(404, description="You have no share link with that number.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        db.session.commit()
        record("share_link_revoked", actor=current_user.name, subject=current_user.name, detail=_describe(link))
        flash("The link is revoked: it no longer opens anything.")
    return redirect(url_for(".mine"))


def _describe(link: ShareLink) -> str:
    """A share link in the audit trail: its number and app, never its token (which opens it)."""
    return f"link {link.id} of {link.app}"


def _link_or_404(token: str) -> ShareLink:
    link = db.session.scalar(select(ShareLink).where(ShareLink.token == token)) if _TOKEN.match(token) else None
    if link is None:
        abort(404, description="There is no share link at this address.")
    if link.revoked:
        abort(410, description="Its owner revoked this share link.")
    return link
