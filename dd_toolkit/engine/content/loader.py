"""Load and validate a content folder (``questionnaires/``, ``scoring/``, ``reports/``).

Every problem is collected, not just the first, and each names the file, the question id
(when there is one) and what is wrong, so a domain expert can fix a whole file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dd_toolkit.engine.content.answers import PROFILE_VOCABULARY
from dd_toolkit.engine.content.conditions import ConditionError, Leaf, leaves, named_conditions
from dd_toolkit.engine.content.models import (
    YES_PARTIAL_NO_CHOICES,
    AnswerType,
    Question,
    Questionnaire,
    Section,
    Taxonomy,
)

TAXONOMY_FILE = "_taxonomy.yaml"
CONTENT_FOLDERS = ("questionnaires", "scoring", "reports")


@dataclass(frozen=True)
class ContentProblem:
    file: str
    question_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.question_id}" if self.question_id else self.file
        return f"{where}: {self.message}"


class ContentError(Exception):
    """The content folder has one or more problems."""

    def __init__(self, problems: list[ContentProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _pydantic_message(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"] if part != "translations")
        text = item["msg"].removeprefix("Value error, ")
        messages.append(f"{loc}: {text}" if loc else text)
    return messages


def _read_yaml(path: Path, root: Path, problems: list[ContentProblem]) -> Any:
    rel = str(path.relative_to(root))
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(ContentProblem(rel, None, f"not valid YAML{where}: {problem}"))
    except OSError as exc:
        problems.append(ContentProblem(rel, None, f"cannot be read: {exc.strerror}"))
    return None


def _load_taxonomy(root: Path, problems: list[ContentProblem]) -> Taxonomy | None:
    path = root / "questionnaires" / TAXONOMY_FILE
    rel = f"questionnaires/{TAXONOMY_FILE}"
    if not path.exists():
        problems.append(ContentProblem(rel, None, "is missing"))
        return None
    raw = _read_yaml(path, root, problems)
    if raw is None:
        return None
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        problems.extend(ContentProblem(rel, None, m) for m in _pydantic_message(exc))
        return None


def _load_questionnaire(path: Path, root: Path, problems: list[ContentProblem]) -> Questionnaire | None:
    rel = str(path.relative_to(root))
    raw = _read_yaml(path, root, problems)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(ContentProblem(rel, None, "must be a mapping with id, version and sections"))
        return None
    raw_sections = raw.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        problems.append(ContentProblem(rel, None, "needs a non-empty list of 'sections'"))
        return None
    sections: list[Section] = []
    ok = True
    for s_index, raw_section in enumerate(raw_sections):
        if not isinstance(raw_section, dict):
            problems.append(ContentProblem(rel, None, f"section {s_index + 1} must be a mapping"))
            ok = False
            continue
        section_id = raw_section.get("id") or f"section {s_index + 1}"
        raw_questions = raw_section.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            problems.append(ContentProblem(rel, section_id, "needs a non-empty list of 'questions'"))
            ok = False
            continue
        questions: list[Question] = []
        for q_index, raw_question in enumerate(raw_questions):
            label = (
                raw_question.get("id") if isinstance(raw_question, dict) else None
            ) or f"{section_id}, question {q_index + 1}"
            try:
                questions.append(Question.model_validate(raw_question))
            except (ValidationError, ConditionError) as exc:
                ok = False
                messages = _pydantic_message(exc) if isinstance(exc, ValidationError) else [str(exc)]
                problems.extend(ContentProblem(rel, label, m) for m in messages)
        try:
            sections.append(Section.model_validate({**raw_section, "questions": questions}))
        except (ValidationError, ConditionError) as exc:
            ok = False
            messages = _pydantic_message(exc) if isinstance(exc, ValidationError) else [str(exc)]
            problems.extend(ContentProblem(rel, section_id, m) for m in messages)
    if not ok:
        return None
    try:
        return Questionnaire.model_validate({**raw, "sections": sections})
    except ValidationError as exc:
        problems.extend(ContentProblem(rel, None, m) for m in _pydantic_message(exc))
        return None


_PROFILE_VOCABULARY = PROFILE_VOCABULARY


def leaf_problem(leaf: Leaf, taxonomy: Taxonomy, questions: dict[str, Question]) -> str | None:
    """What is wrong with one condition leaf given the vocabulary and the questions, if anything.

    Shared by questionnaire applicability rules and scoring rules (indicators, practices).
    """
    values = leaf.operand if isinstance(leaf.operand, tuple) else (leaf.operand,)
    if leaf.subject == "risk":
        # The level is checked against each methodology's risk levels when it is loaded.
        if leaf.name not in taxonomy.ids("harms"):
            return f"risk condition names unknown harm '{leaf.name}'"
        return None
    if leaf.subject == "profile":
        allowed = set(taxonomy.ids(_PROFILE_VOCABULARY[leaf.name]))
        unknown = [str(v) for v in values if str(v) not in allowed]
        if unknown:
            return f"condition on profile '{leaf.name}' uses unknown value(s) {', '.join(unknown)}"
        return None
    target = questions.get(leaf.name)
    if target is None:
        return f"condition refers to unknown question '{leaf.name}'"
    if leaf.operator == "answered":
        return None
    kind = target.type
    if leaf.operator in ("includes", "includes_any", "includes_all") and kind is not AnswerType.MULTI:
        return f"'{leaf.operator}' needs a multiple-choice question, '{leaf.name}' is {kind}"
    if leaf.operator in ("gte", "lte"):
        if kind not in (AnswerType.NUMBER, AnswerType.MATURITY):
            return f"'{leaf.operator}' needs a number or maturity question, '{leaf.name}' is {kind}"
        return None
    if kind is AnswerType.YES_PARTIAL_NO:
        allowed_values = set(YES_PARTIAL_NO_CHOICES)
    elif kind in (AnswerType.SINGLE, AnswerType.MULTI):
        allowed_values = {o.value for o in target.options}
    elif kind is AnswerType.MATURITY:
        allowed_values = {"0", "1", "2", "3", "4"}
    else:
        return None
    unknown = [str(v) for v in values if str(v) not in allowed_values]
    if unknown:
        return f"condition on '{leaf.name}' uses value(s) {', '.join(unknown)} that question cannot take"
    return None


class _Checker:
    """Cross-file checks: unique ids, known vocabulary, valid references, no cycles."""

    def __init__(self, taxonomy: Taxonomy, problems: list[ContentProblem]):
        self.taxonomy = taxonomy
        self.problems = problems
        self.questions: dict[str, Question] = {}
        self.file_of: dict[str, str] = {}
        self.section_of: dict[str, Section] = {}

    def add(self, rel: str, questionnaire: Questionnaire) -> None:
        section_ids: set[str] = set()
        for section in questionnaire.sections:
            if section.id in section_ids:
                self.problems.append(ContentProblem(rel, section.id, "section id used twice"))
            section_ids.add(section.id)
            for question in section.questions:
                if not question.id.startswith(questionnaire.id + "."):
                    self.problems.append(
                        ContentProblem(
                            rel,
                            question.id,
                            f"question ids in this file must start with '{questionnaire.id}.'",
                        )
                    )
                if question.id in self.questions:
                    other = self.file_of[question.id]
                    self.problems.append(ContentProblem(rel, question.id, f"question id already used in {other}"))
                    continue
                self.questions[question.id] = question
                self.file_of[question.id] = rel
                self.section_of[question.id] = section

    def check_vocabulary(self) -> None:
        for name, condition in self.taxonomy.conditions.items():
            for leaf in leaves(condition):
                message = leaf_problem(leaf, self.taxonomy, self.questions)
                if message:
                    self.problems.append(ContentProblem(f"questionnaires/{TAXONOMY_FILE}", name, message))
        known = {
            "refs": set(self.taxonomy.ids("frameworks")),
            "harms": set(self.taxonomy.ids("harms")),
            "risks": set(self.taxonomy.ids("risks")),
        }
        for qid, question in self.questions.items():
            rel = self.file_of[qid]
            for attribute, allowed in known.items():
                for value in getattr(question, attribute):
                    if value not in allowed:
                        self.problems.append(ContentProblem(rel, qid, f"unknown {attribute[:-1]} '{value}'"))
            if question.function and question.function not in self.taxonomy.ids("functions"):
                self.problems.append(ContentProblem(rel, qid, f"unknown function '{question.function}'"))
            for leaf in self._leaves_of(qid):
                message = leaf_problem(leaf, self.taxonomy, self.questions)
                if message:
                    self.problems.append(ContentProblem(rel, qid, message))

    def check_register(self) -> None:
        """The risk register's vocabulary: harm groups, age groups and risk factors."""
        rel = f"questionnaires/{TAXONOMY_FILE}"
        taxonomy = self.taxonomy
        groups = set(taxonomy.ids("harm_groups"))
        harms = set(taxonomy.ids("harms"))
        features = set(taxonomy.ids("features"))
        for vocabulary in ("harms", "harm_groups", "age_groups"):
            ids = taxonomy.ids(vocabulary)
            for entry_id in sorted({i for i in ids if ids.count(i) > 1}):
                self.problems.append(ContentProblem(rel, f"{vocabulary} {entry_id}", "id used twice"))
        for harm in taxonomy.harms:
            if harm.group is not None and harm.group not in groups:
                self.problems.append(ContentProblem(rel, f"harms {harm.id}", f"unknown harm group '{harm.group}'"))
        previous = None
        for group in taxonomy.age_groups:
            if previous is not None and group.min_age != previous.max_age + 1:
                self.problems.append(
                    ContentProblem(
                        rel,
                        f"age_groups {group.id}",
                        f"must start at age {previous.max_age + 1}, right after {previous.id} (youngest first, "
                        "no gap or overlap)",
                    )
                )
            previous = group
        for feature, links in taxonomy.risk_factors.items():
            where = f"risk_factors {feature}"
            if feature not in features:
                self.problems.append(ContentProblem(rel, where, f"unknown feature '{feature}'"))
            if not links:
                self.problems.append(ContentProblem(rel, where, "names no harm"))
            seen: set[str] = set()
            for link in links:
                if link.harm not in harms:
                    self.problems.append(ContentProblem(rel, where, f"unknown harm '{link.harm}'"))
                elif link.harm in seen:
                    self.problems.append(ContentProblem(rel, where, f"harm '{link.harm}' listed twice"))
                seen.add(link.harm)

    def _leaves_of(self, qid: str) -> list[Leaf]:
        question, section = self.questions[qid], self.section_of[qid]
        return [*leaves(section.applies_when), *leaves(question.applies_when)]

    def check_cycles(self) -> None:
        graph = {
            qid: sorted({leaf.name for leaf in self._leaves_of(qid) if leaf.subject == "answer"})
            for qid in self.questions
        }
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        reported: set[frozenset[str]] = set()

        def visit(qid: str, path: list[str]) -> None:
            state[qid] = 1
            path.append(qid)
            for dep in graph.get(qid, ()):
                if dep not in graph:
                    continue
                if state.get(dep) == 1:
                    cycle = path[path.index(dep) :] + [dep]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        self.problems.append(
                            ContentProblem(
                                self.file_of[dep],
                                dep,
                                "applicability conditions form a cycle: " + " -> ".join(cycle),
                            )
                        )
                elif state.get(dep) is None:
                    visit(dep, path)
            path.pop()
            state[qid] = 2

        for qid in graph:
            if qid not in state:
                visit(qid, [])


def load_content_parts(root: Path) -> tuple[Taxonomy, list[Questionnaire]]:
    """Load and validate everything under ``root``; raise :class:`ContentError` on any problem."""
    root = Path(root)
    problems: list[ContentProblem] = []
    folder = root / "questionnaires"
    if not folder.is_dir():
        raise ContentError([ContentProblem("questionnaires", None, f"folder not found under {root}")])
    taxonomy = _load_taxonomy(root, problems)
    questionnaires: list[tuple[str, Questionnaire]] = []
    files = sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))
    if not files:
        problems.append(ContentProblem("questionnaires", None, "holds no questionnaire (*.yaml)"))
    with named_conditions(taxonomy.conditions if taxonomy is not None else {}):
        for path in files:
            loaded = _load_questionnaire(path, root, problems)
            if loaded is not None:
                questionnaires.append((str(path.relative_to(root)), loaded))
    seen: dict[str, str] = {}
    for rel, questionnaire in questionnaires:
        if questionnaire.id in seen:
            problems.append(
                ContentProblem(rel, None, f"module id '{questionnaire.id}' also used in {seen[questionnaire.id]}")
            )
        seen[questionnaire.id] = rel
    if taxonomy is not None:
        checker = _Checker(taxonomy, problems)
        for rel, questionnaire in questionnaires:
            checker.add(rel, questionnaire)
        checker.check_vocabulary()
        checker.check_register()
        checker.check_cycles()
    if problems:
        raise ContentError(problems)
    assert taxonomy is not None
    ordered = sorted((q for _, q in questionnaires), key=lambda q: (q.order, q.id))
    return taxonomy, ordered
