"""The first draft of the child-safety section of a transparency report, after TRUST.

TRUST (the Tech Coalition's voluntary framework for industry transparency) structures a report
as Policies and Practices, Processes and Systems, and Outcomes; the draft adds Challenges and
next steps. This module prepares the data; every public word is content:

* the sentences are in ``reports/transparency_statements.yaml`` (a statement per maturity
  level, answer or option at or above the publish threshold stated there, keyed by question
  id), and the document around them is ``reports/transparency.md.j2``;
* the consistency checks between the Outcomes metrics are in ``reports/metric_checks.yaml``.

Rules the draft keeps:

* **Only statements from the content are published.** An answer below the publish threshold,
  an unanswered question, or an answer the statements do not cover produces no public text:
  it becomes a :class:`TeamNote` ("for your team, not for publication"), which the page shows
  apart from the public text and no export contains.
* **Numbers are exactly the answered numbers**, and a figure is published only when it is
  answered with its reporting period and methodology note and passes every check
  (:func:`check_metrics`); otherwise it is a team note.
* **Suggestions are not commitments.** Next steps list only the action-plan items the team
  marked as a public commitment.

No Flask, no database.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from dd_toolkit.engine.actions import ActionPlan, ActionStatus
from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question, QuestionBank
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE
from dd_toolkit.engine.content.values import display_value
from dd_toolkit.engine.scoring import Methodology, ScoreCard
from dd_toolkit.paths import bundled_root

__all__ = [
    "CHECKS_FILE",
    "PARTS",
    "STATEMENTS_FILE",
    "ChallengeItem",
    "DraftPart",
    "KeyRisks",
    "MetricCheck",
    "MetricIssue",
    "MetricRow",
    "PublicStatement",
    "StatementCatalogue",
    "StatementsError",
    "TeamNote",
    "Topic",
    "TransparencyDraft",
    "build_transparency_draft",
    "check_metric_checks",
    "check_metrics",
    "check_statements",
    "key_risks_paragraph",
    "load_metric_checks",
    "load_statements",
    "own_content_file",
    "parse_metric_checks",
    "parse_statements",
]

STATEMENTS_FILE = "transparency_statements.yaml"
CHECKS_FILE = "metric_checks.yaml"
# The two descriptive parts of the draft, in order.
PARTS = ("policies", "processes")
# Tracking statuses whose items are no longer next steps.
CLOSED_STATUSES = (ActionStatus.DONE, ActionStatus.WONT_DO)


class StatementsError(ValueError):
    """The statements or checks file is malformed."""


# -- the content ------------------------------------------------------------------------------


def _text(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A content text: a plain string, or translations keyed by language code."""
    if isinstance(value, Mapping):
        return str(value.get(language) or value.get(DEFAULT_LANGUAGE) or "").strip()
    return " ".join(str(value).split()) if value is not None else ""


def _key(value: Any) -> str:
    """An answer value as written as a YAML key: 3, "yes" (or an unquoted yes, read as True)."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


@dataclass(frozen=True)
class Topic:
    id: str
    part: str  # policies | processes
    heading: str | None  # the public sub-heading; None: no heading


@dataclass(frozen=True)
class QuestionStatements:
    question_id: str
    topic: str
    own_text: bool  # a text answer in the company's own words
    texts: Mapping[str, Any]  # answer value (as a string) -> text or translations


@dataclass(frozen=True)
class StatementCatalogue:
    """The content of ``reports/transparency_statements.yaml``."""

    maturity_threshold: int
    yes_partial_no: tuple[str, ...]
    single_min_points: float
    multi_min_points: float
    part_refs: Mapping[str, tuple[str, ...]]
    topics: tuple[Topic, ...]
    statements: Mapping[str, QuestionStatements]  # in file order
    metric_labels: Mapping[str, Any] = field(default_factory=dict)  # public metric names

    def metric_label(self, question: Question, language: str = DEFAULT_LANGUAGE) -> str:
        label = self.metric_labels.get(question.id)
        return _text(label, language) if label else question.text.get(language)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def publishable(self, question: Question, value: Any) -> bool:
        """Whether an answer value is at or above the publish threshold."""
        kind = question.type
        if kind is AnswerType.MATURITY:
            return int(value) >= self.maturity_threshold
        if kind is AnswerType.YES_PARTIAL_NO:
            return value in self.yes_partial_no
        if kind in (AnswerType.SINGLE, AnswerType.MULTI):
            option = next((o for o in question.options if o.value == value), None)
            if option is None:
                return False
            if not question.is_scored:
                return True
            least = self.single_min_points if kind is AnswerType.SINGLE else self.multi_min_points
            return (option.points or 0) >= least
        return kind is AnswerType.TEXT

    def text_for(self, question_id: str, value: Any, language: str = DEFAULT_LANGUAGE) -> str | None:
        entry = self.statements.get(question_id)
        if entry is None or _key(value) not in entry.texts:
            return None
        return _text(entry.texts[_key(value)], language) or None


def parse_statements(data: Mapping[str, Any]) -> StatementCatalogue:
    try:
        threshold = data["publish_threshold"]
        topics = tuple(Topic(str(t["id"]), str(t["part"]), _text(t.get("heading")) or None) for t in data["topics"])
        statements = {}
        for qid, entry in (data.get("statements") or {}).items():
            entry = dict(entry)
            topic = str(entry.pop("topic"))
            own_text = bool(entry.pop("own_text", False))
            statements[str(qid)] = QuestionStatements(str(qid), topic, own_text, {_key(k): v for k, v in entry.items()})
        catalogue = StatementCatalogue(
            maturity_threshold=int(threshold["maturity"]),
            yes_partial_no=tuple(_key(v) for v in threshold["yes_partial_no"]),
            single_min_points=float(threshold["single"]["min_points"]),
            multi_min_points=float(threshold["multi"]["min_points"]),
            part_refs={part: tuple((data.get("parts") or {}).get(part, {}).get("refs", ())) for part in PARTS},
            topics=topics,
            statements=statements,
            metric_labels={str(k): v for k, v in (data.get("metric_labels") or {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StatementsError(f"{STATEMENTS_FILE}: malformed ({exc!r})") from exc
    for topic in topics:
        if topic.part not in PARTS:
            raise StatementsError(f"{STATEMENTS_FILE}: topic {topic.id}: unknown part {topic.part!r}")
    for entry in statements.values():
        if catalogue.topic(entry.topic) is None:
            raise StatementsError(f"{STATEMENTS_FILE}: {entry.question_id}: unknown topic {entry.topic!r}")
    return catalogue


@dataclass(frozen=True)
class MetricCheck:
    id: str
    kind: str  # at_most | range | same_period
    metrics: tuple[str, ...]  # at_most: (metric,); range, same_period: the metrics; () = all
    limit: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    message: Any = ""

    def message_text(self, language: str = DEFAULT_LANGUAGE) -> str:
        return _text(self.message, language)


def parse_metric_checks(data: Mapping[str, Any]) -> tuple[MetricCheck, ...]:
    checks = []
    try:
        for entry in data.get("checks") or ():
            kind = entry["kind"]
            if kind == "at_most":
                limit = entry["limit"]
                check = MetricCheck(
                    entry["id"], kind, (entry["metric"],), tuple(limit if isinstance(limit, list) else [limit])
                )
            elif kind == "range":
                check = MetricCheck(entry["id"], kind, tuple(entry["metrics"]), (), entry.get("min"), entry.get("max"))
            elif kind == "same_period":
                metrics = entry.get("metrics", "all")
                check = MetricCheck(entry["id"], kind, () if metrics == "all" else tuple(metrics))
            else:
                raise StatementsError(f"{CHECKS_FILE}: {entry.get('id')}: unknown kind {kind!r}")
            checks.append(MetricCheck(**{**asdict(check), "message": entry.get("message", "")}))
    except (KeyError, TypeError) as exc:
        raise StatementsError(f"{CHECKS_FILE}: malformed ({exc!r})") from exc
    return tuple(checks)


def own_content_file(root: Path | None, name: str) -> Path | None:
    """``root/reports/name`` when the content folder has its own copy; None when it falls back
    to the bundled one (``root`` None or the bundled folder itself: the bundled file)."""
    if root is None or Path(root).resolve() == bundled_root().resolve():
        return bundled_root() / "reports" / name
    own = Path(root) / "reports" / name
    return own if own.is_file() else None


def _content_file(root: Path | None, name: str) -> Path:
    """``root/reports/name``, falling back to the bundled ``reports/`` (as the templates do)."""
    return own_content_file(root, name) or bundled_root() / "reports" / name


@functools.lru_cache(maxsize=16)
def _read_yaml(path: Path, _mtime: float) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _load(root: Path | None, name: str) -> Any:
    path = _content_file(root, name)
    return _read_yaml(path, path.stat().st_mtime)


def load_statements(root: Path | None = None) -> StatementCatalogue:
    """The statements of a content folder (``root/reports/``, else the bundled ones)."""
    return parse_statements(_load(root, STATEMENTS_FILE))


def load_metric_checks(root: Path | None = None) -> tuple[MetricCheck, ...]:
    """The metric checks of a content folder (``root/reports/``, else the bundled ones)."""
    return parse_metric_checks(_load(root, CHECKS_FILE))


def _answer_values(question: Question) -> list[str]:
    if question.type is AnswerType.MATURITY:
        return [str(level) for level in range(len(question.levels))]
    if question.type is AnswerType.YES_PARTIAL_NO:
        return ["yes", "partial", "no"]
    return [o.value for o in question.options]


def check_statements(
    bank: QuestionBank, catalogue: StatementCatalogue, checks: Iterable[MetricCheck] = ()
) -> list[str]:
    """Problems of the statements (and checks) against a question bank: unknown questions and
    answer values, statements for answers below the publish threshold, checks on questions
    that are not metrics."""
    problems = []
    for qid, entry in catalogue.statements.items():
        question = bank.questions.get(qid)
        if question is None:
            problems.append(f"{qid}: no such question")
            continue
        if entry.own_text:
            if question.type is not AnswerType.TEXT:
                problems.append(f"{qid}: own_text needs a text question, not {question.type}")
            continue
        values = _answer_values(question)
        for key in entry.texts:
            if key not in values:
                problems.append(f"{qid}: {key!r} is not an answer of this {question.type} question")
            elif not catalogue.publishable(question, int(key) if question.type is AnswerType.MATURITY else key):
                problems.append(f"{qid}: {key!r} is below the publish threshold and cannot have a public statement")
            elif not _text(entry.texts[key]):
                problems.append(f"{qid}: the statement for {key!r} is empty")
    for qid in catalogue.metric_labels:
        question = bank.questions.get(qid)
        if question is None or not question.metric:
            problems.append(f"metric_labels: {qid} is not a metric question")
    return problems + check_metric_checks(bank, checks)


def check_metric_checks(bank: QuestionBank, checks: Iterable[MetricCheck]) -> list[str]:
    """Problems of the metric checks against a question bank: checks on questions that are not
    metrics, an ``at_most`` check without a limit, and repeated check ids."""
    problems = []
    seen: set[str] = set()
    for check in checks:
        if check.id in seen:
            problems.append(f"check {check.id}: the id is used twice")
        seen.add(check.id)
        if check.kind == "at_most" and not check.limit:
            problems.append(f"check {check.id}: at_most needs a limit")
        for qid in check.metrics + check.limit:
            question = bank.questions.get(qid)
            if question is None or not question.metric:
                problems.append(f"check {check.id}: {qid} is not a metric question")
    return problems


# -- metric checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricIssue:
    """A failed consistency check. ``question_ids`` are the figures withheld from publication."""

    check_id: str
    kind: str
    question_ids: tuple[str, ...]
    message: str
    values: tuple[tuple[str, Any], ...]  # (question id, value) of every figure compared
    periods: tuple[tuple[str, str, str], ...] = ()  # (question id, start, end), same_period only


def _number(answer: AnswerData | None) -> int | float | None:
    if answer is None or answer.not_applicable or not answer.has_value:
        return None
    value = answer.value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return value


def _period(answer: AnswerData | None) -> tuple[str, str] | None:
    meta = (answer.meta or {}) if answer is not None else {}
    start, end = meta.get("period_start"), meta.get("period_end")
    return (str(start), str(end)) if start and end else None


def check_metrics(
    bank: QuestionBank,
    answers: Mapping[str, AnswerData],
    checks: Iterable[MetricCheck],
    applicable: Mapping[str, bool] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> tuple[MetricIssue, ...]:
    """Every failed check, in the order of the checks. Only answered metrics (applicable ones,
    when ``applicable`` is given) take part."""

    def present(qid: str) -> bool:
        return qid in bank.questions and (applicable is None or bool(applicable.get(qid)))

    def value(qid: str) -> int | float | None:
        return _number(answers.get(qid)) if present(qid) else None

    issues = []
    for check in checks:
        message = check.message_text(language)
        if check.kind == "at_most":
            (metric,) = check.metrics
            left = value(metric)
            terms = [(qid, value(qid)) for qid in check.limit]
            answered = [(qid, v) for qid, v in terms if v is not None]
            not_applicable = [
                qid
                for qid, v in terms
                if v is None and present(qid) and getattr(answers.get(qid), "not_applicable", False)
            ]
            if left is None or not answered or len(answered) + len(not_applicable) < len(terms):
                continue
            periods = {_period(answers.get(qid)) for qid in [metric] + [qid for qid, _ in answered]}
            if len(periods) > 1:
                continue  # not comparable; the same_period check says so
            if Decimal(str(left)) > sum(Decimal(str(v)) for _, v in answered):
                involved = (metric,) + tuple(qid for qid, _ in answered)
                issues.append(MetricIssue(check.id, check.kind, involved, message, ((metric, left), *answered)))
        elif check.kind == "range":
            for qid in check.metrics:
                v = value(qid)
                if v is None:
                    continue
                low = check.minimum is not None and v < check.minimum
                high = check.maximum is not None and v > check.maximum
                if low or high:
                    issues.append(MetricIssue(check.id, check.kind, (qid,), message, ((qid, v),)))
        elif check.kind == "same_period":
            ids = check.metrics or tuple(q.id for q in bank.questions.values() if q.metric)
            periods = {qid: _period(answers.get(qid)) for qid in ids if value(qid) is not None}
            periods = {qid: p for qid, p in periods.items() if p is not None}
            counts = Counter(periods.values())
            if len(counts) < 2:
                continue
            ranked = counts.most_common()
            main = ranked[0][0] if ranked[0][1] > ranked[1][1] else None
            for qid, period in periods.items():
                if period != main:
                    issues.append(
                        MetricIssue(
                            check.id, check.kind, (qid,), message, ((qid, value(qid)),), ((qid, period[0], period[1]),)
                        )
                    )
    return tuple(issues)


# -- the draft --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicStatement:
    question_id: str
    text: str  # a statement from the content, or (own_text) the company's own words as typed
    own_text: bool = False


@dataclass(frozen=True)
class DraftTopic:
    id: str
    heading: str | None
    statements: tuple[PublicStatement, ...]


@dataclass(frozen=True)
class DraftPart:
    id: str
    topics: tuple[DraftTopic, ...]  # only topics with statements

    @property
    def statements(self) -> tuple[PublicStatement, ...]:
        return tuple(s for t in self.topics for s in t.statements)


@dataclass(frozen=True)
class TeamNote:
    """Something the team must see and the public text must not say.

    ``kind``: not_answered, below_threshold (an internal gap), no_statement (answered, but the
    content has no public sentence for it: write one), comment (a comment on the answer),
    metric_not_answered, no_period, no_methodology, metric_not_applicable, inconsistent,
    no_commitments.
    """

    part: str  # policies | processes | outcomes | next_steps
    kind: str
    question_id: str = ""
    question_text: str = ""
    answer: str = ""  # the answer in words (internal: it may quote a level descriptor)
    detail: str = ""  # user-typed comment, or the check's message
    # inconsistent: each figure compared, as (metric, value in words, period start, period end)
    figures: tuple[tuple[str, str, str, str], ...] = ()


@dataclass(frozen=True)
class MetricRow:
    question_id: str
    metric: str  # the public name (statements' metric_labels, else the question text)
    question_text: str
    unit: str
    status: str  # answered | not_answered | not_applicable
    value: int | float | None
    period_start: str | None
    period_end: str | None
    methodology: str  # user-typed
    justification: str  # user-typed, when not applicable
    comment: str  # user-typed
    previous_value: int | float | None
    change: Decimal | None  # value - previous_value, exact
    change_percent: Decimal | None  # one decimal, only when previous_value > 0
    published: bool  # answered, with period and methodology, and consistent

    @property
    def has_period(self) -> bool:
        return bool(self.period_start and self.period_end)


@dataclass(frozen=True)
class ChallengeItem:
    id: str
    priority: str
    priority_label: str
    title: str
    due: str = ""  # ISO date, when the team set one


@dataclass(frozen=True)
class KeyRisks:
    """The public "key risks and how we address them" paragraph: its heading and sentences,
    all from ``key_risks`` in the statements file."""

    heading: str
    sentences: tuple[str, ...]


def key_risks_paragraph(
    taxonomy: Any,
    method: Methodology,
    register: Mapping[str, Any] | None,
    root: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> KeyRisks | None:
    """The paragraph for a children's risk register (None without one, or without ``key_risks``
    in the statements file). It names a harm group, with the age groups concerned, when any of
    its cells rates at one of ``key_levels`` before the controls: never a residual risk, a gap
    or a single cell (public text must not point an offender to a weakness)."""
    rules = method.risk
    words = _load(root, STATEMENTS_FILE).get("key_risks")
    if not register or rules is None or not words:
        return None
    key_levels = set(words.get("key_levels") or ())
    likelihoods, impacts = {p.id for p in rules.likelihood}, {p.id for p in rules.impact}
    group_of = {h.id: h.group for h in taxonomy.harms}
    ages: dict[str, set[str]] = {}
    for cell in register.get("cells") or ():
        if not isinstance(cell, Mapping) or str(cell.get("relevant", True)).lower() in ("false", "no", "0"):
            continue
        likelihood, impact = str(cell.get("likelihood") or ""), str(cell.get("impact") or "")
        if likelihood in likelihoods and impact in impacts and rules.level_for(likelihood, impact).id in key_levels:
            group = group_of.get(str(cell.get("harm") or ""))
            if group:
                ages.setdefault(group, set()).add(str(cell.get("age_group") or ""))
    sentences = [_text(words.get("intro"), language)]
    groups = words.get("groups") or {}
    for group in taxonomy.ids("harm_groups"):
        if group not in ages or group not in groups:
            continue
        named = ", ".join(
            taxonomy.label("age_groups", a, language) for a in taxonomy.ids("age_groups") if a in ages[group]
        )
        wording = groups[group].get("risk_also") if len(sentences) > 1 else None
        sentences.append(_text(wording or groups[group].get("risk"), language).replace("{ages}", named))
        sentences.append(_text(groups[group].get("measures"), language))
    if len(sentences) == 1:
        sentences.append(_text(words.get("none"), language))
    return KeyRisks(_text(words.get("heading"), language), tuple(s for s in sentences if s))


@dataclass(frozen=True)
class TransparencyDraft:
    organisation_name: str
    cycle: str
    previous_cycle: str | None
    methodology: str
    parts: tuple[DraftPart, ...]  # policies, processes
    metrics: tuple[MetricRow, ...]  # every applicable metric; the public table shows the published ones
    has_previous: bool  # previous answers were given: the table shows the change
    commitments: tuple[ChallengeItem, ...]  # action items the team marked as public commitments
    plan_items: tuple[ChallengeItem, ...]  # every action item, for the team to choose from
    inconsistencies: tuple[MetricIssue, ...]
    notes: tuple[TeamNote, ...]  # for the team, not for publication; in document order
    # The "key risks and how we address them" paragraph, when there is a risk register.
    key_risks: KeyRisks | None = None

    @property
    def policies(self) -> DraftPart:
        return self.parts[0]

    @property
    def processes(self) -> DraftPart:
        return self.parts[1]

    @property
    def published_metrics(self) -> tuple[MetricRow, ...]:
        return tuple(r for r in self.metrics if r.published)

    @property
    def note_question_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.question_id for n in self.notes if n.question_id))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row in data["metrics"]:
            for key in ("change", "change_percent"):
                if row[key] is not None:
                    row[key] = str(row[key])
        return data


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _metric_row(
    question: Question,
    label: str,
    answer: AnswerData | None,
    previous: AnswerData | None,
    compare: bool,
    withheld: bool,
) -> MetricRow:
    previous_value = _number(previous) if compare else None
    common = {
        "question_id": question.id,
        "metric": label,
        "question_text": question.text.get(),
        "unit": question.unit.get() if question.unit else "",
    }
    comment = answer.comment if answer is not None else ""
    if answer is not None and answer.not_applicable:
        return MetricRow(
            **common,
            status="not_applicable",
            value=None,
            period_start=None,
            period_end=None,
            methodology="",
            justification=answer.justification,
            comment=comment,
            previous_value=previous_value,
            change=None,
            change_percent=None,
            published=False,
        )
    if answer is None or not answer.has_value:
        return MetricRow(
            **common,
            status="not_answered",
            value=None,
            period_start=None,
            period_end=None,
            methodology="",
            justification="",
            comment=comment,
            previous_value=previous_value,
            change=None,
            change_percent=None,
            published=False,
        )
    meta = answer.meta or {}
    start, end = meta.get("period_start"), meta.get("period_end")
    methodology = str(meta.get("methodology") or "").strip()
    change = percent = None
    if previous_value is not None:
        change = _decimal(answer.value) - _decimal(previous_value)
        if previous_value > 0:
            try:
                percent = (change * 100 / _decimal(previous_value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            except InvalidOperation:  # a change too large to state to one decimal place
                percent = None
    return MetricRow(
        **common,
        status="answered",
        value=answer.value,
        period_start=start,
        period_end=end,
        methodology=methodology,
        justification="",
        comment=comment,
        previous_value=previous_value,
        change=change,
        change_percent=percent,
        published=bool(start and end and methodology) and not withheld,
    )


def _metric_notes(row: MetricRow) -> list[TeamNote]:
    def note(kind: str, detail: str = "") -> TeamNote:
        return TeamNote("outcomes", kind, row.question_id, row.question_text, detail=detail)

    if row.status == "not_applicable":
        return [note("metric_not_applicable", row.justification)]
    if row.status == "not_answered":
        return [note("metric_not_answered")]
    notes = []
    if not row.has_period:
        notes.append(note("no_period"))
    if not row.methodology:
        notes.append(note("no_methodology"))
    return notes


def _figures(bank: QuestionBank, issue: MetricIssue) -> tuple[tuple[str, str, str, str], ...]:
    """The figures of a failed check, for the team: (metric, value in words, period)."""
    periods = {qid: (start, end) for qid, start, end in issue.periods}
    return tuple(
        (
            bank.questions[qid].text.get(),
            display_value(bank.questions[qid], value, bank.taxonomy.wording),
            *periods.get(qid, ("", "")),
        )
        for qid, value in issue.values
    )


def _statement_texts(
    question: Question, answer: AnswerData, catalogue: StatementCatalogue, language: str
) -> tuple[list[str], list[Any], list[Any]]:
    """(public texts, values with a statement, publishable values without one) of an answer;
    values below the threshold appear in neither list."""
    values = answer.value if isinstance(answer.value, list) else [answer.value]
    texts, covered, uncovered = [], [], []
    for value in values:
        if not catalogue.publishable(question, value):
            continue
        text = catalogue.text_for(question.id, value, language)
        if text:
            texts.append(text)
            covered.append(value)
        else:
            uncovered.append(value)
    return texts, covered, uncovered


def build_transparency_draft(
    bank: QuestionBank,
    method: Methodology,
    organisation_name: str,
    cycle: Any,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    card: ScoreCard,
    plan: ActionPlan,
    previous_answers: Mapping[str, AnswerData] | None = None,
    previous_cycle: Any = None,
    *,
    statements: StatementCatalogue | None = None,
    checks: Iterable[MetricCheck] | None = None,
    tracking: Mapping[str, Mapping[str, Any]] | None = None,
    content_root: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
    register: Mapping[str, Any] | None = None,
) -> TransparencyDraft:
    """Draft the TRUST-style child-safety section from one assessment.

    Only questions that apply to the organisation are used. The descriptive parts carry the
    statements of ``statements`` (default: those of ``content_root``, else the bundled ones)
    for answers at or above the publish threshold; the Outcomes table every applicable metric,
    checked with ``checks``; next steps the items of ``plan`` whose ``tracking`` marks them
    ``public_commitment`` (and not done or dropped). ``previous_answers`` (the previous
    cycle's answers) adds the previous value and the change to the Outcomes table.
    """
    # The draft reads answers; the card's gaps arrive through the plan, and the card gives the
    # risk register's levels the questions that apply were decided with.
    catalogue = statements if statements is not None else load_statements(content_root)
    checks = tuple(checks) if checks is not None else load_metric_checks(content_root)
    applicable = bank.applicability(profile, answers, card.risk)
    notes: dict[str, list[TeamNote]] = {part: [] for part in (*PARTS, "outcomes", "next_steps")}
    by_topic: dict[str, list[PublicStatement]] = {}

    def part_of(question: Question) -> str | None:
        entry = catalogue.statements.get(question.id)
        if entry is not None:
            return catalogue.topic(entry.topic).part
        for part in PARTS:
            if set(question.refs) & set(catalogue.part_refs.get(part, ())):
                return part
        return None

    # The statements file decides the order: its questions first, in its order, then any other
    # question of the two parts (which can only produce notes), in bank order.
    ordered = [bank.questions[qid] for qid in catalogue.statements if qid in bank.questions]
    ordered += [q for q in bank.questions.values() if q.id not in catalogue.statements]
    for question in ordered:
        if question.metric or not applicable.get(question.id):
            continue
        part = part_of(question)
        if part is None:
            continue
        answer = answers.get(question.id)
        if answer is not None and answer.not_applicable:
            continue
        text = question.text.get()
        if answer is None or not answer.has_value:
            notes[part].append(TeamNote(part, "not_answered", question.id, text))
            continue
        shown = display_value(question, answer.value, bank.taxonomy.wording)
        entry = catalogue.statements.get(question.id)
        if answer.comment.strip():
            notes[part].append(TeamNote(part, "comment", question.id, text, shown, answer.comment))
        if question.type is AnswerType.TEXT:
            if entry is not None and entry.own_text:
                by_topic.setdefault(entry.topic, []).append(PublicStatement(question.id, str(answer.value), True))
            continue  # other text answers are internal
        if question.type not in (AnswerType.MATURITY, AnswerType.YES_PARTIAL_NO, AnswerType.SINGLE, AnswerType.MULTI):
            continue
        texts, covered, uncovered = _statement_texts(question, answer, catalogue, language)
        for public in texts:
            by_topic.setdefault(entry.topic, []).append(PublicStatement(question.id, public))
        if uncovered:
            missing = uncovered if question.type is AnswerType.MULTI else uncovered[0]
            notes[part].append(
                TeamNote(
                    part, "no_statement", question.id, text, display_value(question, missing, bank.taxonomy.wording)
                )
            )
        elif not covered:
            notes[part].append(TeamNote(part, "below_threshold", question.id, text, shown))

    parts = tuple(
        DraftPart(
            part,
            tuple(
                DraftTopic(t.id, t.heading, tuple(by_topic[t.id]))
                for t in catalogue.topics
                if t.part == part and by_topic.get(t.id)
            ),
        )
        for part in PARTS
    )

    # Outcomes: every applicable metric, checked against the others.
    issues = check_metrics(bank, answers, checks, applicable, language)
    withheld = {qid for issue in issues for qid in issue.question_ids}
    metrics = []
    for question in bank.questions.values():
        if not question.metric or not applicable.get(question.id):
            continue
        previous = previous_answers.get(question.id) if previous_answers else None
        row = _metric_row(
            question,
            catalogue.metric_label(question, language),
            answers.get(question.id),
            previous,
            previous_answers is not None,
            question.id in withheld,
        )
        metrics.append(row)
        notes["outcomes"].extend(_metric_notes(row))
        if row.comment.strip():
            notes["outcomes"].append(
                TeamNote("outcomes", "comment", row.question_id, row.question_text, detail=row.comment)
            )
    for issue in issues:
        qid = issue.question_ids[0]
        notes["outcomes"].append(
            TeamNote(
                "outcomes",
                "inconsistent",
                qid,
                bank.questions[qid].text.get(),
                detail=issue.message,
                figures=_figures(bank, issue),
            )
        )

    # Next steps: only what the team chose to commit to in public.
    tracking = tracking or {}
    plan_items = tuple(
        ChallengeItem(i.id, i.priority, i.priority_label, i.title, str((tracking.get(i.id) or {}).get("due") or ""))
        for i in plan.items
    )
    commitments = tuple(
        item
        for item in plan_items
        if (tracking.get(item.id) or {}).get("public_commitment")
        and str((tracking.get(item.id) or {}).get("status") or "") not in CLOSED_STATUSES
    )
    if plan_items and not commitments:
        notes["next_steps"].append(TeamNote("next_steps", "no_commitments"))

    return TransparencyDraft(
        organisation_name=str(organisation_name or ""),
        cycle="" if cycle is None else str(cycle),
        previous_cycle=None if previous_cycle is None else str(previous_cycle),
        methodology=method.key,
        parts=parts,
        metrics=tuple(metrics),
        has_previous=previous_answers is not None,
        commitments=commitments,
        plan_items=plan_items,
        inconsistencies=issues,
        notes=tuple(n for part in (*PARTS, "outcomes", "next_steps") for n in notes[part]),
        key_risks=key_risks_paragraph(bank.taxonomy, method, register, content_root, language),
    )
