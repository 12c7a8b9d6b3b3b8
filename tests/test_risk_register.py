"""The children's risk register as stored (issue 14): saving cells as answers are saved (a
conflict keeps the other person's save and every other save of the request), the history of a
cell, the next cycle starting from the last register, a significant change outside the cycle,
review due dates, the portable file and the frozen snapshot, and the reader's register."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import select

from dd_toolkit.engine import portable
from dd_toolkit.engine.risk import validate_cell
from dd_toolkit.records import risk
from dd_toolkit.records.assessments import (
    export_document,
    import_document,
    save_answers,
    start_assessment,
    submission_of,
    submit,
)
from dd_toolkit.records.demo import COMPANIES, demo_answers
from dd_toolkit.records.models import Organisation, RiskCell, RiskCellHistory, Submission, SubmissionRecord
from dd_toolkit.records.reader import read_assessment
from dd_toolkit.records.versioned import StaleVersion

from .factories import Factory

LUMEN = COMPANIES[0]


@pytest.fixture
def content(real_app):
    return real_app.extensions["dd_content"]


@pytest.fixture
def db(real_app):
    from dd_toolkit.records import database

    with database.standalone_session(real_app.extensions["dd_engine"]) as s:
        yield s


@pytest.fixture
def make(db, content):
    return Factory(db, content)


def _org(make) -> Organisation:
    return make.organisation(
        "Lumen Test",
        countries=list(LUMEN.countries),
        service_types=list(LUMEN.service_types),
        features=list(LUMEN.features),
        size_band=LUMEN.size_band,
        hq_country=LUMEN.hq_country,
    )


def _answered(db, content, org, cycle=2026, user=None):
    assessment = start_assessment(db, content.bank, org, cycle, user)
    answers = demo_answers(content.bank, risk_profile(org), LUMEN, cycle)
    save_answers(db, assessment, user, {qid: (a, 0) for qid, a in answers.items()})
    return assessment


def risk_profile(org):
    from dd_toolkit.records.assessments import profile_of

    return profile_of(org)


def _control(content, harm="grooming", answered=None):
    return next(q for q in content.current_methodology.risk.addressed_by[harm] if answered is None or q in answered)


def _cell(content, db, assessment, **changes):
    from dd_toolkit.records.assessments import answer_rows

    answered = set(answer_rows(db, assessment.id))
    values = {
        "likelihood": "likely",
        "likelihood_evidence": ["user_reports", "research"],
        "impact": "severe",
        "impact_evidence": ["incidents"],
        "controls": [_control(content, answered=answered)],
        "residual": "high",
        "rationale": "Strangers can message teenagers; detection covers only part of it.",
        "owner": "Head of Trust and Safety",
    }
    values.update(changes)
    return values


def _started(db, content, make):
    org = _org(make)
    user = make.user(org)
    assessment = _answered(db, content, org, user=user)
    risk.start_register(db, assessment, user)
    risk.save_register_meta(
        db,
        assessment,
        user,
        {"assessed_by": "Safety team with the DPO", "method": "Workshop and data review", "sources": ["research"]},
        1,
        content=content,
    )
    db.commit()
    return org, user, assessment


def test_no_register_is_none_and_the_document_has_no_key(db, content, make):
    org = _org(make)
    assessment = _answered(db, content, org)
    assert risk.register_data(db, assessment) is None
    from dd_toolkit.records.assessments import build_document

    assert "risk_register" not in build_document(db, assessment)
    assert read_assessment(db, content, assessment).risk_register is None


def test_a_saved_cell_is_in_the_register_data_with_owner_and_history(db, content, make):
    _, user, assessment = _started(db, content, make)
    row = risk.save_cell(
        db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment), 0, content=content
    )
    db.commit()
    assert row.version == 1
    data = risk.register_data(db, assessment)
    assert data["assessed_by"] == "Safety team with the DPO"
    assert data["sources"] == ["research"]
    assert data["reason"] == "cycle" and data["previous_assessment_id"] is None
    assert date.fromisoformat(data["next_review_due"]) <= date.today() + timedelta(days=366)
    (cell,) = data["cells"]
    assert cell["harm"] == "grooming" and cell["age_group"] == "age_13_15"
    assert cell["level"] == "high" and cell["residual"] == "high"
    assert cell["owner"] == "Head of Trust and Safety" and cell["updated_by"] == user.name
    # The cell passes the engine's check as it is.
    assert validate_cell(cell, content.current_methodology.risk, content.bank).ok
    history = db.exec(select(RiskCellHistory)).all()
    assert [(h.cell_version, h.old) for h in history] == [(1, None)]


def test_an_invalid_cell_is_refused_with_nothing_written(db, content, make):
    _, user, assessment = _started(db, content, make)
    with pytest.raises(risk.CellInvalid) as refused:
        risk.save_cell(
            db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment, rationale=""), 0,
            content=content,
        )  # fmt: skip
    assert {p.field for p in refused.value.problems} == {"rationale"}
    with pytest.raises(risk.CellInvalid) as refused:
        bad = {"relevant": "no", "not_relevant_reason": ""}
        risk.save_cell(db, assessment, user, "csam", "age_0_5", bad, 0, content=content)
    assert {p.field for p in refused.value.problems} == {"not_relevant_reason"}
    with pytest.raises(risk.CellInvalid):  # a control must be a question answered
        unanswered = _cell(content, db, assessment, controls=["sbd.p2.no_such_question"])
        risk.save_cell(db, assessment, user, "grooming", "age_13_15", unanswered, 0, content=content)
    db.commit()
    assert db.exec(select(RiskCell)).all() == []


def test_a_conflict_keeps_the_other_save_and_the_rest_of_the_request(db, content, make):
    _, user, assessment = _started(db, content, make)
    first = _cell(content, db, assessment)
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", first, 0, content=content)
    db.commit()
    # Someone else saves from version 1; then this user, also from version 1.
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", {**first, "residual": "medium"}, 1, content=content)
    db.commit()
    risk.save_cell(db, assessment, user, "grooming", "age_10_12", first, 0, content=content)  # same request
    with pytest.raises(StaleVersion) as stale:
        risk.save_cell(db, assessment, user, "grooming", "age_13_15", {**first, "residual": "low"}, 1, content=content)
    assert stale.value.current.fields["residual"] == "medium"
    db.commit()
    rows = risk.cell_rows(db, assessment.id)
    assert rows[("grooming", "age_13_15")].fields["residual"] == "medium"
    assert ("grooming", "age_10_12") in rows  # the other save of the request stays


def test_register_meta_conflict_and_review_due(db, content, make):
    _, user, assessment = _started(db, content, make)
    register = risk.register_of(db, assessment.id)
    assert register.version == 2
    with pytest.raises(StaleVersion):
        risk.save_register_meta(db, assessment, user, {"assessed_by": "x", "method": "y"}, 1, content=content)
    too_late = (date.today() + timedelta(days=400)).isoformat()
    with pytest.raises(risk.CellInvalid) as refused:
        risk.save_register_meta(
            db, assessment, user, {"assessed_by": "x", "method": "y", "next_review_due": too_late}, 2, content=content
        )
    assert refused.value.problems[0].field == "next_review_due"
    soon = (date.today() + timedelta(days=10)).isoformat()
    risk.save_register_meta(
        db, assessment, user, {"assessed_by": "x", "method": "y", "reviewed": True, "next_review_due": soon}, 2,
        content=content,
    )  # fmt: skip
    db.commit()
    data = risk.register_data(db, assessment)
    assert data["reviewed_at"] is not None and data["next_review_due"] == soon
    assert risk.review_state(data) == "due_soon"
    assert risk.review_state(data, today=date.today() + timedelta(days=10)) == "overdue"
    assert risk.review_state({"next_review_due": "2999-01-01"}) == "ok"
    assert risk.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def answer_what_the_register_brings(db, content, assessment, user=None) -> set[str]:
    """Answer the questions the register brings in (harms rated medium or high), as the demo
    company would; their ids."""
    from dd_toolkit.records.assessments import answers_of, profile_of

    org = db.get(Organisation, assessment.organisation_id)
    levels = risk.risk_levels(db, assessment, content.current_methodology.risk)
    given = answers_of(db, assessment.id)
    more = demo_answers(content.bank, profile_of(org), LUMEN, assessment.cycle, risk=levels, given=given)
    if more:
        save_answers(db, assessment, user, {qid: (a, 0) for qid, a in more.items()})
    return set(more)


def _submit(db, content, assessment, user):
    answer_what_the_register_brings(db, content, assessment, user)
    return submit(db, content.bank, content.current_methodology, assessment, user, jurisdictions=[])


def test_submit_freezes_the_register_in_the_snapshot_and_the_reader(db, content, make):
    _, user, assessment = _started(db, content, make)
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment), 0, content=content)
    db.commit()
    submission = _submit(db, content, assessment, user)
    snapshot = json.loads(db.get(Submission, submission.id).snapshot)
    assert snapshot["risk_register"]["cells"][0]["residual"] == "high"
    assert snapshot["risk_register"]["reviewed_at"] is not None  # reviewed when submitted
    record = db.exec(select(SubmissionRecord).where(SubmissionRecord.submission_id == submission.id)).one()
    assert record.risk_register == snapshot["risk_register"]
    view = read_assessment(db, content, assessment)
    assert view.risk_register == snapshot["risk_register"]
    # The plan: actions addressing grooming (high residual) are raised to P1 and say why.
    from dd_toolkit.engine.actions import build_action_plan

    plan = build_action_plan(content.bank, view.method, view.profile, view.answers, view.card, view.risk_cells)
    reducing = [item for item in plan.items if any(r.harm == "grooming" for r in item.reduces)]
    assert reducing and all(item.priority == "P1" for item in reducing)
    with pytest.raises(Exception):  # noqa: B017 - a submitted register is read-only
        risk.save_cell(
            db, assessment, user, "grooming", "age_10_12", _cell(content, db, assessment), 0, content=content
        )


def test_a_submission_without_a_register_hashes_as_before(db, content, make):
    org = _org(make)
    user = make.user(org)
    assessment = _answered(db, content, org, user=user)
    submission = _submit(db, content, assessment, user)
    row = db.get(Submission, submission.id)
    assert "risk_register" not in json.loads(row.snapshot)
    assert portable.sha256_of_text(row.snapshot) == row.sha256
    assert db.exec(select(SubmissionRecord)).one().risk_register is None


def test_the_next_cycle_starts_from_the_last_register_and_marks_changes(db, content, make):
    org, user, assessment = _started(db, content, make)
    for group in ("age_13_15", "age_16_17"):
        risk.save_cell(db, assessment, user, "grooming", group, _cell(content, db, assessment), 0, content=content)
    db.commit()
    _submit(db, content, assessment, user)
    following = _answered(db, content, org, cycle=2027, user=user)
    assert risk.changed_since_last(db, following) == set()
    register = risk.start_register(db, following, user)
    db.commit()
    assert register.previous_assessment_id == assessment.id
    assert register.assessed_by == "Safety team with the DPO"
    rows = risk.cell_rows(db, following.id)
    assert set(rows) == {("grooming", "age_13_15"), ("grooming", "age_16_17")}
    assert not any(row.reviewed for row in rows.values())  # none reviewed yet
    assert risk.changed_since_last(db, following) == set()
    # Confirming a cell unchanged reviews it without changing it; a new rating marks it changed.
    same = _cell(content, db, following)
    risk.save_cell(db, following, user, "grooming", "age_16_17", same, 1, content=content)
    risk.save_cell(db, following, user, "grooming", "age_13_15", {**same, "residual": "medium"}, 1, content=content)
    db.commit()
    rows = risk.cell_rows(db, following.id)
    assert all(row.reviewed for row in rows.values())
    assert risk.changed_since_last(db, following) == {("grooming", "age_13_15")}
    assert risk.register_data(db, following)["previous_assessment_id"] == assessment.id


def test_a_significant_change_opens_a_reassessment_outside_the_cycle(db, content, make):
    _, user, assessment = _started(db, content, make)
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment), 0, content=content)
    db.commit()
    _submit(db, content, assessment, user)
    with pytest.raises(risk.CellInvalid):
        risk.significant_change(db, content, assessment, user, "  ")
    draft = risk.significant_change(db, content, assessment, user, "We launched live streaming in Brazil.")
    assert draft.id != assessment.id and draft.cycle == assessment.cycle and draft.is_draft
    data = risk.register_data(db, draft)
    assert data["reason"] == "significant_change"
    assert data["change_note"] == "We launched live streaming in Brazil."
    assert [c["harm"] for c in data["cells"]] == ["grooming"]
    # Again on the draft: the same draft, its cells to be reviewed again.
    risk.save_cell(db, draft, user, "grooming", "age_13_15", _cell(content, db, draft), 1, content=content)
    db.commit()
    again = risk.significant_change(db, content, draft, user, "A major incident.")
    assert again.id == draft.id
    assert not any(r.reviewed for r in risk.cell_rows(db, draft.id).values())
    assert risk.register_data(db, draft)["change_note"] == "A major incident."


def test_the_portable_file_round_trips_the_register(db, content, make):
    org, user, assessment = _started(db, content, make)
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment), 0, content=content)
    not_relevant = {"relevant": False, "not_relevant_reason": "No accounts for children under six."}
    risk.save_cell(db, assessment, user, "grooming", "age_0_5", not_relevant, 0, content=content)
    db.commit()
    _submit(db, content, assessment, user)
    document = export_document(db, assessment)
    raw = json.dumps(document)
    rules = content.current_methodology.risk
    parsed = portable.parse_document(raw, content.bank, rules)
    assert parsed.was_submitted
    assert [c["harm"] for c in parsed.risk_register["cells"]] == ["grooming", "grooming"]
    other = make.organisation("Elsewhere")
    imported = import_document(db, content.bank, parsed, other, user)
    data = risk.register_data(db, imported)
    strip = ("updated_by", "updated_at")
    assert [{k: v for k, v in c.items() if k not in strip} for c in data["cells"]] == [
        {k: v for k, v in c.items() if k not in strip} for c in document["risk_register"]["cells"]
    ]
    assert data["assessed_by"] == document["risk_register"]["assessed_by"]
    # A bad cell refuses the whole file.
    del document["submission"]
    document["risk_register"]["cells"][0]["residual"] = "catastrophic"
    with pytest.raises(portable.ImportError_) as refused:
        portable.parse_document(json.dumps(document), content.bank, rules)
    assert any("risk_register.cells.0.residual" in p for p in refused.value.problems)
    assert submission_of(db, imported.id) is None


def test_migration_0011_downgrades_and_upgrades_again(tmp_path):
    import sqlalchemy as sa
    from alembic import command

    from dd_toolkit.records.database import alembic_config, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0010")
    engine = make_engine(url)
    tables = sa.inspect(engine).get_table_names()
    assert "risk_cell" not in tables and "risk_register" not in tables
    assert "risk_register" not in {c["name"] for c in sa.inspect(engine).get_columns("submission_record")}
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert {"risk_register", "risk_cell", "risk_cell_history"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


# -- the register brings deeper questions in (applicability reads it) ----------------------------

DEEPER = {
    "grooming": "hrdd.act.grooming_contact_patterns",
    "sextortion": "hrdd.act.sextortion_rapid_response",
    "self_harm": "hrdd.act.self_harm_crisis_signposting",
}


def test_a_risk_condition_parses_and_refuses_what_it_cannot_read():
    from dd_toolkit.engine.content.conditions import (
        ConditionError,
        Leaf,
        RiskLevels,
        leaf_holds,
        parse_condition,
        risk_value,
    )

    leaf = parse_condition({"risk": "grooming", "at_least": "medium"})
    assert leaf == Leaf("risk", "grooming", "at_least", "medium")
    for bad in (
        {"risk": "grooming", "equals": "high"},
        {"answer": "hrdd.act.grooming_detection", "at_least": "medium"},
        {"profile": "features", "at_least": "medium"},
        {"risk": "grooming", "at_least": ["medium"]},
    ):
        with pytest.raises(ConditionError):
            parse_condition(bad)
    levels = RiskLevels(("negligible", "low", "medium", "high"), (("grooming", "high"), ("hate", "low")))
    assert leaf_holds(leaf, risk_value(levels, leaf))
    assert not leaf_holds(Leaf("risk", "hate", "at_least", "medium"), risk_value(levels, Leaf("risk", "hate", "", "")))
    assert not leaf_holds(leaf, risk_value(None, leaf))  # no register
    assert not leaf_holds(Leaf("risk", "csam", "at_least", "low"), levels.reached("csam"))  # not rated
    assert RiskLevels.from_dict(levels.to_dict()) == levels


def test_the_deeper_questions_follow_the_risk_before_the_controls(content):
    from dd_toolkit.engine.content import Profile
    from dd_toolkit.engine.risk import register_levels

    bank, rules = content.bank, content.current_methodology.risk
    profile = Profile(features=("direct_messaging",), under18_users="yes", size_band="medium")

    def applies(*cells):
        applicable = bank.applicability(profile, {}, register_levels(cells, rules))
        return {harm for harm, qid in DEEPER.items() if applicable[qid]}

    assert {h for h, q in DEEPER.items() if bank.applicability(profile, {})[q]} == set()  # no register
    assert applies() == set()
    # Rare and minor is negligible, possible and moderate medium; the highest age group counts.
    assert applies({"harm": "grooming", "age_group": "age_13_15", "likelihood": "rare", "impact": "minor"}) == set()
    assert applies(
        {"harm": "grooming", "age_group": "age_6_9", "likelihood": "rare", "impact": "minor"},
        {"harm": "grooming", "age_group": "age_13_15", "likelihood": "possible", "impact": "moderate"},
        {"harm": "self_harm", "age_group": "age_13_15", "level": "high", "residual": "low"},
        {"harm": "sextortion", "age_group": "age_13_15", "relevant": False, "not_relevant_reason": "x"},
    ) == {"grooming", "self_harm"}
    # Not the residual risk: the questions ask about the controls that lower it.
    assert applies({"harm": "sextortion", "age_group": "age_16_17", "level": "high", "residual": "negligible"}) == {
        "sextortion"
    }
    why = bank.visibility(
        DEEPER["grooming"], profile, {}, risk=register_levels([{"harm": "grooming", "level": "medium"}], rules)
    )
    assert why.applies and "The risk register rates Grooming Medium or higher" in why.reasons[0].text


def test_a_risk_condition_names_a_level_of_the_methodology(tmp_path, content):
    import shutil

    from dd_toolkit.engine.content import ContentError
    from dd_toolkit.engine.registry import load_content

    root = tmp_path / "content"
    for name in ("questionnaires", "scoring", "reports"):
        shutil.copytree(content.root / name, root / name)
    hrdd = root / "questionnaires" / "hrdd.yaml"
    text = hrdd.read_text().replace("{risk: grooming, at_least: medium}", "{risk: grooming, at_least: severe}")
    hrdd.write_text(text)
    with pytest.raises(ContentError, match="risk condition level 'severe' is not one of negligible, low, medium, high"):
        load_content(root)


def test_a_register_rated_medium_or_high_brings_questions_in_frozen_at_submit(db, content, make):
    from dd_toolkit.engine.actions import build_action_plan
    from dd_toolkit.engine.completion import progress
    from dd_toolkit.records.assessments import answers_of, profile_of

    org, user, assessment = _started(db, content, make)
    rules = content.current_methodology.risk

    def missing(a):
        state = progress(content.bank, profile_of(org), answers_of(db, a.id), risk.risk_levels(db, a, rules))
        return {q.id for _s, q in state.missing}

    assert missing(assessment) == set()  # an empty register brings nothing in
    risk.save_cell(db, assessment, user, "grooming", "age_13_15", _cell(content, db, assessment), 0, content=content)
    db.commit()
    assert missing(assessment) == {DEEPER["grooming"]}
    assert read_assessment(db, content, assessment).card.risk.level("grooming") == "high"  # the live card too
    with pytest.raises(Exception, match="still need an answer"):
        submit(db, content.bank, content.current_methodology, assessment, user, jurisdictions=[])
    db.rollback()
    assert answer_what_the_register_brings(db, content, assessment, user) == {DEEPER["grooming"]}
    submission = submit(db, content.bank, content.current_methodology, assessment, user, jurisdictions=[])
    # What the submission means is frozen with it: the levels it was scored with are in its card.
    card = json.loads(db.get(Submission, submission.id).snapshot)["score_card"]
    assert card["risk_levels"] == {"order": ["negligible", "low", "medium", "high"], "harms": {"grooming": "high"}}
    assert next(q for q in card["questions"] if q["question_id"] == DEEPER["grooming"])["status"] == "scored"
    # Even were the stored cells gone, the frozen card keeps the question in the assessment.
    for row in risk.cell_rows(db, assessment.id).values():
        db.delete(row)
    db.commit()
    view = read_assessment(db, content, assessment)
    assert view.frozen and view.card.risk.level("grooming") == "high"
    assert content.bank.applicability(view.profile, view.answers, view.card.risk)[DEEPER["grooming"]]
    plan = build_action_plan(content.bank, view.method, view.profile, view.answers, view.card)
    assert plan is not None
    # A card without a register keeps the shape it had.
    plain = _answered(db, content, _org_named(make, "No Register Org"), user=None)
    assert "risk_levels" not in read_assessment(db, content, plain).card.to_dict()


def _org_named(make, name):
    return make.organisation(
        name,
        countries=list(LUMEN.countries),
        service_types=list(LUMEN.service_types),
        features=list(LUMEN.features),
        size_band=LUMEN.size_band,
        hq_country=LUMEN.hq_country,
    )


def test_the_profile_fields_are_one_list_with_the_age_groups(content):
    from dataclasses import fields

    from dd_toolkit.engine import snapshot
    from dd_toolkit.engine.content import Profile, conditions
    from dd_toolkit.engine.risk import age_groups_for
    from dd_toolkit.web.orgs import routes

    names = tuple(f.name for f in fields(Profile))
    assert "age_groups" in names
    assert conditions.PROFILE_FIELDS == snapshot.PROFILE_FIELDS == names
    assert routes.PROFILE_FIELDS == ("name", "description", *names)
    assert "age_groups" in conditions.PROFILE_LIST_FIELDS
    leaf = conditions.parse_condition({"profile": "age_groups", "includes": "age_13_15"})
    assert content.bank.describe_leaf(leaf) == "The organisation's age groups include 13-15 years"
    profile = Profile(features=("direct_messaging",), age_groups=("age_16_17", "age_13_15"))
    assert age_groups_for(content.bank.taxonomy, profile) == ("age_13_15", "age_16_17")  # youngest first
    assert snapshot.profile_from({"age_groups": ["age_13_15"]}).age_groups == ("age_13_15",)
    assert snapshot.profile_from({}).age_groups == ()  # a snapshot from before has none
