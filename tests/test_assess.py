"""The company's answer-save-submit flow through the real pages."""

import hashlib
import json
import re

import pytest
from sqlmodel import select

from dd_toolkit.engine.portable import canonical_json
from dd_toolkit.records.assessments import answers_of
from dd_toolkit.records.models import Answer, Assessment, AuditEvent, OrgRole, Submission

POLICY = "/assessments/{id}/sections/mini.policy"
OPS = "/assessments/{id}/sections/mini.ops"


def hidden_versions(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="([a-z0-9_-]+-base_version)" type="hidden" value="(\d+)"', html))


def test_empty_state_explains_what_to_do(client, company):
    page = client.get("/assessments/").get_data(as_text=True)
    assert "No assessments yet" in page
    assert "Start an assessment" in page


def test_start_needs_a_complete_profile(client, forms, make, auth):
    org = make.organisation(service_types=[], size_band=None)
    auth.login(make.user(org).email)
    response = forms.post("/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/")
    assert response.headers["Location"].endswith("/organisation/profile")


def test_start_and_refuse_second_draft(client, forms, company, session):
    org, _ = company
    response = forms.post("/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/")
    assert response.status_code == 302
    assessment = session.exec(select(Assessment).where(Assessment.organisation_id == org.id)).one()
    assert assessment.questionnaire_versions == {"mini": "test.1"}
    again = forms.post(
        "/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/", follow_redirects=True
    )
    assert "already a draft assessment for 2026" in again.get_data(as_text=True)


def test_overview_lists_sections_with_progress(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin, answers={"mini.policy.owner": 2})
    page = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    assert "Policy" in page and "Operations" in page
    assert "1 of 2" in page  # owner + exists apply in Policy before a policy exists
    assert "In progress" in page and "Not started" in page


def test_section_save_and_resume(client, forms, company, session):
    org, admin = company
    forms.post("/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/")
    assessment = session.exec(select(Assessment)).one()
    url = POLICY.format(id=assessment.id)
    response = forms.post(
        url,
        {
            "mini-policy-owner-value": "2",
            "mini-policy-owner-base_version": "0",
            "mini-policy-owner-comment": "Owner named in the 2026 charter.",
            "mini-policy-owner-evidence-0-url": "https://intranet.example/charter",
            "mini-policy-owner-evidence-0-description": "Charter",
            "mini-policy-exists-value": "yes",
            "mini-policy-exists-base_version": "0",
            "save": "Save",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    # Leave, come back: the answers are there and a conditional follow-up has appeared.
    client.get("/")
    page = client.get(url).get_data(as_text=True)
    assert '<input checked id="mini-policy-owner-value-2"' in page
    assert "Owner named in the 2026 charter." in page
    assert "https://intranet.example/charter" in page
    assert "What does the policy cover?" in page
    saved = answers_of(session, assessment.id)
    assert saved["mini.policy.owner"].value == 2
    assert saved["mini.policy.owner"].evidence[0].url == "https://intranet.example/charter"
    assert saved["mini.policy.exists"].value == "yes"
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "answer.save")).all()
    assert {e.entity_id for e in events} == {
        f"{assessment.id}:mini.policy.owner",
        f"{assessment.id}:mini.policy.exists",
    }


def test_invalid_value_keeps_typed_text_and_earlier_answers(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers={"mini.ops.notes": "Our escalation path.", "mini.policy.owner": 3})
    url = OPS.format(id=assessment.id)
    versions = hidden_versions(client.get(url).get_data(as_text=True))
    response = forms.post(
        url,
        {
            **versions,
            "mini-ops-reports-value": "about twelve",
            "mini-ops-notes-value": "Our escalation path, now with a 1-hour target.",
            "mini-ops-live-value": "proactive",
            "save": "Save",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="about twelve"' in page
    assert "Enter a number, for example 1250 or 12.5." in page
    assert 'aria-invalid="true"' in page
    # Valid answers in the same form were saved; earlier answers elsewhere are untouched.
    saved = answers_of(session, assessment.id)
    assert saved["mini.ops.notes"].value == "Our escalation path, now with a 1-hour target."
    assert saved["mini.ops.live"].value == "proactive"
    assert saved["mini.policy.owner"].value == 3
    assert "mini.ops.reports" not in saved
    # The re-shown form carries the new version numbers, so saving again is not a conflict.
    fixed = forms.post(
        url,
        {
            **hidden_versions(page),
            "mini-ops-notes-value": "Our escalation path, now with a 1-hour target.",
            "mini-ops-live-value": "proactive",
            "mini-ops-reports-value": "12",
            "save": "Save",
        },
        page=url,
    )
    assert fixed.status_code == 302
    assert answers_of(session, assessment.id)["mini.ops.reports"].value == 12


def test_not_applicable_needs_justification(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    url = POLICY.format(id=assessment.id)
    response = forms.post(
        url, {"mini-policy-exists-not_applicable": "y", "mini-policy-exists-base_version": "0", "save": "Save"}
    )
    assert response.status_code == 422
    assert "Say why this question does not apply to you." in response.get_data(as_text=True)
    assert answers_of(session, assessment.id) == {}
    # The owner question is critical, so core: it refuses "not applicable" even with a reason.
    core = forms.post(
        url,
        {
            "mini-policy-owner-not_applicable": "y",
            "mini-policy-owner-justification": "We have no staff.",
            "mini-policy-owner-base_version": "0",
            "save": "Save",
        },
    )
    assert core.status_code == 422
    assert answers_of(session, assessment.id) == {}
    # ... and its form offers no "not applicable" control at all.
    page = client.get(url).get_data(as_text=True)
    assert 'name="mini-policy-owner-not_applicable"' not in page
    assert 'name="mini-policy-exists-not_applicable"' in page
    ok = forms.post(
        url,
        {
            "mini-policy-exists-not_applicable": "y",
            "mini-policy-exists-justification": "We have no staff.",
            "mini-policy-exists-base_version": "0",
            "save": "Save",
        },
    )
    assert ok.status_code == 302
    saved = answers_of(session, assessment.id)["mini.policy.exists"]
    assert saved.not_applicable and saved.justification == "We have no staff." and saved.value is None


def test_evidence_must_be_a_web_link(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    response = forms.post(
        POLICY.format(id=assessment.id),
        {
            "mini-policy-owner-value": "1",
            "mini-policy-owner-base_version": "0",
            "mini-policy-owner-evidence-0-url": "javascript:alert(1)",
            "save": "Save",
        },
    )
    assert response.status_code == 422
    assert "Evidence links must start with http:// or https://." in response.get_data(as_text=True)
    assert 'value="javascript:alert(1)"' in response.get_data(as_text=True)


def test_metric_keeps_period_and_methodology(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    url = OPS.format(id=assessment.id)
    bad = forms.post(
        url,
        {
            "mini-ops-reports-value": "40",
            "mini-ops-reports-period_start": "2026-12-31",
            "mini-ops-reports-period_end": "2026-01-01",
            "mini-ops-reports-base_version": "0",
            "save": "Save",
        },
    )
    assert "The reporting period must end after it starts." in bad.get_data(as_text=True)
    forms.post(
        url,
        {
            "mini-ops-reports-value": "40",
            "mini-ops-reports-period_start": "2026-01-01",
            "mini-ops-reports-period_end": "2026-12-31",
            "mini-ops-reports-methodology": "Unique reports.",
            "mini-ops-reports-base_version": "0",
            "save": "Save",
        },
    )
    saved = answers_of(session, assessment.id)["mini.ops.reports"]
    assert saved.value == 40
    assert saved.meta == {"period_start": "2026-01-01", "period_end": "2026-12-31", "methodology": "Unique reports."}


def test_concurrent_edit_is_a_conflict_not_an_overwrite(app, company, make, session, auth):
    org, admin = company
    colleague = make.user(org, role=OrgRole.CONTRIBUTOR)
    assessment = make.assessment(org, admin, answers={"mini.policy.owner": 1})
    url = POLICY.format(id=assessment.id)

    from .conftest import AuthActions, Forms

    first, second = app.test_client(), app.test_client()
    AuthActions(first).login(admin.email)
    AuthActions(second).login(colleague.email)
    page_first = first.get(url).get_data(as_text=True)
    page_second = second.get(url).get_data(as_text=True)
    assert hidden_versions(page_first)["mini-policy-owner-base_version"] == "1"

    saved = Forms(second).post(url, {**hidden_versions(page_second), "mini-policy-owner-value": "3", "save": "Save"})
    assert saved.status_code == 302
    clash = Forms(first).post(url, {**hidden_versions(page_first), "mini-policy-owner-value": "2", "save": "Save"})
    page = clash.get_data(as_text=True)
    assert clash.status_code == 422
    assert f"{colleague.name} changed this answer while you were editing." in page
    assert "Level 3" in page  # their answer is shown
    assert answers_of(session, assessment.id)["mini.policy.owner"].value == 3
    # Saving again from the re-shown form is a deliberate overwrite.
    again = Forms(first).post(url, {**hidden_versions(page), "mini-policy-owner-value": "2", "save": "Save"})
    assert again.status_code == 302
    session.expire_all()
    assert answers_of(session, assessment.id)["mini.policy.owner"].value == 2


def test_profile_change_changes_questions_and_explains(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    page = client.get(OPS.format(id=assessment.id)).get_data(as_text=True)
    assert "How are live streams moderated?" in page
    response = forms.post(
        "/organisation/profile",
        {
            "name": org.name,
            "hq_country": "SG",
            "countries": ["SG"],
            "service_types": ["gaming"],
            "size_band": "startup",
            "under18_users": "yes",
            "features": ["direct_messaging"],
        },
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "Profile saved." in text
    assert "0 questions now apply and 2 no longer apply" in text
    page = client.get(OPS.format(id=assessment.id)).get_data(as_text=True)
    hidden = page.split("Not asked of you")[1]
    assert "How are live streams moderated?" in hidden
    assert "product features include Live streaming or live video" in hidden
    assert "Do you report suspicious transactions?" in hidden


def test_submit_lists_missing_questions_with_links(client, forms, company, make):
    org, admin = company
    assessment = make.assessment(org, admin, answers={"mini.policy.owner": 2})
    page = client.get(f"/assessments/{assessment.id}/submit").get_data(as_text=True)
    assert "required questions still need an answer" in page
    assert f'href="/assessments/{assessment.id}/sections/mini.policy#q-mini-policy-exists"' in page
    assert f'href="/assessments/{assessment.id}/sections/mini.ops#q-mini-ops-reports"' in page
    assert "mini-policy-owner" not in page.split("still need")[1]
    refused = forms.post(f"/assessments/{assessment.id}/submit", page=f"/assessments/{assessment.id}")
    assert "Some required questions still need an answer." in refused.get_data(as_text=True)


def test_submit_freezes_with_sha256_and_read_only(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    response = forms.post(
        f"/assessments/{assessment.id}/submit", {"jurisdictions": ["SG"], "confirm": "Submit"}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    submission = session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
    assert submission.sha256 in page
    assert hashlib.sha256(submission.snapshot.encode()).hexdigest() == submission.sha256
    snapshot = json.loads(submission.snapshot)
    assert canonical_json(snapshot) == submission.snapshot
    assert snapshot["answers"]["mini.policy.owner"]["value"] == 3
    assert snapshot["assessment"]["status"] == "submitted"
    # Read-only: the section shows answers, not inputs, and a post changes nothing.
    section = client.get(POLICY.format(id=assessment.id)).get_data(as_text=True)
    assert "answers are shown read-only" in section
    assert 'name="mini-policy-owner-value"' not in section
    forms.post(
        POLICY.format(id=assessment.id),
        {"mini-policy-owner-value": "0", "save": "Save"},
        page=f"/assessments/{assessment.id}",
    )
    session.expire_all()
    assert answers_of(session, assessment.id)["mini.policy.owner"].value == 3


def test_new_version_from_submission(client, forms, company, make, session):
    org, admin = company
    submitted = make.submitted(org, admin)
    response = forms.post(f"/assessments/{submitted.id}/new-version", page=f"/assessments/{submitted.id}")
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    draft = session.get(Assessment, new_id)
    assert draft.previous_id == submitted.id and draft.version == 2 and draft.is_draft
    assert answers_of(session, new_id) == answers_of(session, submitted.id)
    page = client.get(f"/assessments/{submitted.id}").get_data(as_text=True)
    assert "Version 2 was started from this one." in page


def test_prefill_from_previous_cycle(client, forms, company, make, session):
    org, admin = company
    previous = make.submitted(org, admin, cycle=2025)
    forms.post("/assessments/new", {"cycle": "2026", "prefill_from": str(previous.id)}, page="/assessments/")
    draft = session.exec(select(Assessment).where(Assessment.cycle == 2026)).one()
    assert answers_of(session, draft.id) == answers_of(session, previous.id)


def test_contributor_answers_but_cannot_submit_or_start(client, forms, make, auth, session):
    org = make.organisation()
    admin = make.user(org)
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    auth.login(contributor.email)
    saved = forms.post(
        POLICY.format(id=assessment.id),
        {
            **hidden_versions(client.get(POLICY.format(id=assessment.id)).get_data(as_text=True)),
            "mini-policy-owner-value": "4",
            "mini-policy-exists-value": "yes",
            "mini-policy-scope-value": ["online"],
            "save": "Save",
        },
    )
    assert saved.status_code == 302
    assert forms.post(f"/assessments/{assessment.id}/submit", page=f"/assessments/{assessment.id}").status_code == 403
    assert forms.post("/assessments/new", {"cycle": "2027"}, page="/assessments/").status_code == 403


def test_export_and_import_round_trip(client, forms, company, make, session):
    org, admin = company
    submitted = make.submitted(org, admin, cycle=2025)
    exported = client.get(f"/assessments/{submitted.id}/export.json")
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    document = exported.get_json()
    assert document["submission"]["sha256"] == session.exec(select(Submission)).one().sha256
    from io import BytesIO

    response = forms.post(
        "/assessments/import",
        {"file": (BytesIO(exported.data), "a.json")},
        page="/assessments/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    imported_id = int(response.headers["Location"].rsplit("/", 1)[1])
    imported = session.get(Assessment, imported_id)
    assert imported.is_draft and imported.cycle == 2025 and imported.version == 2
    assert answers_of(session, imported_id) == answers_of(session, submitted.id)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "The file is not valid JSON (line 1"),
        (b'{"format": "something-else"}', "This is not a toolkit assessment file"),
        (b"\xff\xfe", "The file is not UTF-8 text."),
    ],
)
def test_import_bad_file_changes_nothing(client, forms, company, session, content, message):
    from io import BytesIO

    response = forms.post(
        "/assessments/import",
        {"file": (BytesIO(content), "bad.json")},
        page="/assessments/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert "Nothing was changed." in response.get_data(as_text=True)
    assert session.exec(select(Assessment)).all() == []


def test_import_rejects_bad_answers_and_tampering(client, forms, company, make, session):
    from io import BytesIO

    org, admin = company
    submitted = make.submitted(org, admin, cycle=2025)
    document = client.get(f"/assessments/{submitted.id}/export.json").get_json()
    document["answers"]["mini.policy.owner"]["value"] = 2  # changed after submission
    document["answers"]["mini.nope"] = {"value": 1}
    document["answers"]["mini.ops.reports"]["value"] = "many"
    response = forms.post(
        "/assessments/import",
        {"file": (BytesIO(json.dumps(document).encode()), "x.json")},
        page="/assessments/",
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert "it was changed after submission" in page
    assert "answers.mini.nope: no such question" in page
    assert "answers.mini.ops.reports: Enter a number" in page
    assert len(session.exec(select(Assessment)).all()) == 1
    assert len(session.exec(select(Answer)).all()) == len(make.complete_answers())
