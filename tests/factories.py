"""Factories for test data, each creating real rows through the toolkit's own functions."""

from __future__ import annotations

import itertools

from dd_toolkit.engine.content import AnswerData
from dd_toolkit.records import accounts
from dd_toolkit.records.assessments import answer_rows, save_answers, start_assessment, submit
from dd_toolkit.records.models import Membership, Organisation, OrgRole, PlatformRole

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)

# A profile under which every question of the fixture questionnaire can apply.
FULL_PROFILE = {
    "hq_country": "SG",
    "countries": ["SG", "MY"],
    "service_types": ["social_network", "payments"],
    "features": ["live_streaming", "user_uploads", "direct_messaging", "payments"],
    "size_band": "medium",
    "under18_users": "yes",
}


class Factory:
    def __init__(self, session, content):
        self.session = session
        self.content = content
        self.bank = content.bank

    def organisation(self, name: str | None = None, **profile) -> Organisation:
        n = next(_counter)
        values = {**FULL_PROFILE, **profile}
        org = Organisation(name=name or f"Company {n}", **values)
        self.session.add(org)
        self.session.commit()
        return org

    def user(
        self,
        org: Organisation | None = None,
        role: OrgRole = OrgRole.ADMIN,
        email: str | None = None,
        platform_role: PlatformRole = PlatformRole.NONE,
        jurisdictions=None,
    ):
        n = next(_counter)
        user = accounts.create_user(
            self.session,
            email=email or f"user{n}@example.org",
            name=f"User {n}",
            password=PASSWORD,
            platform_role=platform_role,
            jurisdictions=jurisdictions,
        )
        self.session.commit()
        if platform_role == PlatformRole.REGULATOR and jurisdictions:
            # Test set-up stands in for the confirmation a regulator account needs (even when
            # the jurisdiction already has a regulator).
            accounts.confirm_by_operator(self.session, user, first_only=False)
        if org is not None:
            self.session.add(Membership(user_id=user.id, organisation_id=org.id, role=role))
        self.session.commit()
        return user

    def assessment(self, org: Organisation, user=None, cycle: int = 2026, answers: dict | None = None):
        assessment = start_assessment(self.session, self.bank, org, cycle, user)
        if answers:
            self.answer(assessment, user, answers)
        return assessment

    def answer(self, assessment, user, answers: dict):
        """Save answers over whatever is there (each from the version now saved)."""
        saved = answer_rows(self.session, assessment.id)
        changes = {
            qid: (a if isinstance(a, AnswerData) else AnswerData(value=a), saved[qid].version if qid in saved else 0)
            for qid, a in answers.items()
        }
        return save_answers(self.session, assessment, user, changes)

    def complete_answers(self) -> dict:
        """Answers to every fixture question that applies under FULL_PROFILE."""
        return {
            "mini.policy.owner": 3,
            "mini.policy.exists": "yes",
            "mini.policy.scope": ["online", "staff"],
            "mini.policy.reviewed": "2026-01-15",
            "mini.ops.live": "reactive",
            "mini.ops.reports": 120,
            "mini.ops.notes": "Escalations go to the child safety lead within one hour.",
            "mini.ops.payments": "partial",
        }

    def submitted(
        self,
        org: Organisation,
        user=None,
        cycle: int = 2026,
        consent: bool = False,
        answers=None,
        methodology: str | None = None,
    ):
        assessment = self.assessment(org, user, cycle, answers or self.complete_answers())
        method = self.content.methodology(methodology) if methodology else self.content.current_methodology
        submit(self.session, self.bank, method, assessment, user, benchmark_consent=consent)
        return assessment
