"""Answers carried over into a new cycle are to be reviewed: the section, the overview and the
submit page say which, until someone saves their section, changed or not. A new version of the
same cycle keeps them as they were."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlmodel import select
from werkzeug.datastructures import MultiDict

from dd_toolkit.records.assessments import (
    answer_rows,
    new_version,
    save_answers,
    start_assessment,
    submit,
    to_answer_data,
)
from dd_toolkit.records.assignments import assign_sections
from dd_toolkit.records.models import AuditEvent


class FormValues(HTMLParser):
    """What a browser sends for the form posting to ``action``: every named field as the page
    sets it (checked boxes and radios, selected options, textareas), and the button ``save``."""

    def __init__(self, html: str, action: str):
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.values = action, False, []
        self.select = self.textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action", self.action) == self.action  # no action: the page's own URL
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("radio", "checkbox") and "checked" not in attrs:
                return
            self.values.append((name, attrs.get("value", "")))
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.values.append((self.select, attrs.get("value", "")))
        elif tag == "textarea":
            self.textarea = name
            self.values.append((name, ""))

    def handle_data(self, data):
        if self.textarea:
            self.values[-1] = (self.textarea, self.values[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def saved_as_shown(client, url: str):
    """Save a section page without changing anything, as a browser would."""
    page = client.get(url).get_data(as_text=True)
    values = FormValues(page, url).values
    assert any(name == "csrf_token" for name, _value in values)
    return client.post(url, data=MultiDict([*values, ("save", "Save")]))


@pytest.fixture
def next_cycle(company, make, session):
    """A 2025 submission of the signed-in admin's company, and the 2026 draft pre-filled from it."""
    org, admin = company
    previous = make.submitted(org, admin, cycle=2025)
    draft = start_assessment(session, make.bank, org, 2026, admin, prefill_from=previous)
    return previous, draft


def test_answers_carried_into_a_new_cycle_are_to_review_until_their_section_is_saved(next_cycle, client, session):
    previous, draft = next_cycle
    carried = answer_rows(session, draft.id)
    assert carried and not any(row.reviewed for row in carried.values())
    policy = sorted(qid for qid in carried if qid.startswith("mini.policy."))

    overview = client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    assert f"{len(carried)} answers carried over from an earlier cycle are still to review" in overview
    assert f'<span class="tag to-review">{len(policy)} to review</span>' in overview
    home = client.get("/").get_data(as_text=True)
    assert f"{len(carried)} answers carried over from an earlier cycle are still to review" in home
    submit = client.get(f"/assessments/{draft.id}/submit").get_data(as_text=True)
    assert f"{len(carried)} answers carried over from an earlier cycle have not been reviewed" in submit
    url = f"/assessments/{draft.id}/sections/mini.policy"
    page = client.get(url).get_data(as_text=True)
    assert f"{len(policy)} answers on this page were carried over from an earlier cycle." in page
    assert page.count('<span class="tag to-review">carried over: to review</span>') == len(policy)

    response = saved_as_shown(client, url)
    assert response.status_code == 302
    session.expire_all()
    after = answer_rows(session, draft.id)
    assert all(after[qid].reviewed and after[qid].version == 2 for qid in policy)
    assert all(after[qid].value == carried[qid].value for qid in policy)  # confirmed, not changed
    assert not any(row.reviewed for qid, row in after.items() if qid not in policy)
    page = client.get(url).get_data(as_text=True)
    assert f"{len(policy)} answers saved." in page and "to review" not in page
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "answer.save")).all()
    confirmed = [e for e in events if e.entity_id.startswith(f"{draft.id}:")]
    assert len(confirmed) == len(policy)
    assert all(e.detail["reviewed"] and e.detail["before"] == e.detail["after"] for e in confirmed)
    # Saved again unchanged, nothing more is written.
    saved_as_shown(client, url)
    assert "No changes to save." in client.get(url).get_data(as_text=True)
    overview = client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    assert f"{len(carried) - len(policy)} answers carried over from an earlier cycle are still to review" in overview
    home = client.get("/").get_data(as_text=True)
    assert f"{len(carried) - len(policy)} answers carried over from an earlier cycle are still to review" in home


def test_a_new_version_of_the_same_cycle_keeps_each_answer_as_it_was(company, next_cycle, make, session):
    org, admin = company
    _previous, draft = next_cycle
    rows = answer_rows(session, draft.id)
    confirmed = "mini.policy.owner"
    save_answers(session, draft, admin, {confirmed: (to_answer_data(rows[confirmed]), rows[confirmed].version)})
    submit(session, make.bank, make.content.methodology("standard@test.1"), draft, admin,
           benchmark_consent=False, jurisdictions=["SG"])  # fmt: skip
    second = new_version(session, make.bank, draft, admin)
    reviewed = {qid: row.reviewed for qid, row in answer_rows(session, second.id).items()}
    assert reviewed == {qid: qid == confirmed for qid in rows}


def test_a_members_assigned_section_with_answers_to_review_is_still_their_next_step(
    company, next_cycle, client, make, session
):
    org, admin = company
    _previous, draft = next_cycle
    assign_sections(session, draft, {"mini.policy": (None, admin.id)}, section_ids=["mini.policy"], by=admin)
    policy = [qid for qid in answer_rows(session, draft.id) if qid.startswith("mini.policy.")]
    home = client.get("/").get_data(as_text=True)
    # Every question is answered, yet the section waits for the member's review.
    assert (
        "You are asked to answer 1 section of the 2026 assessment." in home
        and "1 still needs answers or a review." in home
    )
    assert f'href="/assessments/{draft.id}/sections/mini.policy">Continue with “Policy”' in home
    assert f'<span class="tag to-review">{len(policy)} to review</span>' in home
    saved_as_shown(client, f"/assessments/{draft.id}/sections/mini.policy")
    home = client.get("/").get_data(as_text=True)
    assert "Your sections" not in home and "Sections assigned to you" in home
