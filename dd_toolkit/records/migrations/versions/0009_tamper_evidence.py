"""tamper evidence: the audit log as a hash chain with its head, answer history, the frozen
transparency text of a submission, a submission's verified status, and verification runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:00:00.000000

Existing audit events are chained in id order, and every existing answer gets one history row
(its current state), so a database upgraded from 0008 passes ``dd-toolkit verify``.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dd_toolkit.records.audit import GENESIS, answer_state, event_hash

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transparency", sa.Text(), nullable=True))
    with op.batch_alter_table("submission_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intact", sa.Boolean(), nullable=False, server_default=sa.true()))

    op.create_table(
        "answer_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("answer_version", sa.Integer(), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["changed_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_answer_history_answer", "answer_history", ["assessment_id", "question_id", "id"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "verification_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.Column("checked", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    bind = op.get_bind()
    # The transparency text a submission was made with: the edit saved before it, if any.
    op.execute(
        "UPDATE submission SET transparency = (SELECT markdown FROM transparency_edit"
        " WHERE transparency_edit.assessment_id = submission.assessment_id"
        " AND transparency_edit.updated_at <= submission.submitted_at)"
    )
    _chain_existing_events(bind)
    _history_of_existing_answers(bind)


def _chain_existing_events(bind) -> None:
    events = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
        sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("user_id", sa.Integer()),
        sa.column("organisation_id", sa.Integer()),
        sa.column("action", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    prev, count, last_id = GENESIS, 0, 0
    while True:
        rows = (
            bind.execute(sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(BATCH))
            .mappings()
            .all()
        )
        if not rows:
            break
        updates = []
        for row in rows:
            row_hash = event_hash(dict(row), prev)
            updates.append({"b_id": row["id"], "b_prev": prev, "b_hash": row_hash})
            prev, count, last_id = row_hash, count + 1, row["id"]
        bind.execute(
            sa.update(events)
            .where(events.c.id == sa.bindparam("b_id"))
            .values(prev_hash=sa.bindparam("b_prev"), row_hash=sa.bindparam("b_hash")),
            updates,
        )
    head = sa.table("audit_chain_head", sa.column("id"), sa.column("count"), sa.column("last_hash"))
    bind.execute(sa.insert(head).values(id=1, count=count, last_hash=prev))


def _history_of_existing_answers(bind) -> None:
    answers = sa.table(
        "answer",
        sa.column("id", sa.Integer()),
        sa.column("assessment_id", sa.Integer()),
        sa.column("question_id", sa.String()),
        sa.column("value", sa.JSON()),
        sa.column("not_applicable", sa.Boolean()),
        sa.column("justification", sa.String()),
        sa.column("comment", sa.String()),
        sa.column("evidence", sa.JSON()),
        sa.column("meta", sa.JSON()),
        sa.column("version", sa.Integer()),
        sa.column("updated_by_id", sa.Integer()),
        sa.column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    history = sa.table(
        "answer_history",
        sa.column("assessment_id", sa.Integer()),
        sa.column("question_id", sa.String()),
        sa.column("answer_version", sa.Integer()),
        sa.column("old", sa.JSON()),
        sa.column("new", sa.JSON()),
        sa.column("changed_by_id", sa.Integer()),
        sa.column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    last_id = 0
    while True:
        rows = (
            bind.execute(sa.select(answers).where(answers.c.id > last_id).order_by(answers.c.id).limit(BATCH))
            .mappings()
            .all()
        )
        if not rows:
            break
        bind.execute(
            sa.insert(history),
            [
                {
                    "assessment_id": row["assessment_id"],
                    "question_id": row["question_id"],
                    "answer_version": row["version"],
                    "old": None,
                    "new": answer_state(dict(row)),
                    "changed_by_id": row["updated_by_id"],
                    "changed_at": row["updated_at"],
                }
                for row in rows
            ],
        )
        last_id = rows[-1]["id"]


def downgrade() -> None:
    op.drop_table("verification_run")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_answer_history_answer", table_name="answer_history")
    op.drop_table("answer_history")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of "submission" would drop a
    # table that others reference, which SQLite's foreign keys refuse once there are rows.
    for table, column in (
        ("submission_record", "intact"),
        ("submission", "transparency"),
        ("audit_event", "row_hash"),
        ("audit_event", "prev_hash"),
    ):
        op.drop_column(table, column)
