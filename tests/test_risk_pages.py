"""The children's risk register in the browser (issue 14), through the test client with CSRF on:
the grid pre-filled from the profile, a cell saved, refused with every typed value kept, and a
conflict that keeps the typing and shows the other person's version; the register's record;
the significant-change reassessment; and the regulator's view of a submitted register."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from dd_toolkit.records import database, risk
from dd_toolkit.records.assessments import answer_rows, profile_of, save_answers, start_assessment, submit
from dd_toolkit.records.demo import COMPANIES, demo_answers
from dd_toolkit.records.models import Assessment, PlatformRole

from .conftest import Forms
from .factories import PASSWORD, Factory
from .test_risk_register import answer_what_the_register_brings

LUMEN = COMPANIES[0]


@pytest.fixture
def world(real_app):
    content = real_app.extensions["dd_content"]
    with database.standalone_session(real_app.extensions["dd_engine"]) as db:
        make = Factory(db, content)
        org = make.organisation(
            "Lumen Pages",
            countries=list(LUMEN.countries),
            service_types=list(LUMEN.service_types),
            features=list(LUMEN.features),
            size_band=LUMEN.size_band,
            hq_country="SG",
        )
        admin = make.user(org)
        assessment = start_assessment(db, content.bank, org, 2026, admin)
        answers = demo_answers(content.bank, profile_of(org), LUMEN, 2026)
        save_answers(db, assessment, admin, {qid: (a, 0) for qid, a in answers.items()})
        control = next(q for q in content.current_methodology.risk.addressed_by["grooming"] if q in answers)
        client = real_app.test_client()
        forms = Forms(client)
        assert forms.post("/auth/login", {"email": admin.email, "password": PASSWORD}).status_code == 302
        yield {
            "db": db,
            "make": make,
            "content": content,
            "org": org,
            "admin": admin,
            "assessment": assessment,
            "client": client,
            "forms": forms,
            "control": control,
        }


def _cell_form(control, **changes):
    data = {
        "cell-relevant": "yes",
        "cell-likelihood": "likely",
        "cell-likelihood_evidence": ["user_reports", "research"],
        "cell-impact": "severe",
        "cell-impact_evidence": ["incidents"],
        "cell-controls": [control],
        "cell-residual": "high",
        "cell-rationale": "Adults can message teenagers; detection covers part of it.",
        "cell-owner": "Head of Trust and Safety",
        "cell-base_version": "0",
    }
    data.update(changes)
    return data


def _start(world):
    url = f"/assessments/{world['assessment'].id}/risk"
    page = world["client"].get(url)
    assert page.status_code == 200
    assert "Start the risk register" in page.get_data(as_text=True)
    started = world["forms"].post(f"{url}/start", page=url)
    assert started.status_code == 302
    return url


def test_the_overview_links_to_the_register(world):
    page = world["client"].get(f"/assessments/{world['assessment'].id}").get_data(as_text=True)
    assert f'href="/assessments/{world["assessment"].id}/risk"' in page
    assert "Start the risk register" in page


def test_the_grid_is_prefilled_from_the_profile_with_factors(world):
    url = _start(world)
    page = world["client"].get(url).get_data(as_text=True)
    assert "Grooming" in page and "13" in page
    assert "Direct or private messaging" in page  # a factor of the harm
    assert "Private one-to-one messages let an adult" in page  # and why it raises it
    assert 'role="region"' in page  # the grid scrolls in its own region on a phone
    assert page.count(">Not rated<") >= 5


def test_a_cell_saves_and_shows_its_residual_level(world):
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    page = world["client"].get(cell)
    assert page.status_code == 200 and 'data-draft-key="dd-toolkit/draft/v1/' in page.get_data(as_text=True)
    saved = world["forms"].post(cell, _cell_form(world["control"]), page=cell)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/risk/grooming/age_13_15")
    grid = world["client"].get(url).get_data(as_text=True)
    assert re.search(r'id="cell-grooming-age_13_15">\s*<a[^>]*><span class="risk-level risk-high">High', grid)
    # The cell page shows what was saved: the chosen control is checked.
    again = world["client"].get(cell).get_data(as_text=True)
    control = world["control"]
    assert re.search(f'checked id="cell-controls-[^"]+" name="cell-controls" type="checkbox" value="{control}"', again)
    # Saved in the register data, with its owner.
    data = risk.register_data(world["db"], world["assessment"])
    assert data["cells"][0]["owner"] == "Head of Trust and Safety"


def test_a_refused_cell_keeps_every_typed_value_and_says_why(world):
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    refused = world["forms"].post(cell, _cell_form(world["control"], **{"cell-rationale": ""}), page=cell)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="error-summary"' in page and 'href="#cell-rationale"' in page
    assert 'aria-invalid="true" id="cell-rationale"' in page or 'aria-invalid="true" id="cell-rationale"' in page
    assert 'checked id="cell-likelihood-likely"' in page and 'value="Head of Trust and Safety"' in page
    # "Not relevant" needs a reason.
    not_relevant = {"cell-relevant": "no", "cell-not_relevant_reason": "", "cell-base_version": "0"}
    refused = world["forms"].post(f"{url}/csam/age_0_5", not_relevant, page=f"{url}/csam/age_0_5")
    assert refused.status_code == 422 and 'href="#cell-not_relevant_reason"' in refused.get_data(as_text=True)
    assert risk.cell_rows(world["db"], world["assessment"].id) == {}


def test_a_conflict_keeps_the_typing_and_shows_the_other_version(world):
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    assert world["forms"].post(cell, _cell_form(world["control"]), page=cell).status_code == 302
    # This person's form was loaded at version 0, before the save above.
    mine = _cell_form(world["control"], **{"cell-residual": "medium", "cell-rationale": "My own rationale."})
    clash = world["forms"].post(cell, mine, page=cell)
    assert clash.status_code == 422
    page = clash.get_data(as_text=True)
    assert "changed this cell while you were editing" in page
    assert "Adults can message teenagers" in page  # theirs, shown
    assert "My own rationale." in page and 'checked id="cell-residual-medium"' in page  # mine, kept
    assert 'name="cell-base_version" type="hidden" value="1"' in page  # saving again replaces theirs
    again = world["forms"].post(cell, {**mine, "cell-base_version": "1"}, page=cell)
    assert again.status_code == 302
    world["db"].expire_all()
    assert risk.cell_rows(world["db"], world["assessment"].id)[("grooming", "age_13_15")].fields["residual"] == "medium"


def test_the_record_of_the_register_saves_and_is_checked(world):
    url = _start(world)
    refused = world["forms"].post(url, {"register-assessed_by": "", "register-base_version": "1"})
    assert refused.status_code == 422 and 'href="#register-assessed_by"' in refused.get_data(as_text=True)
    saved = world["forms"].post(
        url,
        {
            "register-assessed_by": "Safety lead and DPO",
            "register-method": "Workshops with moderators; data review.",
            "register-sources": ["research", "user_reports"],
            "register-reviewed": "y",
            "register-base_version": "1",
        },
    )
    assert saved.status_code == 302
    world["db"].expire_all()
    data = risk.register_data(world["db"], world["assessment"])
    assert data["assessed_by"] == "Safety lead and DPO" and data["reviewed_at"]
    stale = world["forms"].post(
        url, {"register-assessed_by": "Late", "register-method": "x", "register-base_version": "1"}
    )
    assert stale.status_code == 422 and "changed the record while you were editing" in stale.get_data(as_text=True)


def test_a_contributor_edits_but_a_stranger_is_refused(world, real_app):
    url = _start(world)
    other = world["make"].organisation("Other")
    stranger = world["make"].user(other)
    client = real_app.test_client()
    Forms(client).post("/auth/login", {"email": stranger.email, "password": PASSWORD})
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/grooming/age_13_15").status_code == 404


def test_significant_change_and_the_regulator_view(world, real_app):
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    assert world["forms"].post(cell, _cell_form(world["control"]), page=cell).status_code == 302
    db, content = world["db"], world["content"]
    assessment = db.get(Assessment, world["assessment"].id)
    assert answer_what_the_register_brings(db, content, assessment, world["admin"])  # grooming rated high
    submit(db, content.bank, content.current_methodology, assessment, world["admin"], jurisdictions=["SG"])
    # Read-only once submitted.
    page = world["client"].get(cell).get_data(as_text=True)
    assert 'name="cell-rationale"' not in page and "Adults can message teenagers" in page
    # A significant change opens a new draft version with the register.
    moved = world["forms"].post(
        f"{url}/significant-change", {"change_note": "We launched live streaming in Brazil."}, page=url
    )
    assert moved.status_code == 302
    draft_url = moved.headers["Location"]
    assert draft_url != url
    page = world["client"].get(draft_url).get_data(as_text=True)
    assert "We launched live streaming in Brazil." in page and "to review" in page
    # The regulator of Singapore sees the frozen register of the submission.
    regulator = world["make"].user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    client = real_app.test_client()
    Forms(client).post("/auth/login", {"email": regulator.email, "password": PASSWORD})
    from sqlmodel import select

    from dd_toolkit.records.models import Recipient, Submission

    recipient = db.exec(
        select(Recipient)
        .join(Submission, Submission.id == Recipient.submission_id)
        .where(Submission.assessment_id == assessment.id)
    ).one()
    submission_page = client.get(f"/review/{recipient.id}")
    text = submission_page.get_data(as_text=True)
    assert submission_page.status_code == 200, text[:500]
    assert "risk-register" in text and "Grooming" in text and "High" in text
    assert answer_rows(db, assessment.id)  # the answers stay with the frozen assessment


def test_each_action_shows_the_risks_it_reduces_and_follows_the_register(world):
    """The action plan page and its document name the register's risks each action reduces; the
    item's fragment is kept per worker, so a changed rating must show on the next request."""
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    assert world["forms"].post(cell, _cell_form(world["control"]), page=cell).status_code == 302
    plan_url = f"/assessments/{world['assessment'].id}/action-plan"
    page = world["client"].get(plan_url).get_data(as_text=True)
    assert "Reduces these risks in the register" in page
    assert '13-15 years: <span class="risk-level risk-high">High</span>' in page
    document = world["client"].get(f"{plan_url}.md").get_data(as_text=True)
    assert "**Reduces these risks in the register:** Grooming, 13-15 years (residual risk high)" in document
    # The rating changes: the page kept before must not be served again.
    lower = _cell_form(world["control"], **{"cell-residual": "medium", "cell-base_version": "1"})
    assert world["forms"].post(cell, lower, page=cell).status_code == 302
    page = world["client"].get(plan_url).get_data(as_text=True)
    assert '13-15 years: <span class="risk-level risk-medium">Medium</span>' in page
    assert '13-15 years: <span class="risk-level risk-high">High</span>' not in page
    document = world["client"].get(f"{plan_url}.md").get_data(as_text=True)
    assert "Grooming, 13-15 years (residual risk medium)" in document


def test_a_harm_rated_high_brings_its_deeper_question_onto_the_section_page(world):
    url = _start(world)
    section = f"/assessments/{world['assessment'].id}/sections/hrdd.act_harms"
    field = 'name="hrdd-act-grooming_contact_patterns-'
    page = world["client"].get(section).get_data(as_text=True)
    assert field not in page  # listed among the questions not asked, with why
    assert re.search(r"does not hold:</span>\s*<span[^>]*>✗</span> The risk register rates Grooming Medium", page)
    cell = f"{url}/grooming/age_13_15"
    assert world["forms"].post(cell, _cell_form(world["control"]), page=cell).status_code == 302
    page = world["client"].get(section).get_data(as_text=True)
    assert field in page and "Your risk register rates grooming medium or high." in page
    assert "The risk register rates Grooming Medium or higher (before the controls)" in page  # why it is asked


def test_a_new_cycle_starts_from_the_last_register_by_itself(world):
    """Starting next year's assessment carries the register forward: cells, levels, evidence,
    controls and rationales, each marked for review; the changes since are marked as such."""
    url = _start(world)
    for group in ("age_13_15", "age_16_17"):
        cell = f"{url}/grooming/{group}"
        assert world["forms"].post(cell, _cell_form(world["control"]), page=cell).status_code == 302
    db, content = world["db"], world["content"]
    assessment = db.get(Assessment, world["assessment"].id)
    answer_what_the_register_brings(db, content, assessment, world["admin"])
    submit(db, content.bank, content.current_methodology, assessment, world["admin"], jurisdictions=[])
    before = {key: row.fields for key, row in risk.cell_rows(db, assessment.id).items()}
    started = world["forms"].post(
        "/assessments/new", {"cycle": "2027", "prefill_from": str(assessment.id)}, page="/assessments/"
    )
    assert started.status_code == 302
    following = db.exec(
        select(Assessment).where(Assessment.organisation_id == world["org"].id, Assessment.cycle == 2027)
    ).one()
    db.expire_all()
    register = risk.register_of(db, following.id)
    assert register is not None and register.previous_assessment_id == assessment.id
    rows = risk.cell_rows(db, following.id)
    assert {key: row.fields for key, row in rows.items()} == before  # levels, evidence, controls, rationale
    assert {row.owner for row in rows.values()} == {"Head of Trust and Safety"}
    assert not any(row.reviewed for row in rows.values())
    assert risk.changed_since_last(db, following) == set()
    page = world["client"].get(f"/assessments/{following.id}/risk").get_data(as_text=True)
    assert "Start the risk register" not in page
    assert "Started from the register of 2026, version 1." in page and page.count(">to review<") == 2
    # The team reviews a cell and changes its rating: it is marked changed, the other still to review.
    cell = f"/assessments/{following.id}/risk/grooming/age_13_15"
    lower = _cell_form(world["control"], **{"cell-residual": "medium", "cell-base_version": "1"})
    assert world["forms"].post(cell, lower, page=cell).status_code == 302
    db.expire_all()
    assert risk.changed_since_last(db, following) == {("grooming", "age_13_15")}
    page = world["client"].get(f"/assessments/{following.id}/risk").get_data(as_text=True)
    assert page.count(">changed<") == 1 and page.count(">to review<") == 1


def test_the_profile_age_groups_prefill_the_register(world):
    """The profile says which age groups use or may use the service; the register's grid is
    pre-filled for those, and the profile travels with the portable file and the snapshot."""
    org = world["org"]
    form = {
        "name": org.name,
        "description": "A messaging app for teenagers.",
        "hq_country": org.hq_country,
        "countries": list(org.countries),
        "service_types": list(org.service_types),
        "size_band": org.size_band,
        "features": list(org.features),
        "under18_users": "yes",
        "age_groups": ["age_13_15", "age_16_17"],
    }
    page = world["client"].get("/organisation/profile").get_data(as_text=True)
    assert 'name="age_groups" type="checkbox" value="age_0_5"' in page
    assert world["forms"].post("/organisation/profile", form).status_code == 302
    db = world["db"]
    db.expire_all()
    assert profile_of(db.get(type(org), org.id)).age_groups == ("age_13_15", "age_16_17")
    url = _start(world)
    grid = world["client"].get(url).get_data(as_text=True)
    assert 'id="cell-grooming-age_13_15"' in grid and 'id="cell-grooming-age_16_17"' in grid
    assert 'id="cell-grooming-age_10_12"' not in grid and 'id="cell-grooming-age_0_5"' not in grid
    # In the portable file and, once submitted, in the frozen snapshot and its decoded record.
    from dd_toolkit.records.assessments import export_document
    from dd_toolkit.records.models import SubmissionRecord

    assessment = db.get(Assessment, world["assessment"].id)
    assert export_document(db, assessment)["organisation"]["age_groups"] == ["age_13_15", "age_16_17"]
    content = world["content"]
    submit(db, content.bank, content.current_methodology, assessment, world["admin"], jurisdictions=[])
    record = db.exec(select(SubmissionRecord).where(SubmissionRecord.organisation_id == org.id)).one()
    assert record.age_groups == ["age_13_15", "age_16_17"]
    # Without age groups in the profile, the whole range the taxonomy knows is offered.
    form["age_groups"] = []
    assert world["forms"].post("/organisation/profile", form).status_code == 302
    db.expire_all()
    assert profile_of(db.get(type(org), org.id)).age_groups == ()


def test_a_saved_cell_has_the_documents_rendered_ahead_of_their_download(world, real_app, monkeypatch):
    from dd_toolkit.engine import documents
    from dd_toolkit.web.outputs.store import documents_to_render

    rendered: list[str] = []
    monkeypatch.setattr(documents, "pdf_from_html", lambda html: rendered.append(html) or b"%PDF-1.7 stand-in")
    real_app.config["PRERENDER_DOCUMENTS"] = True
    url = _start(world)
    documents_to_render.join()
    rendered.clear()
    cell = f"{url}/grooming/age_13_15"
    saved = world["forms"].post(cell, _cell_form(world["control"]), page=cell)
    assert saved.status_code == 302 and rendered == []
    saved.close()  # as a WSGI server does once the response has gone out
    documents_to_render.join()
    record = [html for html in rendered if "Adults can message teenagers" in html]
    assert len(record) == 1  # the risk assessment's record, with the cell just saved
    before = len(rendered)
    download = world["client"].get(f"/assessments/{world['assessment'].id}/risk-assessment.pdf")
    assert download.status_code == 200 and len(rendered) == before  # from the store
