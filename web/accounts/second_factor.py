"""A second factor for local accounts: TOTP codes (RFC 6238, ``pyotp``) and one-time recovery codes.

Enrolling keeps a new secret aside (``totp_pending_secret``) until a code made from it confirms
that the visitor's authenticator has it; only then does it become the account's
(``totp_secret``), with ``RECOVERY_CODE_COUNT`` new recovery codes, shown once and stored as
SHA-256 hashes. A code is taken within one 30-second step either side of now, and only for a
later step than the last one used (``totp_last_step``): a code seen over a shoulder or in a
proxy's log cannot be used again. Both checks claim what they use with one conditional UPDATE,
so two requests racing with the same code cannot both pass. Accounts of single sign-on have no
password here and leave the second factor to their provider.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets

import pyotp
import qrcode
import qrcode.image.svg
from flask import current_app
from sqlalchemy import delete, or_, update

from web.database import db
from web.models import RecoveryCode, User, utcnow

RECOVERY_CODE_COUNT = 10
# A step either side of now: a phone's clock a little off, or a code typed as it changed.
VALID_WINDOW = 1
_NOT_IN_CODE = re.compile(r"[\s-]+")


def may_enrol(user: User) -> bool:
    """Whether ``user`` can have a second factor here: local accounts only (with a password)."""
    return bool(user.password_hash)


def enrolment_required(user: User) -> bool:
    """Whether ``user`` must enrol before anything else: an admin without one under ``REQUIRE_MFA``."""
    return (
        bool(current_app.config.get("REQUIRE_MFA")) and user.is_admin and may_enrol(user) and not user.has_second_factor
    )


def pending_secret(user: User) -> str:
    """The secret being enrolled for ``user``: kept until confirmed, made when there is none."""
    if not user.totp_pending_secret:
        user.totp_pending_secret = pyotp.random_base32()
        db.session.commit()
    return user.totp_pending_secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.name, issuer_name=current_app.config["MFA_ISSUER_NAME"])


def qr_code_data_uri(text: str) -> str:
    """``text`` as a QR code, an SVG image in a ``data:`` URI (the site's CSP allows those for images)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (within ``VALID_WINDOW`` of now) whose code is ``code``, or None."""
    code = _NOT_IN_CODE.sub("", code or "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Make the pending secret ``user``'s if ``code`` comes from it; the new recovery codes, or None."""
    secret = user.totp_pending_secret
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_pending_secret = None
    user.totp_last_step = step
    return _new_recovery_codes(user)


def _new_recovery_codes(user: User) -> list[str]:
    """``RECOVERY_CODE_COUNT`` new recovery codes for ``user`` (older ones stop working)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_format(secrets.token_hex(5)) for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(code)) for code in codes)
    db.session.commit()
    return codes


def _format(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def _code_hash(code: str) -> str:
    """What the database keeps of a recovery code (40 random bits; the TOTP secret beside it is
    as much of a key, so no stretching)."""
    return hashlib.sha256(_NOT_IN_CODE.sub("", code).lower().encode()).hexdigest()


def check_totp_code(user: User, code: str) -> str:
    """``"ok"`` if ``code`` is ``user``'s current code, used now for the first time; ``"replayed"``
    for a right code already used (its step or a later one was); ``"wrong"`` otherwise."""
    step = _matching_step(user.totp_secret, code) if user.totp_secret else None
    if step is None:
        return "wrong"
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step),
        execution_options={"synchronize_session": "fetch"},
    )
    db.session.commit()
    return "ok" if claimed.rowcount == 1 else "replayed"


def use_recovery_code(user: User, code: str) -> bool:
    """Use up one of ``user``'s recovery codes; False if ``code`` is none of them or was used."""
    if not code or len(code) > 32:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return used.rowcount == 1


def recovery_codes_left(user: User) -> int:
    return sum(1 for code in user.recovery_codes if code.used_at is None)


def remove_second_factor(user: User) -> None:
    """Take ``user``'s second factor and recovery codes away (``users reset-mfa``, or its owner)."""
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.commit()
