"""action tracking: an index on the copy an action was carried forward from, so that finding an
action's newer copy (every due-action look-up asks whether one exists) is one index step, not a
read of every tracked action

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 16:50:00.000000
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_action_tracking_carried_from_id", "action_tracking", ["carried_from_id"])


def downgrade() -> None:
    op.drop_index("ix_action_tracking_carried_from_id", table_name="action_tracking")
