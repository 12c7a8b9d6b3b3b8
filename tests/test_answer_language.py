"""Issue 15, deliverable 5: a company's own words stay as written, with the language they were
written in, and a reader in another language sees which language that is."""

from __future__ import annotations

from sqlmodel import select

from dd_toolkit.engine.content import AnswerData
from dd_toolkit.records.assessments import answer_rows, submit
from dd_toolkit.records.models import Assessment, PlatformRole, Recipient, Submission

from .test_assess import POLICY, answers_of, hidden_versions

THAI_COMMENT = "เจ้าของนโยบายระบุไว้ในกฎบัตรปี 2026"


def _save_policy(client, forms, assessment_id: int, comment: str):
    url = POLICY.format(id=assessment_id)
    versions = hidden_versions(client.get(url).get_data(as_text=True))
    response = forms.post(
        url,
        {**versions, "mini-policy-owner-value": "2", "mini-policy-owner-comment": comment, "save": "Save"},
    )
    assert response.status_code == 302


def test_words_keep_the_language_they_were_written_in_and_the_regulator_sees_it(client, forms, auth, make, session):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    client.set_cookie("dd_language", "th")
    forms.post("/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/")
    assessment = session.exec(select(Assessment)).one()
    _save_policy(client, forms, assessment.id, THAI_COMMENT)
    assert answers_of(session, assessment.id)["mini.policy.owner"].meta["language"] == "th"

    # Saved again from an English page, unchanged: still the Thai words they are.
    client.set_cookie("dd_language", "en")
    _save_policy(client, forms, assessment.id, THAI_COMMENT)
    session.expire_all()
    assert answers_of(session, assessment.id)["mini.policy.owner"].meta["language"] == "th"

    rest = {qid: value for qid, value in make.complete_answers().items() if qid != "mini.policy.owner"}
    make.answer(assessment, admin, rest)
    submit(session, make.bank, make.content.current_methodology, assessment, None, jurisdictions=["SG"])
    recipient = session.exec(select(Recipient).join(Submission).where(Submission.assessment_id == assessment.id)).one()
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    section = f"/review/{recipient.id}/sections/mini.policy"
    page = client.get(section).get_data(as_text=True)
    assert f'<p class="pre hint" lang="th">{THAI_COMMENT}</p>' in page
    assert '<span class="hint written-in" lang="en">written in ไทย</span>' in page

    # A Thai-reading regulator is not told the obvious.
    client.set_cookie("dd_language", "th")
    page = client.get(section).get_data(as_text=True)
    assert f'lang="th">{THAI_COMMENT}</p>' in page and "written-in" not in page


def test_changed_words_take_the_writers_language_and_answers_without_words_carry_none(
    client, forms, auth, make, session
):
    org = make.organisation()
    auth.login(make.user(org).email)
    client.set_cookie("dd_language", "th")
    forms.post("/assessments/new", {"cycle": "2026", "prefill_from": ""}, page="/assessments/")
    assessment = session.exec(select(Assessment)).one()
    _save_policy(client, forms, assessment.id, "")
    assert "language" not in answers_of(session, assessment.id)["mini.policy.owner"].meta
    _save_policy(client, forms, assessment.id, THAI_COMMENT)
    client.set_cookie("dd_language", "id")
    _save_policy(client, forms, assessment.id, "Pemilik kebijakan disebut dalam piagam 2026.")
    session.expire_all()
    assert answers_of(session, assessment.id)["mini.policy.owner"].meta["language"] == "id"


def test_a_language_that_is_not_a_language_code_is_not_kept():
    from pathlib import Path

    from dd_toolkit.engine.content import load_bank
    from dd_toolkit.engine.content.values import build_answer

    bank = load_bank(Path(__file__).parent / "fixtures" / "content")
    question = bank.questions["mini.policy.owner"]
    kept = build_answer(question, value=2, comment="words", meta={"language": "vi"})
    assert kept.meta == {"language": "vi"}
    for odd in ("<script>", "english", "", 3, None):
        assert "language" not in build_answer(question, value=2, comment="words", meta={"language": odd}).meta


def test_words_saved_before_languages_were_recorded_are_not_changed_by_saving_again(client, forms, auth, make, session):
    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers={"mini.policy.owner": 2})
    make.answer(assessment, admin, {"mini.policy.owner": AnswerData(value=2, comment="Named in the charter.")})
    session.expire_all()
    before = answers_of(session, assessment.id)["mini.policy.owner"]
    version = answer_rows(session, assessment.id)["mini.policy.owner"].version
    assert "language" not in before.meta
    auth.login(admin.email)
    _save_policy(client, forms, assessment.id, "Named in the charter.")
    session.expire_all()
    after = answers_of(session, assessment.id)["mini.policy.owner"]
    assert after == before  # nothing new to store: the same words, still without a language
    assert answer_rows(session, assessment.id)["mini.policy.owner"].version == version
