"""The ``dd-toolkit`` command: content checks, database set-up, demo data, serving, and
moving assessments in and out as portable JSON files."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from sqlmodel import select

from dd_toolkit.engine.content import ContentError, load_bank


def _app(ctx: click.Context):
    from dd_toolkit.web import create_app

    if "app" not in ctx.obj:
        overrides = {"FREEZE_STARTUP_OBJECTS": False}  # a command is short-lived: nothing to gain
        if ctx.obj.get("content"):
            overrides["CONTENT_DIR"] = ctx.obj["content"]
        try:
            ctx.obj["app"] = create_app(overrides)
        except ContentError as exc:
            raise click.ClickException(f"the content has problems:\n{exc}") from None
    return ctx.obj["app"]


INIT_DB_FIRST = "the database is not initialised or not at the latest schema: run dd-toolkit init-db first"


def _require_schema(app) -> None:
    """Every command that reads or writes the database stops here, with one message and a
    non-zero exit, on a database that has no tables (or no ``alembic_version``) or an older
    schema, rather than failing later with a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from dd_toolkit.records.database import schema_is_current

    try:
        current = schema_is_current(app.extensions["dd_engine"])
    except SQLAlchemyError as exc:  # no schema is read here: the database cannot be reached
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot connect to the database ({reason}); check DATABASE_URL") from None
    if not current:
        raise click.ClickException(INIT_DB_FIRST)


def _session(ctx: click.Context, *, schema: bool = True):
    """The app and a session on its database, checked to be at the latest schema (``init-db``,
    which creates it, passes ``schema=False``)."""
    from dd_toolkit.records import database as db

    app = _app(ctx)
    if schema:
        _require_schema(app)
    return app, db.standalone_session(app.extensions["dd_engine"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--content",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DD_CONTENT_DIR",
    help="Folder holding questionnaires/, scoring/ and reports/ (default: the bundled content).",
)
@click.pass_context
def main(ctx: click.Context, content: Path | None) -> None:
    """Child-rights due diligence and Safety by Design assessment toolkit."""
    ctx.ensure_object(dict)
    ctx.obj["content"] = str(content) if content else None


@main.command("validate-content")
@click.pass_context
def validate_content(ctx: click.Context) -> None:
    """Check every content folder; exit non-zero on any problem."""
    from dd_toolkit.engine.content.catalogues import completeness
    from dd_toolkit.engine.content.languages import load_languages
    from dd_toolkit.engine.registry import load_content

    root = _content_root(ctx)
    try:
        content = load_content(root, os.environ.get("DD_METHODOLOGY") or "standard")
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) in {root}", err=True)
        sys.exit(1)
    bank = content.bank
    scored = sum(1 for q in bank.questions.values() if q.is_scored)
    for module in bank.questionnaires:
        count = len(module.questions())
        click.echo(f"{module.id} {module.version}: {len(module.sections)} sections, {count} questions")
    for key in sorted(content.methodologies):
        click.echo(f"scoring {key}")
    problems = _check_transparency_content(root, bank)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(problems)} problem(s) in {root}", err=True)
        sys.exit(1)
    try:
        languages = load_languages(root / "questionnaires")
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for share in completeness(root, bank, languages):
        status = languages[share.language]
        review = f"reviewed by {status.reviewed_by}, {status.reviewed_on}" if not status.draft else "draft"
        changed = f", {len(share.fuzzy)} to look at again (the English changed)" if share.fuzzy else ""
        click.echo(
            f"language {share.language} ({status.name}): {share.translated} of {share.total} texts "
            f"translated ({share.share:.0%}){changed}, {review}; the rest is shown in English, marked as such"
        )
    _report_reference_cards(root, bank)
    click.echo(
        f"ok: {len(bank.questions)} questions ({scored} scored), "
        f"{len(content.methodologies)} scoring methodologies in {root}"
    )


def _report_reference_cards(root: Path, bank) -> None:
    """Report the national reference cards (questionnaires/_reference_cards.yaml); exit non-zero
    on a broken file."""
    from dd_toolkit.engine.content.reference_cards import ReferenceCardsError, load_reference_cards

    taxonomy = bank.taxonomy
    try:
        cards = load_reference_cards(
            root / "questionnaires", taxonomy.ids("countries"), taxonomy.asean_countries, bank.questions
        )
    except ReferenceCardsError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) in the reference cards", err=True)
        sys.exit(1)
    if not cards.cards:
        click.echo("reference cards: none")
        return
    sourced, to_verify = cards.counts()
    click.echo(
        f"reference cards: {len(cards.cards)} countries, {sourced} fields sourced, {to_verify} to verify, "
        f"shown beside {len(cards.questions)} questions"
    )


def _check_transparency_content(root: Path, bank) -> list[str]:
    """Check the public statements and the metric checks of the transparency draft against the
    bank. A custom content folder without its own file uses the bundled one, which was written
    for the bundled bank: that file is reported as used, not checked."""
    from dd_toolkit.engine import transparency as tr

    problems: list[str] = []
    for name, load, what in (
        (tr.STATEMENTS_FILE, tr.load_statements, "transparency statements"),
        (tr.CHECKS_FILE, tr.load_metric_checks, "metric checks"),
    ):
        if tr.own_content_file(root, name) is None:
            click.echo(f"{what}: {root / 'reports'} has no {name}; the bundled {what} are used (not checked)")
            continue
        try:
            loaded = load(root)
        except tr.StatementsError as exc:
            problems.append(str(exc))
            continue
        if name == tr.STATEMENTS_FILE:
            found = tr.check_statements(bank, loaded)
            click.echo(f"{what}: {len(loaded.statements)} questions, {len(loaded.metric_labels)} metric labels")
        else:
            found = tr.check_metric_checks(bank, loaded)
            click.echo(f"{what}: {len(loaded)} checks")
        problems += [f"reports/{name}: {problem}" for problem in found]
    return problems


@main.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from dd_toolkit.records.aggregates import refresh_all
    from dd_toolkit.records.database import upgrade

    app, session = _session(ctx, schema=False)
    upgrade(app.config["DATABASE_URL"])
    content = app.extensions["dd_content"]
    # Figures stored by an older version (or none, right after a migration) are recomputed.
    with session as db:
        refresh_all(db, content.bank, content.current_methodology)
    click.echo("database is at the latest schema")


def _loading_progress(started: float):
    """Say on standard error, at each tenth, how far the loading of generated companies is (10,000
    take minutes), and that the stored figures are being refreshed after the last."""
    said = 0  # the last tenth reported

    def on_stored(stored: int, total: int) -> None:
        nonlocal said
        tenth = stored * 10 // total
        if tenth > said or stored == total:
            said = tenth
            click.echo(f"stored {stored:,} of {total:,} companies ({time.perf_counter() - started:.0f} s)", err=True)
        if stored == total:
            click.echo("refreshing the stored benchmark and indicator reports", err=True)

    return on_stored


@main.command("load-demo")
@click.option(
    "--companies",
    type=click.IntRange(min=0),
    default=0,
    help="Also add this many generated companies, each with two submitted assessments.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated companies.")
@click.pass_context
def load_demo_command(ctx: click.Context, companies: int, seed: int) -> None:
    """Load the demo companies and accounts (once), and optionally generated companies."""
    from dd_toolkit.records.demo import load_demo, sign_in_help
    from dd_toolkit.records.generated import bulk_loading, load_generated

    app, session = _session(ctx)
    with app.app_context(), session as db:
        with bulk_loading(db):
            created = load_demo(db, app.extensions["dd_content"])
        started = time.perf_counter()
        added = (
            load_generated(db, app.extensions["dd_content"], companies, seed, _loading_progress(started))
            if companies
            else 0
        )
    click.echo("demo data loaded" if created else "demo data already present")
    if added:
        click.echo(
            f"added {added} generated companies (seed {seed}), each with two submitted assessments, "
            f"in {time.perf_counter() - started:.0f} s"
        )
    click.echo(sign_in_help())


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("PORT", 5000)), show_default="5000 or $PORT")
@click.pass_context
def run(ctx: click.Context, host: str, port: int) -> None:
    """Serve the app for one machine (use gunicorn in production)."""
    from dd_toolkit.records.database import upgrade
    from dd_toolkit.records.demo import demo_loaded, sign_in_help

    app = _app(ctx)
    upgrade(app.config["DATABASE_URL"])
    _app_again, session = _session(ctx)
    with session as db:
        demo = demo_loaded(db)
    click.echo(f"Serving on http://{host}:{port}/")
    if demo:
        click.echo(sign_in_help())
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command("list-assessments")
@click.pass_context
def list_assessments(ctx: click.Context) -> None:
    """Print id, organisation, cycle, version and status of every assessment (a submission the
    last ``verify`` found tampered with is marked)."""
    from dd_toolkit.records.integrity import tampered_assessments
    from dd_toolkit.records.models import Assessment, Organisation

    app, session = _session(ctx)
    with session as db:
        tampered = tampered_assessments(db)
        rows = db.exec(
            select(Assessment, Organisation)
            .join(Organisation, Organisation.id == Assessment.organisation_id)
            .order_by(Assessment.id)
        ).all()
    if not rows:
        click.echo("no assessments")
        return
    click.echo(f"{'id':>4}  {'organisation':<30} {'cycle':>5}  {'version':>7}  status")
    for assessment, org in rows:
        click.echo(
            f"{assessment.id:>4}  {org.name[:30]:<30} {assessment.cycle:>5}  "
            f"{assessment.version:>7}  {assessment.status}"
            + ("  TAMPERED (failed verification)" if assessment.id in tampered else "")
        )


@main.command("export-assessment")
@click.argument("assessment_id", type=int)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write ('-' for standard output).",
)
@click.pass_context
def export_assessment(ctx: click.Context, assessment_id: int, output: Path) -> None:
    """Write an assessment as a portable JSON file."""
    from dd_toolkit.records.assessments import export_document
    from dd_toolkit.records.models import Assessment

    app, session = _session(ctx)
    with session as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise click.ClickException(f"no assessment with id {assessment_id}")
        text = json.dumps(export_document(db, assessment), indent=2, ensure_ascii=False)
    if str(output) == "-":
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")


@main.command("import-assessment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--org",
    "organisation_id",
    type=int,
    help="Import into this organisation id (default: the one named in the file, created if it does not exist).",
)
@click.option("--admin-email", help="The first admin of an organisation this import creates (required then).")
@click.option("--admin-name", help="Their name (default: the part of the email before the @).")
@click.option("--base-url", help="The server's address, to print whole links instead of paths.")
@click.pass_context
def import_assessment(
    ctx: click.Context,
    file: Path,
    organisation_id: int | None,
    admin_email: str | None,
    admin_name: str | None,
    base_url: str | None,
) -> None:
    """Import a portable JSON file as a new draft assessment. Nothing changes on any error.

    An organisation the file names and this installation lacks is created only with a first
    admin (--admin-email), who joins through the invitation link printed. When the file's
    profile differs from the organisation's, the questions that change are listed."""
    from dd_toolkit.engine import portable
    from dd_toolkit.records import accounts
    from dd_toolkit.records.assessments import AssessmentError, import_document, profile_mismatch
    from dd_toolkit.records.models import Organisation

    app, session = _session(ctx)
    bank = app.extensions["dd_bank"]
    try:
        rules = app.extensions["dd_content"].current_methodology.risk  # checks a risk register's cells
        parsed = portable.parse_document(file.read_bytes(), bank, rules)
    except portable.ImportError_ as exc:
        raise click.ClickException("the file was not imported:\n  " + "\n  ".join(exc.problems)) from None
    token = None
    with session as db:
        if organisation_id is not None:
            org = db.get(Organisation, organisation_id)
            if org is None:
                raise click.ClickException(f"no organisation with id {organisation_id}")
        else:
            org = db.exec(select(Organisation).where(Organisation.name == parsed.organisation_name)).first()
        if org is None:
            if not admin_email:
                raise click.ClickException(
                    f"there is no organisation named {parsed.organisation_name!r} here, and an organisation nobody "
                    "can sign in to is not created: give its first admin with --admin-email (and --admin-name), "
                    "or import into an existing organisation with --org ID"
                )
            try:
                org, admin, token = accounts.create_organisation_with_admin(
                    db,
                    name=parsed.organisation_name,
                    profile=parsed.profile,
                    description=parsed.description,
                    admin_email=admin_email,
                    admin_name=admin_name or admin_email.split("@")[0],
                    source="import",
                    valid_days=app.config["INVITE_VALID_DAYS"],
                )
            except accounts.AccountError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            _warn_profile_mismatch(profile_mismatch(bank, parsed, org, rules), org)
        try:
            assessment = import_document(db, bank, parsed, org, None)
        except AssessmentError as exc:
            db.rollback()
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"imported {len(parsed.answers)} answers as assessment {assessment.id} "
            f"({org.name}, {assessment.cycle}, draft)"
        )
    if token:
        click.echo(f"created organisation {org.id} ({org.name}); its first admin {admin.email} joins through:")
        click.echo(_link(f"/auth/invite/{token}", base_url))


def _link(path: str, base_url: str | None) -> str:
    """A one-time link: the path on the server's address, or the whole link with --base-url."""
    return base_url.rstrip("/") + path if base_url else path


def _warn_profile_mismatch(mismatch, org) -> None:
    if mismatch is None:
        return
    click.echo(
        f"warning: the file's profile differs from {org.name}'s ({', '.join(mismatch.fields)}); "
        f"the draft follows {org.name}'s profile",
        err=True,
    )
    if mismatch.answered_not_applying:
        click.echo(
            f"  {len(mismatch.answered_not_applying)} answered question(s) not asked of {org.name}: "
            + ", ".join(mismatch.answered_not_applying),
            err=True,
        )
    if mismatch.applying_not_in_file:
        click.echo(
            f"  {len(mismatch.applying_not_in_file)} question(s) asked of {org.name} that the file's profile "
            "did not ask: " + ", ".join(mismatch.applying_not_in_file),
            err=True,
        )


def _profile_data(profile_file: Path | None) -> dict:
    """The mapping of a --profile file, JSON or YAML (YAML reads JSON too)."""
    import yaml

    if profile_file is None:
        return {}
    try:
        data = yaml.safe_load(profile_file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{profile_file} is not JSON or YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.ClickException(f"{profile_file} must hold a mapping of profile fields")
    return data


@main.command("create-organisation")
@click.argument("name", required=False)
@click.option("--admin-email", required=True, help="The first admin, who joins through the invitation link printed.")
@click.option("--admin-name", help="Their name (default: the part of the email before the @).")
@click.option(
    "--profile",
    "profile_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON or YAML file with profile fields (those of an exported file's organisation block).",
)
@click.option("--description", help="What the service does.")
@click.option("--hq-country", help="Headquarters country code.")
@click.option("--country", "countries", multiple=True, help="A country where the service operates; repeat.")
@click.option("--service-type", "service_types", multiple=True, help="A type of service; repeat.")
@click.option("--feature", "features", multiple=True, help="A product feature; repeat.")
@click.option("--size", "size_band", help="Size band (startup, small, medium, large).")
@click.option("--under18", "under18_users", help="Whether people under 18 use the service.")
@click.option(
    "--age-group", "age_groups", multiple=True, help="An age group that uses the service or that it allows; repeat."
)
@click.option("--base-url", help="The server's address, to print the whole link instead of its path.")
@click.pass_context
def create_organisation_command(
    ctx: click.Context,
    name: str | None,
    admin_email: str,
    admin_name: str | None,
    profile_file: Path | None,
    base_url: str | None,
    **fields,
) -> None:
    """Create an organisation with its profile and its first admin; print the admin's
    invitation link. Options override the --profile file; NAME overrides a name in it."""
    from dd_toolkit.engine import portable
    from dd_toolkit.records import accounts
    from dd_toolkit.records.models import Organisation

    app, session = _session(ctx)
    data = _profile_data(profile_file)
    for key, value in fields.items():
        if value not in (None, ()):
            data[key] = list(value) if isinstance(value, tuple) else value
    if name:
        data["name"] = name
    if not data.get("name"):
        raise click.ClickException('name the organisation: NAME, or "name" in the --profile file')
    try:
        org_name, description, profile = portable.parse_profile(data, app.extensions["dd_bank"].taxonomy)
    except portable.ImportError_ as exc:
        raise click.ClickException("the profile has problems:\n  " + "\n  ".join(exc.problems)) from None
    with session as db:
        existing = db.exec(select(Organisation).where(Organisation.name == org_name.strip())).first()
        if existing is not None:
            raise click.ClickException(f"an organisation named {org_name!r} already exists (id {existing.id})")
        try:
            org, admin, token = accounts.create_organisation_with_admin(
                db,
                name=org_name,
                profile=profile,
                description=description,
                admin_email=admin_email,
                admin_name=admin_name or admin_email.split("@")[0],
                source="cli",
                valid_days=app.config["INVITE_VALID_DAYS"],
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created organisation {org.id} ({org.name})")
    click.echo(
        f"send {admin.email} (admin) this invitation link; it works once and expires in "
        f"{app.config['INVITE_VALID_DAYS']} days:"
    )
    click.echo(_link(f"/auth/invite/{token}", base_url))


def _organisation(db, reference: str):
    """An organisation by id or by exact name."""
    from dd_toolkit.records.models import Organisation

    org = db.get(Organisation, int(reference)) if reference.isdigit() else None
    if org is None:
        org = db.exec(select(Organisation).where(Organisation.name == reference)).first()
    if org is None:
        raise click.ClickException(f"no organisation with the id or name {reference!r}")
    return org


@main.command("add-member")
@click.argument("organisation")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "contributor"]), default="contributor", show_default=True)
@click.option("--name", help="Their name (default: the part of the email before the @).")
@click.option("--base-url", help="The server's address, to print the whole link instead of its path.")
@click.pass_context
def add_member_command(
    ctx: click.Context, organisation: str, email: str, role: str, name: str | None, base_url: str | None
) -> None:
    """Invite a member to an organisation (by id or name), as on its Members page; print their
    invitation link."""
    from dd_toolkit.records import accounts
    from dd_toolkit.records.models import OrgRole

    app, session = _session(ctx)
    with session as db:
        org = _organisation(db, organisation)
        try:
            user, token = accounts.invite_member(
                db,
                org,
                email=email,
                name=name or email.split("@")[0],
                role=OrgRole(role),
                invited_by=None,
                valid_days=app.config["INVITE_VALID_DAYS"],
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added {user.email} to {org.name} as {role}")
    click.echo(f"send them this invitation link; it works once and expires in {app.config['INVITE_VALID_DAYS']} days:")
    click.echo(_link(f"/auth/invite/{token}", base_url))


@main.command("submit")
@click.argument("assessment_id", type=int)
@click.option(
    "--to", "jurisdictions", multiple=True, help="A jurisdiction (country code) whose regulator receives it; repeat."
)
@click.option(
    "--consent/--no-consent",
    default=False,
    show_default=True,
    help="Whether the submission counts towards the working group's anonymised benchmark.",
)
@click.pass_context
def submit_command(ctx: click.Context, assessment_id: int, jurisdictions: tuple[str, ...], consent: bool) -> None:
    """Submit a draft to the regulators of the jurisdictions named, as the Submit page does:
    never to nobody, and always to a regulator whose clarification request it answers."""
    from dd_toolkit.records import review
    from dd_toolkit.records.assessments import AssessmentError, IncompleteAssessment, submit
    from dd_toolkit.records.models import Assessment

    app, session = _session(ctx)
    content = app.extensions["dd_content"]
    asean = content.bank.taxonomy.asean_countries
    if not jurisdictions:
        raise click.ClickException(
            f"name at least one recipient with --to CC (one of {', '.join(asean)}): a submission goes to regulators"
        )
    unknown = sorted(set(jurisdictions) - set(asean))
    if unknown:
        raise click.ClickException(f"not an ASEAN Member State code: {', '.join(unknown)}")
    chosen = sorted(set(jurisdictions))
    with session as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise click.ClickException(f"no assessment with id {assessment_id}")
        waiting = [code for code in review.reply_jurisdictions(db, assessment.previous_id) if code not in chosen]
        if waiting:
            raise click.ClickException(
                f"the regulator(s) of {', '.join(waiting)} asked for clarification: this version is the reply "
                f"and goes to them; add --to {' --to '.join(waiting)}"
            )
        try:
            submission = submit(
                db,
                content.bank,
                content.current_methodology,
                assessment,
                None,
                benchmark_consent=consent,
                jurisdictions=chosen,
            )
        except IncompleteAssessment as exc:
            missing = ", ".join(question.id for _section, question in exc.missing)
            raise click.ClickException(f"not submitted: {exc}: {missing}") from None
        except AssessmentError as exc:
            raise click.ClickException(f"not submitted: {exc}") from None
    click.echo(
        f"submitted assessment {assessment_id} to the regulators of {', '.join(chosen)}; "
        f"benchmark consent: {'yes' if consent else 'no'}; SHA-256 {submission.sha256}"
    )


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["regulator", "working_group", "platform_admin"]), required=True)
@click.option("--jurisdiction", "jurisdictions", multiple=True, help="Country code; repeat for several.")
@click.password_option()
@click.pass_context
def create_user(ctx, email, name, role, jurisdictions, password) -> None:
    """Create a regulator, working-group or platform-admin account."""
    from dd_toolkit.records import accounts
    from dd_toolkit.records.models import PlatformRole

    app, session = _session(ctx)
    bank = app.extensions["dd_bank"]
    unknown = [j for j in jurisdictions if j not in bank.taxonomy.ids("countries")]
    if unknown:
        raise click.ClickException(f"unknown country code(s): {', '.join(unknown)}")
    if role == "regulator" and not jurisdictions:
        raise click.ClickException("a regulator needs at least one --jurisdiction")
    problem = accounts.password_problem(password, (email, name))
    if problem:
        raise click.ClickException(problem)
    with session as db:
        try:
            accounts.create_user(
                db,
                email=email,
                name=name,
                password=password,
                platform_role=PlatformRole(role),
                jurisdictions=list(jurisdictions),
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        db.commit()
    click.echo(f"created {role} account {email}")
    if role == "regulator":
        click.echo(
            f"its jurisdictions take effect when confirmed: dd-toolkit confirm-regulator {email} "
            "(for a jurisdiction's first regulator), otherwise by a regulator of the jurisdiction"
        )


@main.command("confirm-regulator")
@click.argument("email")
@click.pass_context
def confirm_regulator(ctx: click.Context, email: str) -> None:
    """Confirm, as the operator, a regulator account's pending jurisdictions that have no
    regulator yet (a jurisdiction that has one is confirmed by its regulators, in the app)."""
    from dd_toolkit.records import accounts

    app, session = _session(ctx)
    with session as db:
        user = accounts.find_user(db, email)
        if user is None:
            raise click.ClickException(f"no account with the email {email}")
        try:
            confirmed, left, token = accounts.confirm_by_operator(db, user, valid_days=app.config["INVITE_VALID_DAYS"])
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    if confirmed:
        click.echo(f"confirmed {', '.join(confirmed)} for {user.email}")
    if left:
        click.echo(f"left to the regulators of {', '.join(left)} (they confirm in the app: Your account)")
    if not confirmed and not left:
        click.echo(f"nothing awaits confirmation for {user.email}")
    if token:
        click.echo(f"send {user.email} this invitation path on the server's address (works once, expires):")
        click.echo(f"/auth/invite/{token}")


@main.command("reset-password")
@click.argument("email")
@click.option("--minutes", type=click.IntRange(5, 24 * 60), default=60, show_default=True)
@click.pass_context
def reset_password_command(ctx: click.Context, email: str, minutes: int) -> None:
    """Print a one-time password-reset path for an account (it expires after --minutes)."""
    from dd_toolkit.records import accounts

    _app, session = _session(ctx)
    with session as db:
        user = accounts.find_user(db, email)
        if user is None:
            raise click.ClickException(f"no account with the email {email}")
        try:
            token = accounts.issue_reset(db, user, valid_minutes=minutes)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"send {user.email} this path on the server's address (works once, for {minutes} minutes):", err=True)
    click.echo(f"/auth/reset/{token}")


def _content_root(ctx: click.Context) -> Path:
    from dd_toolkit.paths import bundled_root

    return Path(ctx.obj["content"] or bundled_root())


def _bank(ctx: click.Context):
    try:
        return load_bank(_content_root(ctx))
    except ContentError as exc:
        raise click.ClickException(f"the content has problems:\n{exc}") from None


@main.command("coverage")
@click.option("--json", "as_json", is_flag=True, help="Print {reference: [question ids]} as JSON.")
@click.pass_context
def coverage_command(ctx: click.Context, as_json: bool) -> None:
    """For every framework reference, the questions that map to it."""
    from dd_toolkit.engine.content.coverage import coverage

    bank = _bank(ctx)
    mapping = coverage(bank)
    if as_json:
        click.echo(json.dumps(mapping, indent=2))
        return
    for ref, ids in mapping.items():
        label = bank.taxonomy.label("frameworks", ref)
        click.echo(f"{ref}  ({len(ids)})  {label}")
        for qid in ids:
            click.echo(f"    {qid}")


@main.command("content-catalogues")
@click.option("--check", is_flag=True, help="Change nothing; fail if a catalogue is not current with the content.")
@click.pass_context
def content_catalogues(ctx: click.Context, check: bool) -> None:
    """Bring the content's translation catalogues (*/translations/<language>/*.po) in line with
    the content: new texts arrive empty, changed ones are kept as fuzzy suggestions."""
    from dd_toolkit.engine.content.catalogues import update
    from dd_toolkit.engine.content.languages import load_languages

    root = _content_root(ctx)
    languages = list(load_languages(root / "questionnaires"))
    if check:
        stale = update(root, _bank(ctx), languages, write=False)
        if stale:
            names = ", ".join(str(path.relative_to(root)) for path in stale)
            raise click.ClickException(f"not current with the content: {names}; run `make content-catalogues`")
        click.echo("content catalogues are current")
        return
    for path in update(root, _bank(ctx), languages):
        click.echo(f"updated {path.relative_to(root)}")


@main.command("content-doc")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
@click.pass_context
def content_doc(ctx: click.Context, output: Path | None) -> None:
    """Write the whole question bank as one Markdown document for expert review."""
    from dd_toolkit.engine.content.coverage import question_bank_markdown

    text = question_bank_markdown(_bank(ctx))
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


@main.command("score")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole score card as JSON.")
@click.option(
    "--methodology",
    "methodology_key",
    help="Score with this methodology (id@version); default: the latest of the configured one.",
)
@click.pass_context
def score_command(ctx: click.Context, file: Path, as_json: bool, methodology_key: str | None) -> None:
    """Score an exported assessment file (the same engine as the results page)."""
    from dd_toolkit.engine import portable
    from dd_toolkit.engine.registry import load_content
    from dd_toolkit.engine.scoring import score

    try:
        content = load_content(_content_root(ctx), os.environ.get("DD_METHODOLOGY") or "standard")
    except ContentError as exc:
        raise click.ClickException(f"the content has problems:\n{exc}") from None
    method = content.current_methodology
    if methodology_key:
        method = content.methodology(methodology_key)
        if method is None:
            raise click.ClickException(
                f"no methodology {methodology_key}; available: {', '.join(sorted(content.methodologies))}"
            )
    try:
        parsed = portable.parse_document(file.read_bytes(), content.bank)
    except portable.ImportError_ as exc:
        raise click.ClickException("the file cannot be scored:\n  " + "\n  ".join(exc.problems)) from None
    from dd_toolkit.engine.risk import levels_of

    risk = levels_of(parsed.risk_register, method.risk)
    card = score(content.bank, method, parsed.profile, parsed.answers, risk=risk)
    if as_json:
        click.echo(json.dumps(card.to_dict(), indent=2, ensure_ascii=False))
        return
    bands = {b.id: b.label for b in method.bands}

    def fmt(value: float | None) -> str:
        return "  -" if value is None else f"{value:5.1f}"

    click.echo(f"{parsed.organisation_name}, {parsed.cycle} — scored with {method.key}")
    click.echo(f"overall {fmt(card.overall)}  {bands.get(card.band, '')}")
    # Coverage rounds down: 100% only when every applicable question is answered.
    facts = [f"coverage {int(card.coverage * 100 + 1e-9)}%"] if card.coverage is not None else []
    if card.confidence and method.confidence:
        facts.append("confidence " + next(lv.label for lv in method.confidence.levels if lv.id == card.confidence))
    if card.capped_by:
        facts.append(f"capped from {bands.get(card.band_before_cap, '')} by {', '.join(card.capped_by)}")
    if facts:
        click.echo("        " + "; ".join(facts))
    for module in card.modules:
        click.echo(f"  {module.title:<40} {fmt(module.score)}  {bands.get(module.band, '')}")
    for indicator in card.indicators:
        status = "does not apply" if indicator.met is None else "met" if indicator.met else "not met"
        click.echo(f"  {indicator.id:<12} {status}")


@main.command("weights")
@click.option(
    "--methodology",
    "methodology_key",
    help="The methodology (id@version); default: the latest of the configured one.",
)
@click.option("--top", type=click.IntRange(min=1), default=None, help="Only the questions with the largest shares.")
@click.option(
    "--profile-of",
    "profile_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use the organisation profile of an exported assessment file instead of the full profile.",
)
@click.pass_context
def weights_command(
    ctx: click.Context, methodology_key: str | None, top: int | None, profile_file: Path | None
) -> None:
    """Each scored question's share of the overall score, largest first.

    By default for a full-profile organisation (every service type and feature, large, used by
    children) with every question answered: what the methodology's weights mean in practice."""
    from dd_toolkit.engine import portable
    from dd_toolkit.engine.registry import load_content
    from dd_toolkit.engine.scoring.engine import question_shares

    try:
        content = load_content(_content_root(ctx), os.environ.get("DD_METHODOLOGY") or "standard")
    except ContentError as exc:
        raise click.ClickException(f"the content has problems:\n{exc}") from None
    method = content.current_methodology
    if methodology_key:
        method = content.methodology(methodology_key)
        if method is None:
            raise click.ClickException(
                f"no methodology {methodology_key}; available: {', '.join(sorted(content.methodologies))}"
            )
    profile, who = None, "a full-profile organisation (every service type and feature, large)"
    if profile_file is not None:
        try:
            parsed = portable.parse_document(profile_file.read_bytes(), content.bank)
        except portable.ImportError_ as exc:
            raise click.ClickException("the file cannot be read:\n  " + "\n  ".join(exc.problems)) from None
        profile, who = parsed.profile, f"the profile of {parsed.organisation_name}"
    shares = question_shares(content.bank, method, profile)
    click.echo(f"Share of the overall score under {method.key}, for {who}; {len(shares)} scored questions")
    for rank, (question, share) in enumerate(shares[:top] if top else shares, start=1):
        click.echo(f"{rank:4}. {share * 100:6.2f}%  {question.question_id}")


@main.command("benchmark")
@click.option("--release", "number", type=int, help="Release number; default: the latest.")
@click.option("--cycle", type=int, help="Cycle (year); default: the latest in the release.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the figures as CSV (what the working group downloads).")
@click.pass_context
def benchmark_command(ctx: click.Context, number: int | None, cycle: int | None, as_csv: bool) -> None:
    """The working group's benchmark: a published release, exactly as its pages show it."""
    from dd_toolkit.engine import disclosure
    from dd_toolkit.records import releases

    app, session = _session(ctx)
    method = app.extensions["dd_content"].current_methodology
    with session as db:
        release = releases.published(db, method, number)
        tampered = _tampered_note(db)
    if tampered:
        click.echo(tampered, err=True)
    if release is None:
        raise click.ClickException(f"no release {number}" if number else f"no release published under {method.key} yet")
    cycle = cycle or max(release.cycles)
    if cycle not in release.cycles:
        raise click.ClickException(f"release {release.number} covers {', '.join(map(str, release.cycles))}")
    if as_csv:
        click.echo(disclosure.working_group_csv(release, cycle), nl=False)
        return
    final = " (final)" if release.final else ""
    click.echo(f"release {release.number}{final}, published {release.published_at}, cycle {cycle} ({method.key})")
    # Every figure comes from the disclosure module's rows, the same the pages, CSV and API show:
    # quartiles and shares of groups that passed the rules, and "withheld" with a reason, no number.
    click.echo("  quartiles: 25th / median / 75th percentile")
    for row in disclosure.working_group_rows(release, cycle):
        if row["status"] != disclosure.STATUS_SHOWN:
            figures = f"withheld: {row['reason']}"
        elif row["metric"] == disclosure.GROUP_SIZE_METRIC:
            figures = f"{row['companies']} companies"
        elif row["share"] is not None:
            figures = f"{float(row['share']) * 100:.0f}% of {row['companies']} companies"
        else:
            figures = f"{row['p25']} / {row['median']} / {row['p75']}"
        click.echo(f"  {row['group_label']:<45} {row['metric']:<24} {figures}")


@main.command("publish-release")
@click.option("--final", is_flag=True, help="The final release of the cycle (published even if nothing changed).")
@click.option(
    "--if-due",
    is_flag=True,
    help="Only when a release is due: the threshold number of consenting submissions since the last one.",
)
@click.pass_context
def publish_release_command(ctx: click.Context, final: bool, if_due: bool) -> None:
    """Publish the working group's next release, when the disclosure rules allow a new one."""
    from dd_toolkit.records import releases

    if final and if_due:
        raise click.UsageError("--final and --if-due do not go together: a final release is published when asked")
    app, session = _session(ctx)
    content = app.extensions["dd_content"]
    with session as db:
        if if_due and not releases.release_due(db, content.current_methodology):
            click.echo("no release is due yet: fewer new consenting submissions than the threshold")
            return
        row = releases.publish(db, content.bank, content.current_methodology, final=final)
    if row is None:
        click.echo("nothing new can be published yet: no peer group has enough new consenting submissions")
        return
    click.echo(f"published release {row.number}{' (final)' if row.final else ''}: {row.companies} companies")


@main.command("notify-due")
@click.option("--days", type=click.IntRange(0, 365), default=7, show_default=True, help="How soon counts as due.")
@click.pass_context
def notify_due_command(ctx: click.Context, days: int) -> None:
    """Notify company members of open actions due within DAYS days or overdue (each reminder once;
    run it daily from cron, or let the company home page do it)."""
    from dd_toolkit.records import notifications

    _app, session = _session(ctx)
    with session as db:
        created = notifications.notify_due_actions(db, days=days)
    click.echo(f"{created} notification(s) created")


@main.group("report")
def report_group() -> None:
    """Write the action plan, the draft transparency section or the children's risk assessment of
    an exported assessment."""


def _report_inputs(ctx: click.Context, file: Path, language: str = "en"):
    from dd_toolkit.engine import portable
    from dd_toolkit.engine.documents import Inputs
    from dd_toolkit.engine.registry import load_content

    try:
        content = load_content(_content_root(ctx), os.environ.get("DD_METHODOLOGY") or "standard")
    except ContentError as exc:
        raise click.ClickException(f"the content has problems:\n{exc}") from None
    raw = file.read_bytes()
    try:
        parsed = portable.parse_document(raw, content.bank)
    except portable.ImportError_ as exc:
        raise click.ClickException("the file cannot be read:\n  " + "\n  ".join(exc.problems)) from None
    # A submitted file keeps the score card frozen in it: the same rule as the pages.
    from dd_toolkit.engine.risk import levels_of

    scored = content.scored(
        parsed.profile,
        parsed.answers,
        json.loads(raw).get("score_card") if parsed.was_submitted else None,
        risk=levels_of(parsed.risk_register, content.current_methodology.risk),
    )
    return Inputs(
        content=content,
        method=scored.method,
        organisation_name=parsed.organisation_name,
        cycle=parsed.cycle,
        profile=parsed.profile,
        answers=parsed.answers,
        card=scored.card,
        frozen=scored.frozen,
        risk_register=parsed.risk_register,
        language=language,
    )


def _write_document(document, output: Path) -> None:
    if str(output) == "-":
        sys.stdout.buffer.write(document.data)
    else:
        output.write_bytes(document.data)
        click.echo(f"wrote {output}", err=True)


DOCUMENT_LANGUAGES = ("en", "id", "th", "vi")


def _report_options(formats: list[str]):
    """The argument and options both report commands take."""

    def decorate(command):
        command = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help="File to write ('-' for standard output).",
        )(command)
        command = click.option("--format", "fmt", type=click.Choice(formats), default="md", show_default=True)(command)
        command = click.option(
            "--lang",
            "language",
            type=click.Choice(DOCUMENT_LANGUAGES),
            default="en",
            show_default=True,
            help="The language the document is written in.",
        )(command)
        return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)

    return decorate


@report_group.command("action-plan")
@_report_options(["md", "html", "pdf", "csv"])
@click.pass_context
def report_action_plan(ctx: click.Context, file: Path, fmt: str, language: str, output: Path) -> None:
    """The prioritised action plan of an exported assessment file."""
    from dd_toolkit.engine.documents import action_plan_document

    _write_document(action_plan_document(_report_inputs(ctx, file, language), fmt), output)


@report_group.command("transparency")
@_report_options(["md", "html", "pdf"])
@click.pass_context
def report_transparency(ctx: click.Context, file: Path, fmt: str, language: str, output: Path) -> None:
    """The draft TRUST transparency-report section of an exported assessment file."""
    from dd_toolkit.engine.documents import transparency_document

    _write_document(transparency_document(_report_inputs(ctx, file, language), fmt), output)


@report_group.command("risk-assessment")
@_report_options(["md", "html", "pdf"])
@click.pass_context
def report_risk_assessment(ctx: click.Context, file: Path, fmt: str, language: str, output: Path) -> None:
    """The written record of the children's risk assessment of an exported assessment file."""
    from dd_toolkit.engine.documents import risk_assessment_document
    from dd_toolkit.engine.risk_record import NoRegister

    inputs = _report_inputs(ctx, file, language)
    try:
        document = risk_assessment_document(inputs, fmt)
    except NoRegister:
        raise click.ClickException(
            f"{file} holds no children's risk register (the 'risk_register' key), so there is no "
            "risk assessment to write; fill in the register in the browser and export the file again."
        ) from None
    _write_document(document, output)


@main.command("indicators")
@click.option("--country", required=True, help="Jurisdiction (ISO code of an ASEAN Member State).")
@click.option("--cycle", type=int, required=True)
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@click.pass_context
def indicators_command(ctx: click.Context, country: str, cycle: int, as_csv: bool) -> None:
    """RPA indicator counts for one jurisdiction and cycle, with the institutions (as a regulator sees them)."""
    from dd_toolkit.engine.indicators import indicator_csv, indicator_rows, report_notes
    from dd_toolkit.records.aggregates import stored_indicator_report

    app, session = _session(ctx)
    content = app.extensions["dd_content"]
    if country not in content.bank.taxonomy.asean_countries:
        raise click.ClickException(f"{country} is not an ASEAN Member State code")
    with session as db:
        report = stored_indicator_report(db, country, cycle, all_names=True)
    notes = report_notes(content.root)
    if as_csv:  # the same CSV as the regulator's page exports, with its note row
        click.echo(indicator_csv(report, notes), nl=False)
        return
    click.echo(f"RPA indicators, {country} {cycle}: {report.institutions} submitting institution(s)")
    for row in indicator_rows(report):
        if row["service_type"] != "all":
            continue
        click.echo(
            f"  {row['indicator']:<28} {row['meeting']:>3} of {row['institutions']:<3}"
            f" (not applicable: {row['not_applicable']:>3})  {row['label']}"
        )
    click.echo(notes["not_applicable"])


@main.command("create-token")
@click.option("--email", required=True, help="The regulator account the token acts as.")
@click.option("--name", required=True, help="What will use the token, to recognise it later.")
@click.option("--expires-in-days", type=int, default=None, help="The token stops working after this many days.")
@click.pass_context
def create_token_command(ctx: click.Context, email: str, name: str, expires_in_days: int | None) -> None:
    """Create an API token for a regulator account and print it (it is not shown again)."""
    from dd_toolkit.records import accounts
    from dd_toolkit.web.api.tokens import TokenError, create_token

    _app, session = _session(ctx)
    with session as db:
        user = accounts.find_user(db, email)
        if user is None:
            raise click.ClickException(f"no account with the email {email}")
        try:
            _row, token = create_token(db, user, name, expires_in_days)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created API token “{name}” for {user.email}; it is not shown again", err=True)
    click.echo(token)


# -- tamper evidence, backup and restore -------------------------------------------------------


def _tampered_note(db) -> str:
    from dd_toolkit.records.integrity import tampered_assessments

    found = tampered_assessments(db)
    if not found:
        return ""
    return (
        f"warning: {len(found)} submitted assessment(s) failed verification ({', '.join(map(str, sorted(found)))}); "
        "they are left out of every release published since"
    )


def _verify_and_report(app, db) -> bool:
    """Run ``verify``, print each problem, keep the result; refresh the stored figures when a
    submission's verified status changed. True when everything checked out."""
    from dd_toolkit.records import integrity
    from dd_toolkit.records.aggregates import refresh_all

    result = integrity.verify(db)
    for problem in result.problems:
        click.echo(f"MISMATCH {problem}", err=True)
    _run, changed = integrity.store(db, result)
    if changed:  # a tampered submission leaves (or a repaired one rejoins) every aggregate
        content = app.extensions["dd_content"]
        refresh_all(db, content.bank, content.current_methodology)
    checked = ", ".join(f"{count} {table}" for table, count in result.checked.items())
    if result.head is not None:
        click.echo(f"audit chain head: {result.head[0]} events, last hash {result.head[1]}")
    if result.ok:
        click.echo(f"verified: {checked}; no problems")
    else:
        tampered = f"; {len(result.tampered)} submission(s) marked as tampered" if result.tampered else ""
        click.echo(f"verification FAILED: {len(result.problems)} problem(s) in {checked}{tampered}")
    return result.ok


@main.command("verify")
@click.pass_context
def verify_command(ctx: click.Context) -> None:
    """Recompute every submission's SHA-256, every decoded record against its snapshot, every
    answer against its history, and the audit hash chain; name each mismatch and exit 1 on any."""
    app, session = _session(ctx)
    with session as db:
        ok = _verify_and_report(app, db)
    if not ok:
        sys.exit(1)


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, path: Path) -> None:
    """Write a consistent copy of the running database to PATH (SQLite online backup, or
    pg_dump's custom format for PostgreSQL)."""
    from dd_toolkit.records.backup import BackupError, backup

    app = _app(ctx)
    _require_schema(app)
    try:
        digest = backup(app.config["DATABASE_URL"], path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {path} (SHA-256 {digest})")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that is not empty.")
@click.pass_context
def restore_command(ctx: click.Context, path: Path, force: bool) -> None:
    """Restore the backup at PATH into the (empty) database, migrate it, and verify it. Stop the
    app first."""
    from dd_toolkit.records.backup import BackupError, restore

    app = _app(ctx)
    app.extensions["dd_engine"].dispose()  # no pooled connection across the restore
    try:
        restore(app.config["DATABASE_URL"], path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {path}")
    _app_again, session = _session(ctx)
    with session as db:
        ok = _verify_and_report(app, db)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":  # python -m dd_toolkit.cli, as the web app starts a release build
    main()
