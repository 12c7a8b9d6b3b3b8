"""Forms for assessments. Section forms are generated from the questionnaire: one subform
per question, named by the question's form key, so the HTML names are stable
(``hrdd-policy-owner-value``) and every typed character comes back on a failed save.

Fields here only carry what was typed; whether it is a valid answer is decided by
:func:`dd_toolkit.content.values.build_answer`, the same check the JSON import uses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from markupsafe import Markup
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Regexp, StopValidation

from dd_toolkit.engine.content import AnswerData, AnswerType, Question
from dd_toolkit.engine.content.values import build_answer
from dd_toolkit.web.forms import Form as PageForm  # wtforms' Form is the per-question subform
from dd_toolkit.web.forms import MultiCheckboxField

YES_PARTIAL_NO_LABELS = (
    SelectChoice("yes", _l("Yes")),
    SelectChoice("partial", _l("Partly")),
    SelectChoice("no", _l("No")),
)


# The labels of the fields every question has; the section page renders these fields as plain
# HTML (see assess/section.html) and takes their labels from :func:`field_labels`.
FIELD_LABELS = {
    "not_applicable": _l("Not applicable to us"),
    "justification": _l("Why it does not apply"),
    "comment": _l("Comment"),
    "period_start": _l("Reporting period from"),
    "period_end": _l("to"),
    "methodology": _l("Methodology note"),
    "methodology_hint": _l("How the number was counted: what is included, deduplication, source system."),
    "evidence_description": _l("What it shows"),
    "evidence_strength": _l("Strength of the evidence"),
}


def field_labels() -> dict[str, Markup]:
    """:data:`FIELD_LABELS` translated, once for a page; they render as the lazy strings do."""
    return {key: Markup(str(label)) for key, label in FIELD_LABELS.items()}


class EvidenceForm(Form):
    url = StringField(_l("Link"), render_kw={"type": "url", "placeholder": "https://"})
    description = StringField(FIELD_LABELS["evidence_description"])


def _value_field(question: Question):
    label = question.text.get()
    kind = question.type
    if kind is AnswerType.MATURITY:
        choices = [SelectChoice(str(i), level.get()) for i, level in enumerate(question.levels)]
        return RadioField(label, choices=choices, validate_choice=False)
    if kind is AnswerType.YES_PARTIAL_NO:
        return RadioField(label, choices=list(YES_PARTIAL_NO_LABELS), validate_choice=False)
    if kind is AnswerType.SINGLE:
        choices = [SelectChoice(o.value, o.label.get()) for o in question.options]
        return RadioField(label, choices=choices, validate_choice=False)
    if kind is AnswerType.MULTI:
        choices = [SelectChoice(o.value, o.label.get()) for o in question.options]
        return MultiCheckboxField(label, choices=choices, validate_choice=False)
    if kind is AnswerType.NUMBER:
        return StringField(label, render_kw={"inputmode": "decimal", "autocomplete": "off"})
    if kind is AnswerType.TEXT:
        return TextAreaField(label, render_kw={"rows": 4, "maxlength": question.max_length})
    return StringField(label, render_kw={"type": "date"})


def question_form_class(question: Question, evidence_rows: int, strengths: tuple = ()) -> type[Form]:
    """``strengths`` are the taxonomy's evidence strengths, weakest (the default) first."""
    fields = {
        "value": _value_field(question),
        "not_applicable": BooleanField(FIELD_LABELS["not_applicable"]),
        "justification": TextAreaField(FIELD_LABELS["justification"], render_kw={"rows": 2}),
        "comment": TextAreaField(FIELD_LABELS["comment"], render_kw={"rows": 2}),
        "base_version": HiddenField(default="0"),
        "evidence": FieldList(FormField(EvidenceForm), min_entries=evidence_rows),
    }
    if strengths:
        fields["evidence_strength"] = SelectField(
            FIELD_LABELS["evidence_strength"],
            choices=[SelectChoice(entry.id, entry.label.get()) for entry in strengths],
            validate_choice=False,
        )
    if question.metric:
        fields["period_start"] = StringField(FIELD_LABELS["period_start"], render_kw={"type": "date"})
        fields["period_end"] = StringField(FIELD_LABELS["period_end"], render_kw={"type": "date"})
        fields["methodology"] = TextAreaField(
            FIELD_LABELS["methodology"], render_kw={"rows": 2}, description=FIELD_LABELS["methodology_hint"]
        )
    return type(f"Q_{question.form_key}", (Form,), fields)


def section_form(
    questions: list[Question], saved: dict[str, tuple[AnswerData, int]], formdata=None, strengths: tuple = ()
):
    """The form for the questions shown on one section page, filled from ``saved`` on GET."""
    attrs = {}
    data = {}
    for question in questions:
        answer, version = saved.get(question.id, (AnswerData(), 0))
        attrs[question.form_key] = FormField(
            question_form_class(question, len(answer.evidence) + 1, strengths), label=question.text.get()
        )
        data[question.form_key] = _initial(question, answer, version)
    attrs["save"] = SubmitField(_l("Save"))
    attrs["save_next"] = SubmitField(_l("Save and continue"))
    form_class = type("SectionForm", (PageForm,), attrs)
    if formdata is None:
        return form_class(formdata=None, data=data)
    return form_class(formdata=formdata)


def _initial(question: Question, answer: AnswerData, version: int) -> dict:
    value = answer.value
    if question.type is AnswerType.MATURITY and value is not None:
        value = str(value)
    if question.type is AnswerType.NUMBER and value is not None:
        value = str(value)
    data = {
        "value": value if value is not None else ([] if question.type is AnswerType.MULTI else None),
        "not_applicable": answer.not_applicable,
        "justification": answer.justification,
        "comment": answer.comment,
        "base_version": str(version),
        "evidence": [{"url": e.url, "description": e.description} for e in answer.evidence],
        "evidence_strength": answer.meta.get("evidence_strength") or None,
    }
    if question.metric:
        data.update({k: answer.meta.get(k, "") for k in ("period_start", "period_end", "methodology")})
    return data


def error_targets(question: Question, errors: dict[str, str]) -> list[tuple[str, str]]:
    """The id of the field each of an answer's problems is about (the section page's field ids),
    with its message, in the order of the form: the error summary links to each."""
    key = question.form_key
    choices = question.type in (AnswerType.MATURITY, AnswerType.YES_PARTIAL_NO, AnswerType.SINGLE, AnswerType.MULTI)
    targets = []
    for field, message in errors.items():
        if field == "value":
            target = f"{key}-value-0" if choices else f"{key}-value"
        elif field in ("justification", "comment"):
            target = f"{key}-{field}"
        elif field.startswith("evidence."):
            target = f"{key}-evidence-{field.partition('.')[2]}-url"
        elif field == "evidence":
            target = f"{key}-evidence-0-url"
        elif field.startswith("meta."):
            target = f"{key}-{field.partition('.')[2]}"
        else:
            target = f"q-{key}"
        targets.append((target, message))
    return targets


def read_answer(question: Question, subform: Form, previous: AnswerData | None = None) -> AnswerData:
    """Turn one question's subform into an answer; raises AnswerValueError with ``.field`` (the
    first problem) and ``.errors`` (every problem, by field)."""
    meta = None
    if question.metric:
        meta = {k: subform[k].data for k in ("period_start", "period_end", "methodology")}
    if "evidence_strength" in subform:
        field = subform.evidence_strength
        known = [choice.value for choice in field.choices]
        # The weakest strength, listed first, is what an answer without one means: not stored.
        if field.data in known[1:]:
            meta = {**(meta or {}), "evidence_strength": field.data}
    # Words are taken to be written in the language the writer reads the page in; words saved
    # again unchanged keep the language they were written in.
    answer = build_answer(
        question,
        value=subform.value.data,
        not_applicable=bool(subform.not_applicable.data),
        justification=subform.justification.data or "",
        comment=subform.comment.data or "",
        evidence=[entry.form.data for entry in subform.evidence],
        meta={**(meta or {}), "language": str(get_locale())},
    )
    if previous is not None and _words(previous) == _words(answer):
        # The same words: their language is whatever was recorded with them (nothing for words
        # saved before languages were recorded), so saving a page again changes nothing.
        meta = {k: v for k, v in answer.meta.items() if k != "language"}
        if previous.meta.get("language"):
            meta["language"] = previous.meta["language"]
        answer = dataclasses.replace(answer, meta=meta)
    return answer


def _words(answer: AnswerData) -> tuple:
    text = answer.value if isinstance(answer.value, str) else ""
    return (text, answer.justification, answer.comment, tuple(item.description for item in answer.evidence))


def base_version(subform: Form) -> int:
    """The version the answer was loaded at; anything but a plausible number reads as 0 (so a
    saved answer shows as a conflict rather than being overwritten)."""
    raw = str(subform.base_version.data or "0").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return 0
    return int(raw)


class StartAssessmentForm(PageForm):
    cycle = IntegerField(
        _l("Assessment cycle (year)"),
        validators=[DataRequired(), NumberRange(min=2000, max=2100)],
        default=lambda: dt.date.today().year,
    )
    prefill_from = SelectField(
        _l("Start from"),
        description=_l("Pre-filling copies every answer, comment and piece of evidence for you to review."),
        validate_choice=True,
    )
    submit = SubmitField(_l("Start assessment"))


class ImportForm(PageForm):
    file = FileField(
        _l("Assessment file (.json)"),
        validators=[FileRequired(), FileAllowed(["json"], _l("Choose a .json file exported from the toolkit."))],
    )
    submit = SubmitField(_l("Import as a new draft"))


def _at_least_one_recipient(form, field) -> None:
    # Not InputRequired: that would mark every checkbox required in the browser.
    if not field.data:
        raise StopValidation(_l("Choose at least one regulator to send this submission to."))


class SubmitForm(PageForm):
    """Submitting takes two steps on one address: the choices (``review``), then a page that
    summarises them and carries them in hidden fields (``confirm`` submits, ``change`` goes back
    to the choices as they were left)."""

    jurisdictions = MultiCheckboxField(
        _l("Send to the regulators of"),
        description=_l(
            "The regulators of these ASEAN Member States receive the frozen submission and may "
            "review it and ask for clarification. Preselected: your countries of operation."
        ),
        validators=[_at_least_one_recipient],
    )
    benchmark_consent = BooleanField(
        _l("Include this submission in the anonymised industry benchmark"),
        description=_l(
            "Only aggregates of five or more companies are ever shown; no one sees your "
            "organisation's figures. You can leave this unticked."
        ),
    )
    review = SubmitField(_l("Continue to the confirmation"))
    confirm = SubmitField(_l("Submit and freeze this version"))
    change = SubmitField(_l("Change the recipients or consent"))


class ConfirmForm(PageForm):
    """A button that only needs CSRF protection."""

    submit = SubmitField(_l("Confirm"))


def assignment_key(section_id: str) -> str:
    """The name of a section's field on the assignment page (``section-hrdd-policy``)."""
    return "section-" + section_id.replace(".", "-")


def assignments_form(sections: list, members: list, assigned: dict, formdata=None):
    """One select per section listing the members who may answer it (and "Nobody"), with a
    hidden field holding the member the page showed, so that a change someone else made in the
    meantime is found rather than overwritten."""
    choices = [SelectChoice("", _l("Nobody"))] + [
        SelectChoice(str(user.id), user.name or user.email) for user in members
    ]
    attrs, data = {}, {}
    for section in sections:
        key = assignment_key(section.id)
        shown = str(assigned[section.id].id) if section.id in assigned else ""
        # A member assigned before leaving stays a choice until the section is given to another.
        extra = (
            []
            if not shown or any(c.value == shown for c in choices)
            else [SelectChoice(shown, _assignee_label(assigned[section.id]))]
        )
        attrs[key] = SelectField(_l("Assigned to"), choices=choices + extra)
        attrs[key + "-shown"] = HiddenField(validators=[Regexp(r"^\d*$")])
        data[key] = data[key + "-shown"] = shown
    attrs["save"] = SubmitField(_l("Save the assignments"))
    form_class = type("AssignmentsForm", (PageForm,), attrs)
    if formdata is None:
        return form_class(formdata=None, data=data)
    return form_class(formdata=formdata)


def _assignee_label(user) -> str:
    return _l("%(name)s (no longer a member)", name=user.name or user.email)


def assignment_choices(form, sections: list) -> dict[str, tuple[int | None, int | None]]:
    """Per section, the member the page showed and the member chosen (None: nobody), from a
    validated :func:`assignments_form`."""

    def member(value: str | None) -> int | None:
        return int(value) if value else None

    return {
        section.id: (
            member(form[assignment_key(section.id) + "-shown"].data),
            member(form[assignment_key(section.id)].data),
        )
        for section in sections
    }
