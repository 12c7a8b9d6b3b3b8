"""A refused input is explained in the reader's language: the engine and the records layers write
their refusals as marked English templates with their parameters apart (dd_toolkit.engine.text),
and the web translates them (dd_toolkit.web.problems), numbers written as the reader's language
writes them. The English stays what the CLI, the logs and the API read (``str(exc)``)."""

from __future__ import annotations

import html
import re

import pytest

from dd_toolkit.engine.content.values import AnswerValueError, build_answer
from dd_toolkit.engine.text import N_, Message, message_of

from .test_assess import OPS, POLICY
from .test_risk_pages import _cell_form, _start, world  # noqa: F401  (the fixture)


def _errors(response) -> str:
    """The text of the page's error messages (the summary and beside each field)."""
    return html.unescape(response.get_data(as_text=True))


def _post_ops(forms, assessment_id: int, **fields):
    return forms.post(
        OPS.format(id=assessment_id),
        {
            **{f"mini-ops-reports-{k}": v for k, v in fields.items()},
            "mini-ops-reports-base_version": "0",
            "save": "Save",
        },
    )


def test_a_message_reads_as_english_and_keeps_its_template_and_parameters(make):
    text = Message(N_("Enter a number of at least %(minimum)s."), minimum=0)
    assert text == "Enter a number of at least 0." and isinstance(text, str)
    assert text.message == "Enter a number of at least %(minimum)s." and text.params == {"minimum": 0}
    question = make.bank.questions["mini.ops.reports"]
    with pytest.raises(AnswerValueError) as caught:
        build_answer(question, value="-3")
    assert str(caught.value) == "Enter a number of at least 0."
    assert caught.value.message == "Enter a number of at least %(minimum)s." and caught.value.params == {"minimum": 0}
    assert message_of(caught.value) == "Enter a number of at least 0."
    assert message_of(caught.value.errors["value"]).params == {"minimum": 0}


@pytest.mark.parametrize(
    ("fields", "english", "thai"),
    [
        ({"value": "-3"}, "Enter a number of at least 0.", "โปรดกรอกตัวเลขตั้งแต่ 0 ขึ้นไป"),
        ({"value": "abc"}, "Enter a number, for example 1250 or 12.5.", "โปรดกรอกตัวเลข เช่น 1250 หรือ 12.5"),
        (
            {"value": "40", "period_start": "31/12/2026"},
            "Enter a date as YYYY-MM-DD.",
            "โปรดกรอกวันที่ในรูปแบบ YYYY-MM-DD",
        ),
    ],
)
def test_a_bad_number_or_date_is_explained_in_thai_and_in_english(client, forms, company, make, fields, english, thai):
    org, admin = company
    assessment = make.assessment(org, admin)
    client.set_cookie("dd_language", "th")
    refused = _post_ops(forms, assessment.id, **fields)
    assert refused.status_code == 422
    page = _errors(refused)
    assert thai in page and english not in page
    client.set_cookie("dd_language", "en")
    refused = _post_ops(forms, assessment.id, **fields)
    assert refused.status_code == 422
    page = _errors(refused)
    assert english in page and thai not in page


def test_a_bad_evidence_link_is_explained_in_thai(client, forms, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    client.set_cookie("dd_language", "th")
    refused = forms.post(
        POLICY.format(id=assessment.id),
        {
            "mini-policy-owner-value": "1",
            "mini-policy-owner-base_version": "0",
            "mini-policy-owner-evidence-0-url": "javascript:alert(1)",
            "save": "Save",
        },
    )
    assert refused.status_code == 422
    page = _errors(refused)
    assert "ลิงก์หลักฐานต้องขึ้นต้นด้วย http:// หรือ https://" in page
    assert "Evidence links must start with" not in page


def test_a_bound_is_written_as_the_readers_language_writes_numbers(client, forms, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    client.set_cookie("dd_language", "id")
    refused = _post_ops(forms, assessment.id, value="1" + "0" * 30)
    assert "Masukkan angka yang tidak lebih besar dari 1.000.000.000.000.000." in _errors(refused)
    client.set_cookie("dd_language", "en")
    refused = _post_ops(forms, assessment.id, value="1" + "0" * 30)
    assert "Enter a number no larger than 1,000,000,000,000,000." in _errors(refused)


def test_a_refused_risk_cell_is_explained_in_thai(world):  # noqa: F811
    url = _start(world)
    cell = f"{url}/grooming/age_13_15"
    world["client"].set_cookie("dd_language", "th")
    refused = world["forms"].post(cell, _cell_form(world["control"], **{"cell-rationale": ""}), page=cell)
    assert refused.status_code == 422
    page = _errors(refused)
    assert "โปรดอธิบายการให้ระดับและวิธีที่มาตรการควบคุมลดความเสี่ยง" in page
    assert "Explain the rating and how the controls lower the risk." not in page
    world["client"].set_cookie("dd_language", "en")
    refused = world["forms"].post(cell, _cell_form(world["control"], **{"cell-rationale": ""}), page=cell)
    assert "Explain the rating and how the controls lower the risk." in _errors(refused)


def test_the_record_of_the_register_is_refused_in_thai(world):  # noqa: F811
    url = _start(world)
    world["client"].set_cookie("dd_language", "th")
    refused = world["forms"].post(url, {"register-assessed_by": "", "register-base_version": "1"})
    assert refused.status_code == 422
    page = _errors(refused)
    assert "โปรดระบุผู้ดำเนินการประเมิน" in page and "Say who carried out the assessment." not in page
    assert not re.search(r"Keep this under \d+ characters", page)


def test_an_account_refusal_is_explained_in_thai(client, auth, forms, make):
    user = make.user(make.organisation())
    auth.login(user.email)
    client.set_cookie("dd_language", "th")
    new = "a brand new passphrase"
    wrong = forms.post("/auth/account", {"current": "not my password", "password": new, "confirm": new})
    page = _errors(wrong)
    assert "รหัสผ่านปัจจุบันไม่ถูกต้อง" in page and "The current password is not right." not in page


def test_a_refused_review_move_names_the_statuses_in_the_readers_language(app):
    from dd_toolkit.engine.text import N_, Message
    from dd_toolkit.web.problems import problem_text

    current, target = Message(N_("Received")), Message(N_("Reviewed"))
    options = Message(N_("“%(status)s”"), status=Message(N_("In review")))
    refusal = Message(
        N_("A submission that is “%(current)s” can move to %(options)s, not to “%(target)s”."),
        current=current,
        options=options,
        target=target,
    )
    assert str(refusal) == "A submission that is “Received” can move to “In review”, not to “Reviewed”."
    with app.test_request_context(headers={"Accept-Language": "th"}):
        app.preprocess_request()
        shown = problem_text(refusal)
    assert "Received" not in shown and "In review" not in shown and "submission" not in shown
    assert "“" in shown


@pytest.mark.parametrize(
    ("content", "english", "thai"),
    [
        (b"\xff\xfe", "The file is not UTF-8 text.", "ไฟล์ไม่ใช่ข้อความ UTF-8"),
        (b"{not json", "The file is not valid JSON", "ไฟล์ไม่ใช่ JSON ที่ถูกต้อง (บรรทัด 1"),
    ],
)
def test_a_refused_import_is_explained_in_thai(client, forms, company, content, english, thai):
    from io import BytesIO

    client.set_cookie("dd_language", "th")
    refused = forms.post(
        "/assessments/import",
        {"file": (BytesIO(content), "bad.json")},
        page="/assessments/",
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert thai in page and english not in page
