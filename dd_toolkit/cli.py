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
        overrides = {}
        if ctx.obj.get("content"):
            overrides["CONTENT_DIR"] = ctx.obj["content"]
        try:
            ctx.obj["app"] = create_app(overrides)
        except ContentError as exc:
            raise click.ClickException(f"the content has problems:\n{exc}") from None
    return ctx.obj["app"]


def _session(ctx: click.Context):
    from dd_toolkit.records import database as db

    app = _app(ctx)
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
    click.echo(
        f"ok: {len(bank.questions)} questions ({scored} scored), "
        f"{len(content.methodologies)} scoring methodologies in {root}"
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

    app, session = _session(ctx)
    upgrade(app.config["DATABASE_URL"])
    content = app.extensions["dd_content"]
    # Figures stored by an older version (or none, right after a migration) are recomputed.
    with session as db:
        refresh_all(db, content.bank, content.current_methodology)
    click.echo("database is at the latest schema")


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
        added = load_generated(db, app.extensions["dd_content"], companies, seed) if companies else 0
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
    from dd_toolkit.records.demo import sign_in_help

    app = _app(ctx)
    upgrade(app.config["DATABASE_URL"])
    click.echo(f"Serving on http://{host}:{port}/")
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
@click.pass_context
def import_assessment(ctx: click.Context, file: Path, organisation_id: int | None) -> None:
    """Import a portable JSON file as a new draft assessment. Nothing changes on any error."""
    from dd_toolkit.engine import portable
    from dd_toolkit.records.assessments import AssessmentError, import_document, organisation_from_document
    from dd_toolkit.records.models import Organisation

    app, session = _session(ctx)
    bank = app.extensions["dd_bank"]
    try:
        parsed = portable.parse_document(file.read_bytes(), bank)
    except portable.ImportError_ as exc:
        raise click.ClickException("the file was not imported:\n  " + "\n  ".join(exc.problems)) from None
    with session as db:
        if organisation_id is not None:
            org = db.get(Organisation, organisation_id)
            if org is None:
                raise click.ClickException(f"no organisation with id {organisation_id}")
        else:
            org = db.exec(select(Organisation).where(Organisation.name == parsed.organisation_name)).first()
            if org is None:
                org = organisation_from_document(db, parsed, None)
        try:
            assessment = import_document(db, bank, parsed, org, None)
        except AssessmentError as exc:
            db.rollback()
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"imported {len(parsed.answers)} answers as assessment {assessment.id} "
            f"({org.name}, {assessment.cycle}, draft)"
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
    card = score(content.bank, method, parsed.profile, parsed.answers)
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
    for row in disclosure.working_group_rows(release, cycle):
        if row["metric"] != "overall" and row["metric"] != "companies":
            continue
        shown = row["status"] == "shown"
        figures = (
            f"{row['companies']} companies"
            if row["metric"] == "companies"
            else f"{row['p25']} / {row['median']} / {row['p75']}"
        )
        click.echo(
            f"  {row['group_label']:<45} {row['metric']:<10} {figures if shown else 'withheld: ' + row['reason']}"
        )


@main.command("publish-release")
@click.option("--final", is_flag=True, help="The final release of the cycle (published even if nothing changed).")
@click.pass_context
def publish_release_command(ctx: click.Context, final: bool) -> None:
    """Publish the working group's next release, when the disclosure rules allow a new one."""
    from dd_toolkit.records import releases

    app, session = _session(ctx)
    content = app.extensions["dd_content"]
    with session as db:
        row = releases.publish(db, content.bank, content.current_methodology, final=final)
    if row is None:
        click.echo("nothing new can be published yet: no peer group has enough new consenting submissions")
        return
    click.echo(f"published release {row.number}{' (final)' if row.final else ''}: {row.companies} companies")


@main.group("report")
def report_group() -> None:
    """Write the action plan or the draft transparency section of an exported assessment."""


def _report_inputs(ctx: click.Context, file: Path):
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
    scored = content.scored(
        parsed.profile, parsed.answers, json.loads(raw).get("score_card") if parsed.was_submitted else None
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
    )


def _write_document(document, output: Path) -> None:
    if str(output) == "-":
        sys.stdout.buffer.write(document.data)
    else:
        output.write_bytes(document.data)
        click.echo(f"wrote {output}", err=True)


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
        return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)

    return decorate


@report_group.command("action-plan")
@_report_options(["md", "html", "pdf", "csv"])
@click.pass_context
def report_action_plan(ctx: click.Context, file: Path, fmt: str, output: Path) -> None:
    """The prioritised action plan of an exported assessment file."""
    from dd_toolkit.engine.documents import action_plan_document

    _write_document(action_plan_document(_report_inputs(ctx, file), fmt), output)


@report_group.command("transparency")
@_report_options(["md", "html", "pdf"])
@click.pass_context
def report_transparency(ctx: click.Context, file: Path, fmt: str, output: Path) -> None:
    """The draft TRUST transparency-report section of an exported assessment file."""
    from dd_toolkit.engine.documents import transparency_document

    _write_document(transparency_document(_report_inputs(ctx, file), fmt), output)


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
