"""answers carried over from an earlier cycle are marked until someone reviews them: the
``reviewed`` flag (every answer there is today counts as reviewed)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 06:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A column added in place (no table rebuild on SQLite), so the answer table keeps its triggers.
    op.add_column("answer", sa.Column("reviewed", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("answer", "reviewed")  # SQLite 3.35 and later drop a column in place
