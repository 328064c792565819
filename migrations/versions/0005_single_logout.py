"""Single logout with the provider: a login's provider session and ID token; logout tokens seen.

Revision ID: 0005
Revises: 0004

A login made by single sign-on keeps the provider's session id (``sid``, which its back-channel
logout tokens name) and the ID token (the ``id_token_hint`` of the logout sent to the provider).
``oidc_logout_tokens`` keeps the ``jti`` of each logout token taken, until it expires, so that
none is taken twice.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("oidc_sid", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("oidc_id_token", sa.Text(), nullable=True))
        batch.create_index("ix_login_sessions_oidc_sid", ["oidc_sid"], unique=False)
    op.create_table(
        "oidc_logout_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_logout_tokens"),
        sa.UniqueConstraint("jti", name="uq_oidc_logout_tokens_jti"),
    )


def downgrade():
    op.drop_table("oidc_logout_tokens")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index("ix_login_sessions_oidc_sid")
        batch.drop_column("oidc_id_token")
        batch.drop_column("oidc_sid")
