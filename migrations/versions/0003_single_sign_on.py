"""Single sign-on: accounts linked to an OpenID Connect provider's person, with no password.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# SQLite rebuilds the table for these changes: it must keep 0002's AUTOINCREMENT (ids never reused).
_KEEP_AUTOINCREMENT = {"table_kwargs": {"sqlite_autoincrement": True}}


def upgrade():
    with op.batch_alter_table("users", **_KEEP_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("oidc_issuer", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)
        batch.create_unique_constraint("uq_users_oidc_issuer", ["oidc_issuer", "oidc_subject"])


def downgrade():
    # Accounts without a password get one that no password matches (werkzeug refuses it).
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    with op.batch_alter_table("users", **_KEEP_AUTOINCREMENT) as batch:
        batch.drop_constraint("uq_users_oidc_issuer", type_="unique")
        batch.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
