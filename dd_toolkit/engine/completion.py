"""How far an assessment has got: progress by section and what still blocks submission.

Pure functions over the question bank, the profile and the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dd_toolkit.engine.content import AnswerData, Profile, Question, QuestionBank, Questionnaire, Section
from dd_toolkit.engine.content.conditions import RiskLevels


@dataclass(frozen=True)
class SectionProgress:
    module: Questionnaire
    section: Section
    applicable: int
    answered: int
    required_missing: tuple[Question, ...]

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.applicable) if self.applicable else 100

    @property
    def status(self) -> str:
        if self.applicable == 0:
            return "not_applicable"
        if self.answered == 0:
            return "not_started"
        if self.answered == self.applicable:
            return "complete"
        return "in_progress"


@dataclass(frozen=True)
class Progress:
    sections: tuple[SectionProgress, ...]
    applicable: dict[str, bool]
    risk: RiskLevels | None = None  # the risk register's levels the applicability was decided with

    @property
    def answered(self) -> int:
        return sum(s.answered for s in self.sections)

    @property
    def total(self) -> int:
        return sum(s.applicable for s in self.sections)

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 100

    @property
    def missing(self) -> list[tuple[Section, Question]]:
        return [(s.section, q) for s in self.sections for q in s.required_missing]

    @property
    def ready_to_submit(self) -> bool:
        return not self.missing

    def for_section(self, section_id: str) -> SectionProgress | None:
        return next((s for s in self.sections if s.section.id == section_id), None)


def progress(
    bank: QuestionBank, profile: Profile, answers: Mapping[str, AnswerData], risk: RiskLevels | None = None
) -> Progress:
    """What is answered and missing, section by section; ``risk``: the levels of the
    assessment's risk register, which may bring questions in."""
    applicable = bank.applicability(profile, answers, risk)
    sections = []
    for module in bank.questionnaires:
        for section in module.sections:
            shown = [q for q in section.questions if applicable[q.id]]
            done = [q for q in shown if q.id in answers and answers[q.id].is_complete]
            missing = tuple(q for q in shown if q.required and not (q.id in answers and answers[q.id].is_complete))
            sections.append(SectionProgress(module, section, len(shown), len(done), missing))
    return Progress(tuple(sections), applicable, risk)
