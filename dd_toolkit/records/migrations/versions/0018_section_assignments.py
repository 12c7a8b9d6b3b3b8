"""section assignments: the member an admin gave each section of a draft to answer, with the
triggers that raise the organisation's revision on every write (as migration 0017 does for the
other tables of an organisation)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "section_assignment"
OWNER = "SELECT organisation_id FROM assessment WHERE id = {row}.assessment_id"
EVENTS = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}


def _raise(rows: tuple[str, ...]) -> str:
    owners = " OR ".join(f"id IN ({OWNER.format(row=row)})" for row in rows)
    return f"UPDATE organisation SET revision = revision + 1 WHERE {owners};"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessment.id"), nullable=False),
        sa.Column("section_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("assigned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("assessment_id", "section_id"),
    )
    op.create_index(op.f("ix_section_assignment_assessment_id"), TABLE, ["assessment_id"])
    op.create_index(op.f("ix_section_assignment_user_id"), TABLE, ["user_id"])
    if op.get_bind().dialect.name == "sqlite":
        for event, rows in EVENTS.items():
            op.execute(
                f"CREATE TRIGGER dd_revision_{TABLE}_{event} AFTER {event.upper()} ON {TABLE} BEGIN {_raise(rows)} END"
            )
        return
    op.execute(
        f"CREATE FUNCTION dd_revision_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF TG_OP = 'INSERT' THEN {_raise(('NEW',))}"
        f" ELSIF TG_OP = 'UPDATE' THEN {_raise(('OLD', 'NEW'))}"
        f" ELSE {_raise(('OLD',))}"
        " END IF; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE CONSTRAINT TRIGGER dd_revision_{TABLE} AFTER INSERT OR UPDATE OR DELETE ON {TABLE}"
        f" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dd_revision_{TABLE}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in EVENTS:
            op.execute(f"DROP TRIGGER dd_revision_{TABLE}_{event}")
    else:
        op.execute(f"DROP TRIGGER dd_revision_{TABLE} ON {TABLE}")
        op.execute(f"DROP FUNCTION dd_revision_{TABLE}()")
    op.drop_index(op.f("ix_section_assignment_user_id"), table_name=TABLE)
    op.drop_index(op.f("ix_section_assignment_assessment_id"), table_name=TABLE)
    op.drop_table(TABLE)
