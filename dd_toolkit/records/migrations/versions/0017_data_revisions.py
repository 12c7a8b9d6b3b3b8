"""data revisions: every organisation carries a revision, raised by the database in the same
transaction as any write to a row that belongs to it, and one shared revision is raised by any
write to the stored aggregates and releases; a page kept whole is kept under them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# How a row of each table names the organisations it belongs to, as a query on the row (ROW is
# NEW or OLD). Triggers, not the application, raise the revisions, so no write path can miss
# one: the ORM's flushes, Core statements, the command line, a restore.
VIA_ASSESSMENT = "SELECT organisation_id FROM assessment WHERE id = ROW.assessment_id"
VIA_SUBMISSION = (
    "SELECT a.organisation_id FROM submission s JOIN assessment a ON a.id = s.assessment_id"
    " WHERE s.id = ROW.submission_id"
)
VIA_RECIPIENT = (
    "SELECT a.organisation_id FROM recipient r JOIN submission s ON s.id = r.submission_id"
    " JOIN assessment a ON a.id = s.assessment_id WHERE r.id = ROW.recipient_id"
)
VIA_USER = "SELECT organisation_id FROM membership WHERE user_id = ROW.user_id"
OWNERS = {
    "membership": "SELECT ROW.organisation_id",
    "assessment": "SELECT ROW.organisation_id",
    "audit_event": "SELECT ROW.organisation_id",
    "submission_record": "SELECT ROW.organisation_id",
    "answer": VIA_ASSESSMENT,
    "answer_history": VIA_ASSESSMENT,
    "submission": VIA_ASSESSMENT,
    "action_tracking": VIA_ASSESSMENT,
    "transparency_edit": VIA_ASSESSMENT,
    "risk_register": VIA_ASSESSMENT,
    "risk_cell": VIA_ASSESSMENT,
    "risk_cell_history": VIA_ASSESSMENT,
    "recipient": VIA_SUBMISSION,
    "indicator_outcome": VIA_SUBMISSION,
    "review_event": VIA_RECIPIENT,
    # An account's name, role or language shows on its organisations' pages.
    "user_account": "SELECT organisation_id FROM membership WHERE user_id = ROW.id",
    "notification": VIA_USER,
    "api_token": VIA_USER,
    "regulator_grant": VIA_USER,
}
SHARED = ("aggregate", "release", "verification_run")
# Rows of an organisation that also change what is shared: a submission record adds a cycle to
# the regulators' reports; a recipient's status shows in its regulators' inboxes; an account of
# no organisation (a regulator, the working group) is named on the review pages of the
# organisations it reviewed.
ALSO_SHARED = {
    "submission_record": "",
    "recipient": "",
    "user_account": " WHERE NOT EXISTS (SELECT 1 FROM membership WHERE user_id = ROW.id)",
}
EVENTS = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}
RAISE_SHARED = "UPDATE shared_revision SET revision = revision + 1"


def _raise(table: str, rows: tuple[str, ...]) -> str:
    """The statements that raise the revisions a write of ``rows`` of ``table`` changes."""
    owners = " OR ".join(f"id IN ({OWNERS[table].replace('ROW.', row + '.')})" for row in rows)
    statements = f"UPDATE organisation SET revision = revision + 1 WHERE {owners};"
    if table in ALSO_SHARED:
        statements += f" {RAISE_SHARED}{ALSO_SHARED[table].replace('ROW.', rows[-1] + '.')};"
    return statements


def _sqlite_triggers() -> list[str]:
    statements = [
        # An organisation's own columns: raised unless the statement raised it already.
        "CREATE TRIGGER dd_revision_organisation AFTER UPDATE ON organisation"
        " WHEN NEW.revision = OLD.revision"
        " BEGIN UPDATE organisation SET revision = OLD.revision + 1 WHERE id = NEW.id; END"
    ]
    for table in OWNERS:
        for event, rows in EVENTS.items():
            statements.append(
                f"CREATE TRIGGER dd_revision_{table}_{event} AFTER {event.upper()} ON {table}"
                f" BEGIN {_raise(table, rows)} END"
            )
    for table in SHARED:
        for event in EVENTS:
            statements.append(
                f"CREATE TRIGGER dd_revision_{table}_{event} AFTER {event.upper()} ON {table} BEGIN {RAISE_SHARED}; END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        "CREATE FUNCTION dd_revision_organisation() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.revision = OLD.revision THEN NEW.revision := OLD.revision + 1; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER dd_revision_organisation BEFORE UPDATE ON organisation"
        " FOR EACH ROW EXECUTE FUNCTION dd_revision_organisation()",
        "CREATE FUNCTION dd_revision_shared() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {RAISE_SHARED}; RETURN NULL; END $$",
    ]
    for table in OWNERS:
        statements.append(
            f"CREATE FUNCTION dd_revision_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF TG_OP = 'INSERT' THEN {_raise(table, ('NEW',))}"
            f" ELSIF TG_OP = 'UPDATE' THEN {_raise(table, ('OLD', 'NEW'))}"
            f" ELSE {_raise(table, ('OLD',))}"
            " END IF; RETURN NULL; END $$"
        )
    # Deferred to the commit: the organisation's row is locked only for the commit's last
    # moment, so two saves in one organisation wait for each other there, never deadlock.
    for table in OWNERS:
        statements.append(
            f"CREATE CONSTRAINT TRIGGER dd_revision_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dd_revision_{table}()"
        )
    for table in SHARED:
        statements.append(
            f"CREATE CONSTRAINT TRIGGER dd_revision_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dd_revision_shared()"
        )
    return statements


def upgrade() -> None:
    op.add_column("organisation", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "shared_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute("INSERT INTO shared_revision (id, revision) VALUES (1, 0)")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER dd_revision_organisation")
        for table in (*OWNERS, *SHARED):
            for event in EVENTS:
                op.execute(f"DROP TRIGGER dd_revision_{table}_{event}")
    else:
        op.execute("DROP TRIGGER dd_revision_organisation ON organisation")
        op.execute("DROP FUNCTION dd_revision_organisation()")
        for table in (*OWNERS, *SHARED):
            op.execute(f"DROP TRIGGER dd_revision_{table} ON {table}")
        for table in OWNERS:
            op.execute(f"DROP FUNCTION dd_revision_{table}()")
        op.execute("DROP FUNCTION dd_revision_shared()")
    op.drop_table("shared_revision")
    op.drop_column("organisation", "revision")  # SQLite 3.35 and later drop a column in place
