"""The first draft of the child-safety section of a transparency report, after TRUST.

TRUST (the Tech Coalition's voluntary framework for industry transparency) structures a report
as Policies and Practices, Processes and Systems, and Outcomes; the draft adds Challenges and
next steps from the action plan. This module prepares the data; the wording of the document is
in ``reports/transparency.md.j2`` (see :mod:`dd_toolkit.reports`).

Rules the draft keeps:

* **Nothing is invented.** A statement comes from an answer: the company's own text, the
  answered maturity level descriptor, or the question turned into a statement in the
  company's voice ("Do you publish ...?" answered Yes becomes "We publish ..."). Numbers are
  exactly the answered numbers.
* **Anything missing is a gap**, listed on :attr:`TransparencyDraft.gaps` and shown in the
  document as a Markdown blockquote line starting ``**Gap:**`` (or, in the Outcomes table, a
  cell starting ``**Gap:**``) that names the question id and text that would fill it. A
  question is a gap when it applies but is unanswered, or answered No, maturity level 0, or
  only with choices worth no points (for example "None of these").
* All text typed by users stays plain text: the template passes it through the ``text``
  filter (:func:`dd_toolkit.reports.escape_text`).

No Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dd_toolkit.engine.actions import ActionPlan
from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question, QuestionBank
from dd_toolkit.engine.content.values import display_value
from dd_toolkit.engine.scoring import Methodology, ScoreCard

__all__ = [
    "PARTS",
    "POLICY_REFS",
    "PROCESS_REFS",
    "ChallengeItem",
    "DraftGap",
    "DraftPart",
    "MetricRow",
    "Statement",
    "TransparencyDraft",
    "build_transparency_draft",
    "question_statement",
]

# The parts of the draft, in order: (id, title).
PARTS = (
    ("policies", "Policies and Practices"),
    ("processes", "Processes and Systems"),
    ("outcomes", "Outcomes"),
    ("challenges", "Challenges and next steps"),
)
# Which questions feed the two descriptive parts: their framework references. A question
# whose references match both goes to Policies. Metrics always go to Outcomes.
POLICY_REFS = ("TRUST:policies", "RPA:7.4.1")
PROCESS_REFS = ("TRUST:processes", "RPA:7.2.1", "RPA:7.3.1")

# Reasons a gap is raised; the template words each.
GAP_REASONS = ("not_answered", "not_in_place", "no_period", "no_methodology")


@dataclass(frozen=True)
class Statement:
    """What one answer contributes to the prose of a part.

    ``kind`` is ``own_text`` (the company's own words, in ``own_text``), ``in_place``,
    ``partly`` (a yes/partial/no question answered Partly), ``level`` (a maturity level
    descriptor) or ``choices`` (option labels). ``sentence`` is the statement in the company's
    voice; it is empty when the question could not be turned into one, and the template then
    quotes the question and the answer instead.
    """

    question_id: str
    question_text: str
    section_id: str
    section_title: str
    kind: str
    sentence: str
    answer: str  # the answer in words
    own_text: str = ""  # user-typed: text answers
    comment: str = ""  # user-typed: the answer's comment


@dataclass(frozen=True)
class DraftGap:
    part: str  # policies | processes | outcomes
    question_id: str
    question_text: str
    reason: str  # one of GAP_REASONS
    answer: str = ""  # the answer in words when one was given (e.g. "No")


@dataclass(frozen=True)
class StatementGroup:
    """Statements of one question-bank section, written as one paragraph."""

    section_id: str
    section_title: str
    show_title: bool  # False when the bank section is the part itself (trust.policies ...)
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class DraftPart:
    id: str
    title: str
    own_texts: tuple[Statement, ...]  # the company's own descriptions, first
    groups: tuple[StatementGroup, ...]
    gaps: tuple[DraftGap, ...]

    @property
    def statements(self) -> tuple[Statement, ...]:
        return self.own_texts + tuple(s for g in self.groups for s in g.statements)


@dataclass(frozen=True)
class MetricRow:
    question_id: str
    metric: str  # the question text
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
    gaps: tuple[str, ...]  # reasons: not_answered, no_period, no_methodology

    @property
    def has_period(self) -> bool:
        return bool(self.period_start and self.period_end)


@dataclass(frozen=True)
class ChallengeItem:
    id: str
    priority: str
    priority_label: str
    title: str


@dataclass(frozen=True)
class TransparencyDraft:
    organisation_name: str
    cycle: str
    previous_cycle: str | None
    methodology: str
    parts: tuple[DraftPart, ...]  # policies, processes
    metrics: tuple[MetricRow, ...]
    has_previous: bool  # previous answers were given: the table shows the change
    urgent: tuple[ChallengeItem, ...]  # first-priority items (P1)
    next: tuple[ChallengeItem, ...]  # second-priority items (P2)
    urgent_priority: str | None  # id and label of those priorities, from the methodology
    urgent_label: str | None
    next_priority: str | None
    next_label: str | None
    later_count: int  # items of lower priority
    total_items: int
    gaps: tuple[DraftGap, ...]  # every gap, in document order

    @property
    def policies(self) -> DraftPart:
        return self.parts[0]

    @property
    def processes(self) -> DraftPart:
        return self.parts[1]

    @property
    def gap_question_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.question_id for g in self.gaps))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row in data["metrics"]:
            for key in ("change", "change_percent"):
                if row[key] is not None:
                    row[key] = str(row[key])
        return data


# -- questions as statements in the company's voice -------------------------------------------

_DETERMINERS = {
    "the",
    "a",
    "an",
    "your",
    "our",
    "its",
    "their",
    "this",
    "that",
    "these",
    "those",
    "each",
    "every",
    "any",
    "all",
    "and",
    "or",
    "of",
    "on",
    "in",
    "for",
    "to",
    "with",
}
_VERBS = {
    "act",
    "allow",
    "answer",
    "appeal",
    "apply",
    "ask",
    "assess",
    "block",
    "check",
    "commit",
    "consider",
    "consult",
    "contain",
    "contribute",
    "cooperate",
    "cover",
    "define",
    "describe",
    "detect",
    "disable",
    "do",
    "enable",
    "escalate",
    "explain",
    "flag",
    "follow",
    "get",
    "give",
    "go",
    "handle",
    "have",
    "hold",
    "include",
    "inform",
    "involve",
    "keep",
    "know",
    "let",
    "limit",
    "link",
    "list",
    "log",
    "look",
    "make",
    "measure",
    "meet",
    "mention",
    "monitor",
    "name",
    "need",
    "notify",
    "offer",
    "participate",
    "preserve",
    "prohibit",
    "protect",
    "provide",
    "publish",
    "reach",
    "receive",
    "record",
    "reflect",
    "remove",
    "report",
    "require",
    "respond",
    "restrict",
    "review",
    "run",
    "say",
    "see",
    "set",
    "share",
    "show",
    "state",
    "support",
    "take",
    "tell",
    "track",
    "train",
    "turn",
    "update",
    "use",
    "verify",
    "warn",
}
_PARTICIPLES = {
    "able",
    "accessible",
    "available",
    "built",
    "clear",
    "done",
    "easy",
    "found",
    "free",
    "given",
    "held",
    "kept",
    "known",
    "made",
    "met",
    "open",
    "possible",
    "ready",
    "run",
    "seen",
    "sent",
    "set",
    "shown",
    "taken",
    "told",
    "understood",
    "used",
    "visible",
    "written",
}
_LEADS = ("When", "Once", "If", "Where", "After", "Before", "Whenever")


def _third_person(verb: str) -> str:
    if verb == "have":
        return "has"
    if verb in ("do", "go"):
        return verb + "es"
    if re.search(r"(s|sh|ch|x|z)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


def _our_voice(text: str) -> str:
    """Second person to first person plural: "you" -> "we", "your" -> "our"."""
    rules = (
        (r"\b(to|for|with|by|from|about|at|of|reach|contact|tell) you\b", r"\1 us"),
        (r"\byourselves\b", "ourselves"),
        (r"\byours\b", "ours"),
        (r"\byour\b", "our"),
        (r"\byou\b", "we"),
        (r"\bYour\b", "Our"),
        (r"\bYou\b", "We"),
    )
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[1].isupper():
        return text  # an acronym such as "NCMEC"
    return text[:1].lower() + text[1:]


def _clean_word(word: str) -> str:
    return word.lower().strip(",;:()")


def _split_subject(words: list[str], is_verb, longest: int) -> int | None:
    """Index of the first word after a subject (of at most ``longest`` words, not ending on a
    determiner) that ``is_verb`` accepts."""
    for index in range(1, min(len(words), longest + 1)):
        if _clean_word(words[index - 1]) in _DETERMINERS or words[index - 1].endswith(","):
            continue
        if is_verb(_clean_word(words[index])):
            return index
    return None


def _is_participle(word: str) -> bool:
    return word in _PARTICIPLES or (len(word) > 3 and word.endswith("ed"))


def _we(subject: str) -> bool:
    return subject.lower() in ("you", "the company", "we", "your company", "the organisation")


def question_statement(text: str) -> str | None:
    """A question turned into a statement in the company's voice, without its final "?":
    "Do you publish X?" -> "We publish X". None when the question has no pattern this knows.

    Yes/no questions ("Do/Does/Is/Are/Can/Has/Have ...") become what is in place; choice
    questions ("What does X cover?", "Which N do you take part in?") become a lead for a list.
    """
    statement = _statement_of(text)
    if statement is None:
        return None
    # A second question joined on: "..., and are they told ..." -> "..., and they are told".
    statement = re.sub(r"\band (?:do|does) (we|they|it) ", r"and \1 ", statement)
    return re.sub(r"\band (are|is|can|will|have) (we|they|it) ", r"and \2 \1 ", statement)


def _statement_of(text: str) -> str | None:
    text = " ".join(text.split()).rstrip("?").strip()
    lead = re.match(rf"^({'|'.join(_LEADS)}) ([^,]+), (.+)$", text)
    if lead:
        rest = _statement_of(_upper_first(lead.group(3)))
        if rest is None:
            return None
        return f"{lead.group(1)} {_our_voice(lead.group(2))}, {_lower_first(rest)}"
    words = text.split(" ")
    if len(words) < 3:
        return None
    first, rest = words[0], words[1:]

    if first in ("Do", "Does", "Did"):
        if rest[0].lower() == "you" or (first == "Does" and _we(" ".join(rest[:2]))):
            skip = 1 if rest[0].lower() == "you" else 2
            return _our_voice("We " + " ".join(rest[skip:]))
        if first == "Do":
            return _upper_first(_our_voice(" ".join(rest)))
        index = _split_subject(rest, lambda w: w in _VERBS, 8)
        if index is None:
            return None
        verb = _third_person(_clean_word(rest[index]))
        return _upper_first(_our_voice(" ".join(rest[:index] + [verb] + rest[index + 1 :])))

    if first in ("Is", "Are"):
        be = first.lower()
        if rest[0] == "there":
            return _our_voice(f"There {be} " + " ".join(rest[1:]))
        index = _split_subject(rest, _is_participle, 12)
        if index is None:
            return None
        subject = " ".join(rest[:index])
        if _we(subject):
            return _our_voice("We are " + " ".join(rest[index:]))
        return _upper_first(_our_voice(f"{subject} {be} " + " ".join(rest[index:])))

    if first in ("Has", "Have"):
        index = _split_subject(rest, _is_participle, 12)
        if index is None:
            return None
        subject = " ".join(rest[:index])
        if _we(subject):
            return _our_voice("We have " + " ".join(rest[index:]))
        return _upper_first(_our_voice(f"{subject} {first.lower()} " + " ".join(rest[index:])))

    if first in ("Can", "Could", "Will", "Would", "Should", "Must"):
        index = _split_subject(rest, lambda w: w in _VERBS, 8)
        if index is None:
            return None
        subject = " ".join(rest[:index])
        modal = first.lower()
        if _we(subject):
            return _our_voice(f"We {modal} " + " ".join(rest[index:]))
        return _upper_first(_our_voice(f"{subject} {modal} " + " ".join(rest[index:])))

    if first == "What" and rest[0] in ("do", "does"):
        return _statement_of(_upper_first(" ".join(rest)))
    if first == "Which":
        # "Which N do you V" -> "We V the following N"; "Which N are V-ed" -> "The following
        # N are V-ed".
        for aux in ("do", "does", "are", "is"):
            if aux in rest:
                at = rest.index(aux)
                noun, after = " ".join(rest[:at]), rest[at + 1 :]
                if not noun or not after:
                    return None
                if aux in ("are", "is"):
                    return _our_voice(f"The following {noun} {aux} " + " ".join(after))
                clause = _statement_of(_upper_first(f"{aux} " + " ".join(after)))
                if clause is None:
                    return None
                return f"{clause} the following {_our_voice(noun)}"
        return None
    if first == "How" and rest[0] == "often" and len(rest) > 2 and rest[1] in ("is", "are"):
        return _statement_of(_upper_first(" ".join(rest[1:])))
    return None


def _level_statement(descriptor: str) -> str:
    """A maturity level descriptor as a statement in the company's voice, minimally changed:
    only references to "the company" become "we"/"our"."""
    text = descriptor.strip()
    text = re.sub(r"\b[Tt]he company's\b", "our", text)
    text = re.sub(r"\bby the company\b", "by us", text)

    def verb(match: re.Match) -> str:
        word = match.group(2)
        plain = {"is": "are", "has": "have", "was": "were", "does": "do"}.get(word)
        if plain is None:
            plain = re.sub(r"(sh|ch|x|z|ss)es$", r"\1", word)
            plain = re.sub(r"ies$", "y", plain) if plain == word else plain
            plain = plain[:-1] if plain == word and word.endswith("s") else plain
        return f"{'We' if match.group(1) == 'T' else 'we'} {plain}"

    text = re.sub(r"\b([Tt])he company (\w+s)\b", verb, text)
    return _upper_first(text)


# -- the draft --------------------------------------------------------------------------------


def _part_of(question: Question) -> str | None:
    if question.metric:
        return None
    refs = set(question.refs)
    if refs & set(POLICY_REFS):
        return "policies"
    if refs & set(PROCESS_REFS):
        return "processes"
    return None


def _statement(question: Question, answer: AnswerData, section, kind: str, sentence: str, **extra: str) -> Statement:
    return Statement(
        question_id=question.id,
        question_text=question.text.get(),
        section_id=section.id,
        section_title=section.title.get(),
        kind=kind,
        sentence=sentence,
        answer=display_value(question, answer.value),
        comment=answer.comment,
        **extra,
    )


def _describe(question: Question, answer: AnswerData, section) -> Statement | str:
    """A statement for an answer, or the reason it is a gap."""
    kind = question.type
    if kind is AnswerType.TEXT:
        return _statement(question, answer, section, "own_text", "", own_text=str(answer.value))
    if kind is AnswerType.YES_PARTIAL_NO:
        if answer.value == "no":
            return "not_in_place"
        sentence = question_statement(question.text.get())
        sentence = sentence + "." if sentence else ""
        return _statement(question, answer, section, "in_place" if answer.value == "yes" else "partly", sentence)
    if kind is AnswerType.MATURITY:
        level = int(answer.value)
        if level == 0:
            return "not_in_place"
        return _statement(question, answer, section, "level", _level_statement(question.levels[level].get()))
    if kind in (AnswerType.SINGLE, AnswerType.MULTI):
        chosen = answer.value if isinstance(answer.value, list) else [answer.value]
        options = [o for o in question.options if o.value in chosen]
        if kind is AnswerType.MULTI and len(options) > 1:
            # "None of these" ticked beside real options says nothing.
            options = [o for o in options if o.value != "none"]
        if question.is_scored and options and all(not o.points for o in options):
            return "not_in_place"
        lead = question_statement(question.text.get())
        labels = "; ".join(o.label.get() for o in options)
        sentence = f"{lead}: {labels}." if lead else ""
        return _statement(question, answer, section, "choices", sentence)
    # Numbers and dates outside Outcomes: quote the answer as given.
    return _statement(question, answer, section, "choices", "")


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _metric_row(question: Question, answer: AnswerData | None, previous: AnswerData | None, compare: bool) -> MetricRow:
    previous_value = None
    if compare and previous is not None and previous.has_value and not previous.not_applicable:
        if isinstance(previous.value, int | float) and not isinstance(previous.value, bool):
            previous_value = previous.value
    if answer is not None and answer.not_applicable:
        return MetricRow(
            question.id,
            question.text.get(),
            question.unit or "",
            "not_applicable",
            None,
            None,
            None,
            "",
            answer.justification,
            answer.comment,
            previous_value,
            None,
            None,
            (),
        )
    if answer is None or not answer.has_value:
        return MetricRow(
            question.id,
            question.text.get(),
            question.unit or "",
            "not_answered",
            None,
            None,
            None,
            "",
            "",
            answer.comment if answer else "",
            previous_value,
            None,
            None,
            ("not_answered",),
        )
    meta = answer.meta or {}
    start, end = meta.get("period_start"), meta.get("period_end")
    methodology = str(meta.get("methodology") or "").strip()
    gaps = []
    if not (start and end):
        gaps.append("no_period")
    if not methodology:
        gaps.append("no_methodology")
    change = percent = None
    if previous_value is not None:
        change = _decimal(answer.value) - _decimal(previous_value)
        if previous_value > 0:
            percent = (change * 100 / _decimal(previous_value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return MetricRow(
        question.id,
        question.text.get(),
        question.unit or "",
        "answered",
        answer.value,
        start,
        end,
        methodology,
        "",
        answer.comment,
        previous_value,
        change,
        percent,
        tuple(gaps),
    )


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
) -> TransparencyDraft:
    """Draft the TRUST-style child-safety section from one assessment.

    Only questions that apply to the organisation are used. Policies and Practices draws on
    questions referenced ``TRUST:policies`` (and the RPA 7.4.1 safeguarding-policy questions),
    Processes and Systems on ``TRUST:processes`` (and the RPA 7.2.1 / 7.3.1 questions), the
    Outcomes table on every metric question, and Challenges and next steps on the first two
    priorities of ``plan``. ``previous_answers`` (the previous cycle's answers) adds the
    previous value and the change to the Outcomes table.
    """
    del card  # the draft reads answers; the card's gaps arrive through the plan
    applicable = bank.applicability(profile, answers)
    collected: dict[str, dict[str, list]] = {part: {"own": [], "statements": [], "gaps": []} for part, _ in PARTS[:2]}
    metrics: list[MetricRow] = []
    for question in bank.questions.values():
        if not applicable.get(question.id):
            continue
        answer = answers.get(question.id)
        if question.metric:
            previous = previous_answers.get(question.id) if previous_answers else None
            metrics.append(_metric_row(question, answer, previous, previous_answers is not None))
            continue
        part = _part_of(question)
        if part is None:
            continue
        bucket = collected[part]
        if answer is not None and answer.not_applicable:
            continue
        if answer is None or not answer.has_value:
            bucket["gaps"].append(DraftGap(part, question.id, question.text.get(), "not_answered"))
            continue
        result = _describe(question, answer, bank.section_of[question.id])
        if isinstance(result, str):
            bucket["gaps"].append(
                DraftGap(part, question.id, question.text.get(), result, display_value(question, answer.value))
            )
        elif result.kind == "own_text":
            bucket["own"].append(result)
        else:
            bucket["statements"].append(result)

    titles = dict(PARTS)
    parts = []
    for part_id in ("policies", "processes"):
        bucket = collected[part_id]
        own = bucket["own"]
        # The TRUST module's own descriptions open the part.
        own.sort(key=lambda s: not s.section_id.startswith("trust."))
        groups: dict[str, list[Statement]] = {}
        for statement in bucket["statements"]:
            groups.setdefault(statement.section_id, []).append(statement)
        parts.append(
            DraftPart(
                id=part_id,
                title=titles[part_id],
                own_texts=tuple(own),
                groups=tuple(
                    StatementGroup(
                        sid,
                        items[0].section_title,
                        items[0].section_title.lower() != titles[part_id].lower(),
                        tuple(items),
                    )
                    for sid, items in groups.items()
                ),
                gaps=tuple(bucket["gaps"]),
            )
        )

    metric_gaps = [DraftGap("outcomes", row.question_id, row.metric, reason) for row in metrics for reason in row.gaps]
    priorities = list(plan.priority_labels)
    urgent_id = priorities[0] if priorities else None
    next_id = priorities[1] if len(priorities) > 1 else None

    def challenge(priority: str | None) -> tuple[ChallengeItem, ...]:
        return tuple(
            ChallengeItem(i.id, i.priority, i.priority_label, i.title)
            for i in plan.items
            if priority is not None and i.priority == priority
        )

    urgent, following = challenge(urgent_id), challenge(next_id)
    return TransparencyDraft(
        organisation_name=str(organisation_name or ""),
        cycle="" if cycle is None else str(cycle),
        previous_cycle=None if previous_cycle is None else str(previous_cycle),
        methodology=method.key,
        parts=tuple(parts),
        metrics=tuple(metrics),
        has_previous=previous_answers is not None,
        urgent=urgent,
        next=following,
        urgent_priority=urgent_id,
        urgent_label=plan.priority_labels.get(urgent_id) if urgent_id else None,
        next_priority=next_id,
        next_label=plan.priority_labels.get(next_id) if next_id else None,
        later_count=len(plan.items) - len(urgent) - len(following),
        total_items=len(plan.items),
        gaps=tuple(g for p in parts for g in p.gaps) + tuple(metric_gaps),
    )
