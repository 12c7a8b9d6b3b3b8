"""Coverage of the question bank against the frameworks, and a readable export for review.

Pure functions over a loaded :class:`~dd_toolkit.content.bank.QuestionBank`: no Flask, no
database. The CLI and the web pages call the same functions.

- :func:`coverage` maps every framework reference in the taxonomy to the questions that
  carry it, so gaps (a reference with no or one question) are easy to see.
- :func:`filter_questions` selects questions by framework reference and/or form of harm.
- :func:`question_bank_markdown` renders the whole bank as one Markdown document that a
  child-rights specialist or a regulator can read and comment on without opening YAML.
"""

from __future__ import annotations

from dd_toolkit.engine.content.bank import QuestionBank
from dd_toolkit.engine.content.conditions import All, Any_, Condition, Leaf, Not
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, AnswerType, Question, Section

_TYPE_NAMES = {
    AnswerType.MATURITY: "maturity (levels 0-4)",
    AnswerType.YES_PARTIAL_NO: "yes / partly / no",
    AnswerType.SINGLE: "single choice",
    AnswerType.MULTI: "multiple choice",
    AnswerType.NUMBER: "number",
    AnswerType.TEXT: "text",
    AnswerType.DATE: "date",
}


# -- coverage and filtering -----------------------------------------------------------------
def coverage(bank: QuestionBank) -> dict[str, list[str]]:
    """For every framework reference in the taxonomy (in taxonomy order), the ids of the
    questions mapped to it, in bank order; an empty list when no question carries it."""
    result: dict[str, list[str]] = {ref: [] for ref in bank.taxonomy.ids("frameworks")}
    for qid, question in bank.questions.items():
        for ref in question.refs:
            if ref in result and qid not in result[ref]:
                result[ref].append(qid)
    return result


def filter_questions(bank: QuestionBank, ref: str | None = None, harm: str | None = None) -> list[Question]:
    """Questions carrying the framework reference ``ref`` and/or the harm ``harm``, in bank
    order. A filter left as ``None`` does not restrict. An id that the taxonomy does not
    know raises :class:`ValueError`, so a typo is not mistaken for "no questions"."""
    if ref is not None and ref not in bank.taxonomy.ids("frameworks"):
        raise ValueError(f"unknown framework reference '{ref}'")
    if harm is not None and harm not in bank.taxonomy.ids("harms"):
        raise ValueError(f"unknown harm '{harm}'")
    return [q for q in bank.questions.values() if (ref is None or ref in q.refs) and (harm is None or harm in q.harms)]


# -- applicability in plain words -----------------------------------------------------------
def condition_lines(
    bank: QuestionBank, condition: Condition, depth: int = 0, language: str = DEFAULT_LANGUAGE
) -> list[str]:
    """A condition tree as nested Markdown bullet lines, in plain words."""
    indent = "  " * depth

    def nested(header: str, items: tuple[Condition, ...]) -> list[str]:
        lines = [f"{indent}- {header}"]
        for item in items:
            lines.extend(condition_lines(bank, item, depth + 1, language))
        return lines

    if isinstance(condition, Leaf):
        return [f"{indent}- {bank.describe_leaf(condition, language)}"]
    if isinstance(condition, All):
        return nested("All of the following:", condition.items)
    if isinstance(condition, Any_):
        return nested("At least one of the following:", condition.items)
    if isinstance(condition, Not):
        inner = condition.item
        if isinstance(inner, Leaf):
            return [f"{indent}- Not the case: {bank.describe_leaf(inner, language)}"]
        if isinstance(inner, Not):
            return condition_lines(bank, inner.item, depth, language)
        if isinstance(inner, All):
            return nested("Not all of the following:", inner.items)
        return nested("None of the following:", inner.items)
    raise TypeError(f"not a condition: {condition!r}")


def applicability_lines(bank: QuestionBank, question: Question, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """When a question is asked, combining its section's condition and its own. An empty
    list means it is always asked."""
    section = bank.section_of[question.id]
    conditions = [c for c in (section.applies_when, question.applies_when) if c is not None]
    if not conditions:
        return []
    if len(conditions) == 1:
        return condition_lines(bank, conditions[0], 0, language)
    return condition_lines(bank, All(tuple(conditions)), 0, language)


# -- the Markdown document -------------------------------------------------------------------
def _label(bank: QuestionBank, vocabulary: str, entry_id: str, language: str) -> str:
    return bank.taxonomy.label(vocabulary, entry_id, language)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _question_markdown(bank: QuestionBank, q: Question, language: str) -> list[str]:
    out = [f"#### `{q.id}` {q.text.get(language)}", ""]

    facts = [f"**Type:** {_TYPE_NAMES[q.type]}"]
    if q.is_scored:
        facts.append(f"**Scored**, weight {_number(q.weight)}")
    else:
        facts.append("not scored")
    if q.critical:
        facts.append("**critical**")
    if q.metric:
        facts.append("transparency metric (with reporting period and methodology note)")
    if not q.required:
        facts.append("optional")
    if not q.allow_not_applicable:
        facts.append("cannot be marked not applicable")
    if q.function:
        facts.append(f"**Owner:** {_label(bank, 'functions', q.function, language)}")
    out += [" · ".join(facts), ""]

    out += [f"**Guidance.** {q.guidance.get(language)}", ""]
    if q.partial_means is not None:
        out += [f'**"Partly" means:** {q.partial_means.get(language)}', ""]

    if q.levels:
        out.append("**Levels:**")
        out += [f"- {i}: {level.get(language)}" for i, level in enumerate(q.levels)]
        out.append("")
    if q.options:
        out.append("**Options:**")
        for option in q.options:
            points = "" if option.points is None else f" ({_number(option.points)} points)"
            out.append(f"- `{option.value}`: {option.label.get(language)}{points}")
        out.append("")
    if q.type is AnswerType.NUMBER:
        bounds = []
        if q.minimum is not None:
            bounds.append(f"minimum {_number(q.minimum)}")
        if q.maximum is not None:
            bounds.append(f"maximum {_number(q.maximum)}")
        if q.integer:
            bounds.append("whole numbers")
        extra = f" ({', '.join(bounds)})" if bounds else ""
        out += [f"**Unit:** {q.unit.get()}{extra}", ""]

    applies = applicability_lines(bank, q, language)
    if applies:
        out.append("**Asked when:**")
        out += applies
    else:
        out.append("**Asked when:** always")
    out.append("")

    if q.evidence:
        out.append("**Evidence a reviewer expects:**")
        out += [f"- {item.get(language)}" for item in q.evidence]
        out.append("")

    if q.refs:
        out.append("**Framework references:**")
        out += [f"- `{ref}` {_label(bank, 'frameworks', ref, language)}" for ref in q.refs]
        out.append("")
    tags = []
    if q.harms:
        tags.append("**Harms:** " + ", ".join(_label(bank, "harms", h, language) for h in q.harms))
    if q.risks:
        tags.append("**Risks:** " + ", ".join(_label(bank, "risks", r, language) for r in q.risks))
    if tags:
        out += [" · ".join(tags), ""]

    if q.actions:
        out.append("**Recommended actions:**")
        for heading, steps in _action_groups(q, language):
            out.append(f"- {heading}:")
            out += [f"  - {step.get(language)}" for step in steps]
        out.append("")
    return out


def _action_groups(q: Question, language: str) -> list[tuple[str, tuple]]:
    """The recommended steps of a question with a heading for the answer they start from."""
    actions = q.actions
    if q.type is AnswerType.MULTI:
        return [
            (f'If "{q.option_label(value, language)}" is not ticked', steps)
            for value, steps in actions.missing.items()
            if steps
        ]
    groups = []
    for key, steps in actions.by_answer.items():
        if not steps:
            continue
        if q.type is AnswerType.MATURITY:
            heading = f"From level {key} to level {int(key) + 1}"
        elif q.type is AnswerType.YES_PARTIAL_NO:
            heading = 'If the answer is "{}"'.format({"no": "No", "partial": "Partly"}.get(key, key))
        else:
            heading = f'If the answer is "{q.option_label(key, language)}"'
        groups.append((heading, steps))
    return groups


def _section_markdown(bank: QuestionBank, section: Section, language: str) -> list[str]:
    out = [f"### {section.title.get(language)} (`{section.id}`)", ""]
    if section.intro:
        out += [section.intro.get(language), ""]
    if section.applies_when is not None:
        out.append("Whole section asked when:")
        out += condition_lines(bank, section.applies_when, 0, language)
        out.append("")
    for question in section.questions:
        out += _question_markdown(bank, question, language)
    return out


def question_bank_markdown(bank: QuestionBank, language: str = DEFAULT_LANGUAGE) -> str:
    """The whole question bank as one Markdown document for expert review."""
    questions = list(bank.questions.values())
    scored = sum(q.is_scored for q in questions)
    out = [
        "# Question bank",
        "",
        f"{len(questions)} questions in {len(bank.questionnaires)} modules, {scored} of them scored.",
        "",
    ]
    out += ["| Module | Version | Questions | Scored |", "| --- | --- | --- | --- |"]
    for module in bank.questionnaires:
        module_questions = module.questions()
        out.append(
            f"| {module.title.get(language)} (`{module.id}`) | {module.version} | "
            f"{len(module_questions)} | {sum(q.is_scored for q in module_questions)} |"
        )
    out.append("")

    for module in bank.questionnaires:
        out += [f"## {module.title.get(language)} (`{module.id}`, version {module.version})", ""]
        if module.description:
            out += [module.description.get(language), ""]
        for section in module.sections:
            out += _section_markdown(bank, section, language)

    out += ["## Coverage by framework reference", ""]
    for ref, ids in coverage(bank).items():
        label = _label(bank, "frameworks", ref, language)
        listed = ", ".join(f"`{qid}`" for qid in ids) if ids else "none"
        out.append(f"- `{ref}` {label} ({len(ids)}): {listed}")
    out.append("")
    return "\n".join(out)
