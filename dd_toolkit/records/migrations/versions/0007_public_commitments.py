"""public commitments: an action item the team names in the public transparency text

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_tracking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_commitment", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("action_tracking", schema=None) as batch_op:
        batch_op.drop_column("public_commitment")
