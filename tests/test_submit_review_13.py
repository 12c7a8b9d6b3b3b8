"""Issue 13, submission and regulator review: the confirmation before submitting (never to
nobody), the reply to a clarification request reaching the regulator who asked, the status list
offering only the allowed moves, and the review page (what changed, contents and headings,
the inbox listing each submission once)."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from sqlmodel import select

from dd_toolkit.engine.content import AnswerData, Evidence
from dd_toolkit.records import review
from dd_toolkit.records.assessments import new_version, submit
from dd_toolkit.records.models import AuditEvent, PlatformRole, Recipient, ReviewEvent, ReviewStatus, Submission

from .conftest import Forms


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")  # operates in SG and MY
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


def hidden_fields(page: str) -> dict[str, list[str]]:
    """The hidden inputs of the confirmation form, as the browser would post them back."""
    form = page.split('<form method="post"', 1)[1].split("</form>", 1)[0]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        if name != "csrf_token":
            fields.setdefault(name, []).append(value)
    return fields


def checked(page: str, name: str) -> set[str]:
    """The values of the ticked checkboxes called ``name``."""
    ticked = set()
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and "checked" in tag:
            match = re.search(r'value="([^"]*)"', tag)
            ticked.add(match.group(1) if match else "")
    return ticked


def recipients_of(session, assessment_id: int) -> dict[str, Recipient]:
    rows = session.exec(select(Recipient).join(Submission).where(Submission.assessment_id == assessment_id)).all()
    return {r.jurisdiction: r for r in rows}


# -- 1. a confirmation step, never to nobody ---------------------------------------------------


def test_submitting_asks_for_a_confirmation_summarising_recipients_and_consent(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    url = f"/assessments/{assessment.id}/submit"
    forms = Forms(client)
    assert checked(client.get(url).get_data(as_text=True), "jurisdictions") == {"SG", "MY"}
    confirm = forms.post(url, {"jurisdictions": ["SG", "MY"], "benchmark_consent": "y", "review": "Continue"})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Confirm the submission" in page
    summary = page.split('id="recipients-heading"')[1].split("</section>")[0]
    assert "Malaysia" in summary and "Singapore" in summary
    assert "Included: this submission takes part in the anonymised industry benchmark" in page
    assert session.exec(select(Submission)).all() == []  # nothing is submitted yet
    carried = hidden_fields(page)
    assert carried == {"jurisdictions": ["MY", "SG"], "benchmark_consent": ["y"]}
    done = forms.post(url, {**carried, "confirm": "Submit and freeze this version"})
    assert done.status_code == 302
    submission = session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
    assert submission.benchmark_consent is True
    assert set(recipients_of(session, assessment.id)) == {"SG", "MY"}


def test_the_confirmation_goes_back_to_the_choices_as_they_were_left(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    url = f"/assessments/{assessment.id}/submit"
    forms = Forms(client)
    page = forms.post(url, {"jurisdictions": ["MY"], "review": "Continue"}).get_data(as_text=True)
    summary = page.split('id="recipients-heading"')[1].split("</section>")[0]
    assert "Malaysia" in summary and "Singapore" not in summary
    assert "Not included: this submission is left out of the anonymised industry benchmark." in page
    carried = hidden_fields(page)
    assert carried == {"jurisdictions": ["MY"]}
    back = forms.post(url, {**carried, "change": "Change"}).get_data(as_text=True)
    assert checked(back, "jurisdictions") == {"MY"}  # not the default SG and MY
    assert checked(back, "benchmark_consent") == set()
    assert session.exec(select(Submission)).all() == []


def test_submitting_to_nobody_is_refused_and_the_choices_are_kept(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    url = f"/assessments/{assessment.id}/submit"
    forms = Forms(client)
    refused = forms.post(url, {"benchmark_consent": "y", "review": "Continue"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Choose at least one regulator to send this submission to." in page
    assert "Confirm the submission" not in page
    assert checked(page, "jurisdictions") == set()  # as the user left them
    assert checked(page, "benchmark_consent") == {"y"}
    # Nor straight to the confirmation's button.
    direct = forms.post(url, {"benchmark_consent": "y", "confirm": "Submit and freeze this version"})
    assert direct.status_code == 422
    assert "Choose at least one regulator to send this submission to." in direct.get_data(as_text=True)
    assert session.exec(select(Submission)).all() == []
    session.refresh(assessment)
    assert assessment.is_draft


# -- 2. the reply to a clarification request -----------------------------------------------------


def _clarification_requested(make, session, org, admin):
    """Version 1 submitted to SG and MY; the SG regulator asks for clarification."""
    first = make.assessment(org, admin, answers=make.complete_answers())
    submit(session, make.bank, make.content.current_methodology, first, admin, jurisdictions=["SG", "MY"])
    asked = recipients_of(session, first.id)
    sg = regulator(make, "SG")
    review.transition(session, asked["SG"], ReviewStatus.IN_REVIEW, sg)
    review.transition(session, asked["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "How were reports counted?")
    draft = new_version(session, make.bank, first, admin)
    make.answer(draft, admin, {"mini.ops.reports": 150})
    return first, asked, draft


def test_the_reply_cannot_leave_out_the_regulator_who_asked(client, company, make, session):
    org, admin = company
    _first, asked, draft = _clarification_requested(make, session, org, admin)
    url = f"/assessments/{draft.id}/submit"
    page = client.get(url).get_data(as_text=True)
    assert "The regulator of Singapore asked for clarification" in page
    assert "SG" in checked(page, "jurisdictions")
    forms = Forms(client)
    for button in ({"review": "Continue"}, {"confirm": "Submit and freeze this version"}):
        refused = forms.post(url, {"jurisdictions": ["MY"], **button})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert "The regulator of Singapore asked for clarification: this version is your reply" in text
        assert checked(text, "jurisdictions") == {"MY"}
    assert recipients_of(session, draft.id) == {}
    confirm = forms.post(url, {"jurisdictions": ["SG"], "review": "Continue"}).get_data(as_text=True)
    assert "(your reply to its clarification request)" in confirm
    forms.post(url, {**hidden_fields(confirm), "confirm": "Submit and freeze this version"})
    replied = recipients_of(session, draft.id)
    assert set(replied) == {"SG"} and replied["SG"].previous_id == asked["SG"].id
    session.refresh(asked["SG"])
    assert asked["SG"].status == ReviewStatus.SUPERSEDED  # the request is closed by the reply


def test_a_new_version_always_reaches_the_regulator_who_asked(make, session):
    """Whatever calls submit (the page, the command line, a script), the reply goes to the
    regulator who asked, and their request does not stay open."""
    org = make.organisation()
    admin = make.user(org)
    _first, asked, draft = _clarification_requested(make, session, org, admin)
    submit(session, make.bank, make.content.current_methodology, draft, admin, jurisdictions=["MY"])
    replied = recipients_of(session, draft.id)
    assert set(replied) == {"SG", "MY"}
    assert replied["SG"].previous_id == asked["SG"].id
    session.refresh(asked["SG"])
    assert asked["SG"].status == ReviewStatus.SUPERSEDED
    arrival = session.exec(
        select(ReviewEvent).where(ReviewEvent.recipient_id == replied["SG"].id, ReviewEvent.kind == "submitted")
    ).one()
    assert arrival.text == "A new version answering the clarification request."
    # MY asked nothing: its new version is not called a reply.
    my_arrival = session.exec(
        select(ReviewEvent).where(ReviewEvent.recipient_id == replied["MY"].id, ReviewEvent.kind == "submitted")
    ).one()
    assert my_arrival.text == "A new version of an earlier submission."
    assert review.reply_jurisdictions(session, draft.previous_id) == []  # nobody waits any more
    # The audit entry of the submission names every regulator it went to, the one who asked too.
    audited = session.exec(
        select(AuditEvent).where(AuditEvent.action == "assessment.submit", AuditEvent.entity_id == str(draft.id))
    ).one()
    assert audited.detail["jurisdictions"] == ["MY", "SG"]


def test_a_request_on_an_older_version_is_answered_by_the_next_one_sent(make, session):
    """Version 2 went to MY only, before SG asked about version 1: version 3, started from
    version 2, is still the reply to SG, and SG sees it as the next after version 1."""
    org = make.organisation()
    admin = make.user(org)
    method = make.content.current_methodology
    first = make.assessment(org, admin, answers=make.complete_answers())
    submit(session, make.bank, method, first, admin, jurisdictions=["SG", "MY"])
    second = new_version(session, make.bank, first, admin)
    submit(session, make.bank, method, second, admin, jurisdictions=["MY"])
    asked = recipients_of(session, first.id)["SG"]
    sg = regulator(make, "SG")
    review.transition(session, asked, ReviewStatus.IN_REVIEW, sg)
    review.transition(session, asked, ReviewStatus.CLARIFICATION_REQUESTED, sg, "Why?")
    third = new_version(session, make.bank, second, admin)
    assert review.reply_jurisdictions(session, third.previous_id) == ["SG"]
    submit(session, make.bank, method, third, admin, jurisdictions=["MY"])
    replied = recipients_of(session, third.id)
    assert replied["SG"].previous_id == asked.id
    assert replied["MY"].previous_id == recipients_of(session, second.id)["MY"].id
    session.refresh(asked)
    assert asked.status == ReviewStatus.SUPERSEDED


# -- 3. the status list ----------------------------------------------------------------------


def _offered(page: str) -> list[str]:
    if 'name="to_status"' not in page:
        return []
    select_html = page.split('name="to_status"')[1].split("</select>")[0]
    return re.findall(r'<option[^>]*value="([^"]+)"', select_html)


@pytest.mark.parametrize("status", [s.value for s in ReviewStatus])
def test_the_status_list_offers_only_the_allowed_moves(client, make, auth, session, status):
    org = make.organisation()
    assessment = make.assessment(org, make.user(org), answers=make.complete_answers())
    submit(session, make.bank, make.content.current_methodology, assessment, None, jurisdictions=["SG"])
    recipient = recipients_of(session, assessment.id)["SG"]
    recipient.status = status
    session.add(recipient)
    session.commit()
    auth.login(regulator(make, "SG").email)
    page = client.get(f"/review/{recipient.id}").get_data(as_text=True)
    assert _offered(page) == list(review.TRANSITIONS[status])
    if not review.TRANSITIONS[status]:
        assert "Change status" not in page


def test_the_status_list_follows_the_servers_rules(client, make, auth, session, monkeypatch):
    """The page reads the moves from the rules the server checks, not from a copy of its own."""
    org = make.organisation()
    assessment = make.assessment(org, make.user(org), answers=make.complete_answers())
    submit(session, make.bank, make.content.current_methodology, assessment, None, jurisdictions=["SG"])
    recipient = recipients_of(session, assessment.id)["SG"]
    monkeypatch.setitem(review.TRANSITIONS, ReviewStatus.RECEIVED, (ReviewStatus.IN_REVIEW, ReviewStatus.REVIEWED))
    auth.login(regulator(make, "SG").email)
    url = f"/review/{recipient.id}"
    assert _offered(client.get(url).get_data(as_text=True)) == ["in_review", "reviewed"]
    Forms(client).post(f"{url}/status", {"to_status": "reviewed"}, page=url)
    session.refresh(recipient)
    assert recipient.status == ReviewStatus.REVIEWED


# -- 4. the review view ----------------------------------------------------------------------


def test_what_changed_shows_changes_to_evidence_and_comments(client, make, auth, session):
    org = make.organisation(name="Evidence Co")
    admin = make.user(org)
    answers = {
        **make.complete_answers(),
        "mini.policy.exists": AnswerData(
            value="yes", evidence=(Evidence("https://example.org/policy-2025", "Policy 2025"),)
        ),
        "mini.ops.live": AnswerData(value="reactive", comment="Moderators watch the busiest streams."),
    }
    first = make.assessment(org, admin, answers=answers)
    submit(session, make.bank, make.content.current_methodology, first, admin, jurisdictions=["SG"])
    draft = new_version(session, make.bank, first, admin)
    make.answer(
        draft,
        admin,
        {
            # Only the evidence changes: the value stays "yes".
            "mini.policy.exists": AnswerData(
                value="yes", evidence=(Evidence("https://example.org/policy-2026", "Policy 2026"),)
            ),
            # Only the comment changes.
            "mini.ops.live": AnswerData(value="reactive", comment="Every stream is watched for the first minute."),
        },
    )
    submit(session, make.bank, make.content.current_methodology, draft, admin, jurisdictions=["SG"])
    newer = recipients_of(session, draft.id)["SG"]
    auth.login(regulator(make, "SG").email)
    page = client.get(f"/review/{newer.id}").get_data(as_text=True)
    changes = page.split('<h2 id="changes">')[1].split("</section>")[0]
    assert "Is there a child safeguarding policy?" in changes
    assert "Evidence" in changes and "Removed:" in changes and "Added:" in changes
    assert 'href="https://example.org/policy-2025"' in changes and 'href="https://example.org/policy-2026"' in changes
    assert "Moderators watch the busiest streams." in changes
    assert "Every stream is watched for the first minute." in changes
    assert "Reports sent to a hotline" not in changes  # unchanged


def _decoded(**values):
    return {"value": None, "not_applicable": False, "justification": "", "comment": "", "evidence": [], "meta": {}} | (
        values
    )


def test_changed_answers_names_what_changed():
    before = {
        "a": _decoded(value=0),
        "b": _decoded(value=2, comment="old", evidence=[{"url": "https://x.example/1", "description": ""}]),
        "c": _decoded(value=1, comment=None, evidence=None, meta=None),
    }
    after = {
        "a": _decoded(value=None),
        "b": _decoded(value=2, comment="new", evidence=[{"url": "https://x.example/2", "description": ""}]),
        "c": _decoded(value=1),  # only empty values written another way
    }
    changes = {c.question_id: c for c in review.changed_answers(before, after)}
    assert changes["a"].aspects == ("answer",)  # 0 is an answer; none is not
    assert changes["b"].aspects == ("comment", "evidence")
    assert [e["url"] for e in changes["b"].evidence_added] == ["https://x.example/2"]
    assert [e["url"] for e in changes["b"].evidence_removed] == ["https://x.example/1"]
    assert "c" not in changes


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.headings: list[tuple[int, str | None]] = []
        self.links: list[str] = []  # every link
        self.contents: list[str] = []  # the links of the contents
        self.in_toc = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append((int(tag[1]), attrs.get("id")))
        if tag == "nav" and "toc" in (attrs.get("class") or ""):
            self.in_toc = True
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
            if self.in_toc:
                self.contents.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "nav":
            self.in_toc = False


def submitted_twice(make, session, name: str) -> Recipient:
    """A company's assessment submitted to Singapore, then a version 2 with one answer changed
    (mini.ops.reports: 150): Singapore's review of version 2."""
    org = make.organisation(name=name)
    admin = make.user(org)
    first = make.assessment(org, admin, answers=make.complete_answers())
    submit(session, make.bank, make.content.current_methodology, first, admin, jurisdictions=["SG"])
    draft = new_version(session, make.bank, first, admin)
    make.answer(draft, admin, {"mini.ops.reports": 150})
    submit(session, make.bank, make.content.current_methodology, draft, admin, jurisdictions=["SG"])
    return recipients_of(session, draft.id)["SG"]


def test_the_review_page_has_contents_headings_per_question_and_unique_ids(client, make, auth, session):
    newer = submitted_twice(make, session, "Outline Co")
    auth.login(regulator(make, "SG").email)
    review = f"/review/{newer.id}"
    page = client.get(review).get_data(as_text=True)
    outline = _outline_of(page)
    # The contents link to every part of the page, and the answers part to each section's page.
    assert {"#profile", "#review", "#timeline", "#changes", "#scores", "#answers", "#plan"} <= set(outline.contents)
    assert all(link[1:] in outline.ids for link in outline.links if link.startswith("#"))
    sections = [f"{review}/sections/mini.policy", f"{review}/sections/mini.ops"]
    assert [link for link in outline.links if link.endswith(("/mini.policy", "/mini.ops"))] == sections
    # The changed answer links to its question on its section's page.
    assert f"{review}/sections/mini.ops#q-mini-ops-reports" in outline.links
    # Each section's page: a heading per answered question, with an id to link to, inside the
    # question's article; the pager leads from one section to the next.
    headings = set()
    for url in sections:
        section = _outline_of(client.get(url).get_data(as_text=True))
        headings |= set(section.headings)
        assert all(link[1:] in section.ids for link in section.links if link.startswith("#"))
    for qid in make.complete_answers():
        assert (2, f"q-{qid.replace('.', '-')}-heading") in headings


def _outline_of(page: str) -> _Outline:
    outline = _Outline()
    outline.feed(page)
    duplicates = [i for i, n in Counter(outline.ids).items() if n > 1]
    assert duplicates == []
    levels = [level for level, _id in outline.headings]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))  # no level skipped
    return outline


def test_the_inbox_lists_each_submission_once_with_earlier_versions_after(client, make, auth, session):
    # Both Countries: one submission to SG and MY, listed once with both.
    both = make.organisation(name="Both Countries")
    both_admin = make.user(both)
    to_both = make.assessment(both, both_admin, answers=make.complete_answers())
    submit(session, make.bank, make.content.current_methodology, to_both, both_admin, jurisdictions=["SG", "MY"])
    # Answered Co: version 1 to SG, superseded by version 2 (the reply to a clarification).
    answered = make.organisation(name="Answered Co")
    answered_admin = make.user(answered)
    _first, asked, draft = _clarification_requested(make, session, answered, answered_admin)
    submit(session, make.bank, make.content.current_methodology, draft, answered_admin, jurisdictions=["SG", "MY"])
    # Superseding it was its latest activity: still it is listed after the current ones.
    session.refresh(asked["SG"])
    assert asked["SG"].status == ReviewStatus.SUPERSEDED
    auth.login(regulator(make, "SG", "MY").email)
    page = client.get("/review/").get_data(as_text=True)
    current = page.split('id="current-submissions"')[1].split("</table>")[0]
    earlier = page.split('id="earlier-submissions"')[1].split("</table>")[0]
    assert current.count("Both Countries") == 1 and "Both Countries" not in earlier
    row = current.split("Both Countries")[1].split("</tr>")[0]
    assert "Singapore" in row and "Malaysia" in row
    assert current.count("Answered Co") == 1 and earlier.count("Answered Co") == 1
    earlier_row = earlier.split("Answered Co")[1].split("</tr>")[0]
    assert "<td>1</td>" in earlier_row and "Superseded by a new version" in earlier_row
    assert page.index('id="current-submissions"') < page.index('id="earlier-submissions"')
    # A regulator of MY alone sees only their own review of each.
    auth.logout()
    auth.login(regulator(make, "MY").email)
    mine = client.get("/review/").get_data(as_text=True)
    row = mine.split('id="current-submissions"')[1].split("Both Countries")[1].split("</tr>")[0]
    assert "Malaysia" in row and "Singapore" not in row


def test_a_version_superseded_for_one_regulator_is_listed_after_the_newer_one(client, make, auth, session):
    """Version 1 went to SG and MY, the reply (version 2) to SG alone: for a regulator of both,
    version 1 is still current for MY, and is listed after version 2, whose arrival is the news."""
    org = make.organisation(name="Half Answered")
    admin = make.user(org)
    _first, _asked, draft = _clarification_requested(make, session, org, admin)
    submit(session, make.bank, make.content.current_methodology, draft, admin, jurisdictions=["SG"])
    auth.login(regulator(make, "SG", "MY").email)
    page = client.get("/review/").get_data(as_text=True)
    assert 'id="earlier-submissions"' not in page
    current = page.split('id="current-submissions"')[1].split("</table>")[0]
    rows = current.split("<tr")[2:]  # after the header row
    assert [re.findall(r"<td>(\d+)</td>", row)[1] for row in rows] == ["2", "1"]  # cycle, then version
    assert "Malaysia" in rows[1] and "Superseded by a new version" in rows[1]
