"""The portable assessment file: one JSON document that carries an assessment between
installations, and whose canonical form is what a submission freezes and hashes.

Format (``format_version`` 1)::

    {
      "format": "dd-toolkit/assessment",
      "format_version": 1,
      "organisation": {"name", "hq_country", "countries", "service_types", "features",
                       "size_band", "under18_users", "description",
                       "age_groups"},                      # only when the profile gives them
      "assessment": {"cycle", "version", "status", "questionnaires": {module: version},
                     "created_at", "submitted_at"},
      "answers": {question_id: {"value", "not_applicable", "justification", "comment",
                                "evidence": [{"url", "description"}], "meta",
                                "updated_by", "updated_at"}},
      "score_card": {...},                             # only for a submitted assessment
      "risk_register": {...},                          # only when the assessment has one
      "submission": {"sha256", "submitted_at"},      # only for a submitted assessment
      "exported_at": "..."
    }

``risk_register`` is the children's risk register (see :mod:`dd_toolkit.records.risk` for its
fields, :mod:`dd_toolkit.engine.risk` for its cells). The key is left out when there is none, so
the canonical JSON of an assessment without a register is what it always was.

The snapshot is the document without ``submission`` and ``exported_at``; its SHA-256 is taken
over canonical JSON (keys sorted, no spaces, UTF-8).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dd_toolkit.engine.content import AnswerData, Profile, QuestionBank
from dd_toolkit.engine.content.values import AnswerValueError, build_answer
from dd_toolkit.engine.text import N_, Message, message_of

FORMAT = "dd-toolkit/assessment"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 5 * 1024 * 1024
# A valid file nests six levels deep (document, answers, answer, evidence, item, field); a
# number has at most a few dozen digits. Anything beyond is refused before it is looked at.
MAX_DEPTH = 16
MAX_NUMBER_DIGITS = 40
_UNSTORABLE = "The file holds a NUL character or half a character pair, which no text may contain."
UNHASHED_KEYS = ("submission", "exported_at")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(data: Any) -> str:
    return sha256_of_text(canonical_json(data))


def sha256_of_text(text: str) -> str:
    """The hash of data already in its canonical JSON form."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def snapshot_of(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in UNHASHED_KEYS}


def answer_fields(answer: AnswerData) -> dict[str, Any]:
    """An answer's own fields as JSON-ready data (also the columns of the answer table)."""
    return {
        "value": answer.value,
        "not_applicable": answer.not_applicable,
        "justification": answer.justification,
        "comment": answer.comment,
        "evidence": [{"url": e.url, "description": e.description} for e in answer.evidence],
        "meta": dict(answer.meta),
    }


def answer_to_json(answer: AnswerData, updated_by: str | None, updated_at: str | None) -> dict:
    return {**answer_fields(answer), "updated_by": updated_by, "updated_at": updated_at}


def profile_to_json(name: str, profile: Profile, description: str = "") -> dict[str, Any]:
    data = {
        "name": name,
        "hq_country": profile.hq_country,
        "countries": list(profile.countries),
        "service_types": list(profile.service_types),
        "features": list(profile.features),
        "size_band": profile.size_band,
        "under18_users": profile.under18_users,
        "description": description,
    }
    if profile.age_groups:  # only then: files and hashes of profiles without them are unchanged
        data["age_groups"] = list(profile.age_groups)
    return data


# -- reading a file ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Organisation(_Strict):
    name: str = Field(min_length=1, max_length=200)
    hq_country: str | None = None
    countries: list[str] = []
    service_types: list[str] = []
    features: list[str] = []
    size_band: str | None = None
    under18_users: str | None = None
    age_groups: list[str] = []
    description: str = Field(default="", max_length=2000)


class _Assessment(_Strict):
    cycle: int = Field(ge=2000, le=2100)
    version: int = Field(default=1, ge=1, le=1_000_000)
    status: Literal["draft", "submitted"]
    questionnaires: dict[str, str]
    created_at: str | None = None
    submitted_at: str | None = None


class _Evidence(_Strict):
    url: str
    description: str = ""


class _Answer(_Strict):
    value: Any = None
    not_applicable: bool = False
    justification: str = ""
    comment: str = ""
    evidence: list[_Evidence] = []
    meta: dict[str, Any] = {}
    updated_by: str | None = None
    updated_at: str | None = None


class _RiskCell(BaseModel):
    # The cell's own fields are checked by dd_toolkit.engine.risk.validate_cell.
    model_config = ConfigDict(extra="allow")
    harm: str
    age_group: str
    owner: str = Field(default="", max_length=200)
    updated_by: str | None = None
    updated_at: str | None = None


class _RiskRegister(_Strict):
    assessed_by: str = Field(default="", max_length=500)
    method: str = Field(default="", max_length=5000)
    sources: list[str] = []
    started_at: str | None = None
    reviewed_at: str | None = None
    next_review_due: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    reason: Literal["cycle", "significant_change"] = "cycle"
    change_note: str = Field(default="", max_length=5000)
    previous_assessment_id: int | None = None
    cells: list[_RiskCell] = []


class _Submission(_Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    submitted_at: str | None = None


class _Document(_Strict):
    format: Literal["dd-toolkit/assessment"]
    format_version: Literal[1]
    organisation: _Organisation
    assessment: _Assessment
    answers: dict[str, _Answer]
    # The score card frozen at submission; an import recomputes scores, so it is only carried.
    score_card: dict[str, Any] | None = None
    risk_register: _RiskRegister | None = None
    submission: _Submission | None = None
    exported_at: str | None = None


class _Refused(ValueError):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(f"The file holds a number of more than {MAX_NUMBER_DIGITS} digits.")
    return int(text)


def _float(text: str) -> float:
    number = float(text) if len(text) <= 2 * MAX_NUMBER_DIGITS else float("inf")
    if not math.isfinite(number):
        raise _Refused("The file holds a number too large to read.")
    return number


def _constant(name: str) -> Any:
    raise _Refused(f"The file holds {name}, which is not a number JSON allows.")


def _storable(text: str) -> bool:
    """No NUL character and no half of a UTF-16 pair ("\\ud800" in JSON): no database stores those."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_tree(data: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and text holding a NUL character."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Refused(f"The file nests data more than {MAX_DEPTH} levels deep.")
        if isinstance(node, dict):
            for key, value in node.items():
                if not _storable(key):
                    raise _Refused(_UNSTORABLE)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str) and not _storable(node):
            raise _Refused(_UNSTORABLE)


def _load_json(raw: str) -> Any:
    """Parse strict JSON within the limits, or raise ImportError_ saying why not."""
    try:
        data = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
        _check_tree(data)
    except json.JSONDecodeError as exc:
        raise ImportError_(
            [
                Message(
                    N_("The file is not valid JSON (line %(line)s, column %(column)s: %(why)s)."),
                    line=exc.lineno,
                    column=exc.colno,
                    why=exc.msg,
                )
            ]
        ) from None
    except _Refused as exc:
        raise ImportError_([str(exc)]) from None
    except RecursionError:
        raise ImportError_(
            [Message(N_("The file nests data more than %(depth)s levels deep."), depth=MAX_DEPTH)]
        ) from None
    return data


class ImportError_(ValueError):
    """The file cannot be imported; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ParsedDocument:
    organisation_name: str
    description: str
    profile: Profile
    cycle: int
    questionnaire_versions: dict[str, str]
    answers: dict[str, AnswerData]
    was_submitted: bool
    sha256: str | None
    # The file's risk register as it was in the file (cells checked), or None when it has none.
    risk_register: dict[str, Any] | None = None


def _profile_problems(org: _Organisation, taxonomy, prefix: str) -> list[str]:
    """Every profile value of ``org`` that the taxonomy does not know."""
    problems: list[str] = []
    for field_name, vocabulary in (
        ("countries", "countries"),
        ("service_types", "service_types"),
        ("features", "features"),
        ("age_groups", "age_groups"),
    ):
        unknown = sorted(set(getattr(org, field_name)) - set(taxonomy.ids(vocabulary)))
        if unknown:
            problems.append(
                Message(
                    N_("%(place)s: unknown value(s) %(values)s"), place=prefix + field_name, values=", ".join(unknown)
                )
            )
    for field_name, vocabulary in (
        ("hq_country", "countries"),
        ("size_band", "size_bands"),
        ("under18_users", "under18_users"),
    ):
        value = getattr(org, field_name)
        if value is not None and value not in taxonomy.ids(vocabulary):
            problems.append(Message(N_("%(place)s: unknown value %(value)s"), place=prefix + field_name, value=value))
    return problems


def _profile(org: _Organisation) -> Profile:
    return Profile(
        service_types=tuple(org.service_types),
        features=tuple(org.features),
        countries=tuple(org.countries),
        size_band=org.size_band,
        under18_users=org.under18_users,
        hq_country=org.hq_country,
        age_groups=tuple(org.age_groups),
    )


def parse_profile(data: Any, taxonomy) -> tuple[str, str, Profile]:
    """An organisation's name, description and profile from a mapping with the fields of a
    file's ``organisation`` block (the same fields and vocabularies, checked the same way);
    raise ImportError_ listing every problem."""
    if not isinstance(data, dict):
        raise ImportError_([Message(N_("The profile must be a mapping of profile fields."))])
    try:
        org = _Organisation.model_validate(data)
    except ValidationError as exc:
        raise ImportError_(
            [f"{'.'.join(str(p) for p in err['loc']) or 'profile'}: {err['msg']}" for err in exc.errors()]
        ) from None
    problems = _profile_problems(org, taxonomy, "")
    if problems:
        raise ImportError_(problems)
    return org.name, org.description, _profile(org)


def _checked_register(
    data: dict[str, Any], register: _RiskRegister, bank: QuestionBank, rules: Any, answered: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """A file's risk register with its cells in canonical form, and every problem of it: each
    cell is checked as the register page checks it (with ``rules``, the methodology's ``risk:``
    block; a control must be a question the file answers), and a cell rated twice is refused."""
    from dd_toolkit.engine.risk import check_register  # the register module builds on this one

    problems: list[str] = []
    unknown = sorted(set(register.sources) - {p.id for p in rules.evidence_sources})
    if unknown:
        problems.append(
            Message(
                N_("%(place)s: unknown value(s) %(values)s"), place="risk_register.sources", values=", ".join(unknown)
            )
        )
    given = [cell.model_dump() for cell in register.cells]
    cells = []
    for index, (cell, check) in enumerate(zip(given, check_register(given, rules, bank, answered), strict=True)):
        problems.extend(
            Message(N_("%(place)s: %(problem)s"), place=f"risk_register.cells.{index}.{p.field}", problem=p.message)
            for p in check.problems
        )
        if check.ok:
            fields = {k: list(v) if isinstance(v, tuple) else v for k, v in check.cell.to_dict().items()}
            cells.append({**fields, **{k: cell[k] for k in ("owner", "updated_by", "updated_at")}})
    return {**data, "cells": cells}, problems


def parse_document(raw: bytes | str, bank: QuestionBank, risk_rules: Any = None) -> ParsedDocument:
    """Check a portable file completely before anything is written; raise ImportError_.

    A file with a risk register has its cells checked against ``risk_rules`` (the methodology's
    ``risk:`` block): one bad cell refuses the whole file. Without ``risk_rules`` the register
    is carried as the file has it (a reader that only shows the file, never imports it)."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise ImportError_(
                [Message(N_("The file is larger than %(megabytes)s MB."), megabytes=MAX_FILE_BYTES // (1024 * 1024))]
            )
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportError_([Message(N_("The file is not UTF-8 text."))]) from None
    data = _load_json(raw)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportError_(
            [Message(N_('This is not a toolkit assessment file (expected "format": "%(format)s").'), format=FORMAT)]
        )
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        raise ImportError_(
            [f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}" for err in exc.errors()]
        ) from None
    org = doc.organisation
    problems = _profile_problems(org, bank.taxonomy, "organisation.")
    if doc.submission is not None:
        actual = sha256_of(snapshot_of(data))
        if actual != doc.submission.sha256:
            problems.append(
                Message(
                    N_(
                        "The file says it is a submitted assessment, but its content no longer matches "
                        "the SHA-256 recorded at submission: it was changed after submission."
                    )
                )
            )
    answers: dict[str, AnswerData] = {}
    current = bank.versions()
    for qid, item in doc.answers.items():
        question = bank.questions.get(qid)
        if question is None:
            problems.append(
                Message(N_("%(place)s: no such question in this installation's question bank"), place=f"answers.{qid}")
            )
            continue
        module = bank.module_of[qid].id
        if (
            item.not_applicable
            and not question.allow_not_applicable
            and doc.assessment.questionnaires.get(module) not in (None, current[module])
        ):
            # A core question that refuses "not applicable" since a later version: the answer
            # given under the file's version is carried as it was (a newer methodology scores
            # it as not in place), so old files and frozen submissions still load.
            question = question.model_copy(update={"allow_not_applicable": True})
        try:
            answers[qid] = build_answer(
                question,
                value=item.value,
                not_applicable=item.not_applicable,
                justification=item.justification,
                comment=item.comment,
                evidence=[e.model_dump() for e in item.evidence],
                meta=item.meta,
            )
        except AnswerValueError as exc:
            problems.append(
                Message(N_("%(place)s: %(problem)s"), place=f"answers.{qid}", problem=message_of(exc) or str(exc))
            )
    register = None
    if doc.risk_register is not None:
        register = data["risk_register"]
        if risk_rules is not None:
            register, found = _checked_register(register, doc.risk_register, bank, risk_rules, set(answers))
            problems.extend(found)
    if problems:
        raise ImportError_(problems)
    profile = _profile(org)
    return ParsedDocument(
        organisation_name=org.name,
        description=org.description,
        profile=profile,
        cycle=doc.assessment.cycle,
        questionnaire_versions=doc.assessment.questionnaires,
        answers=answers,
        was_submitted=doc.submission is not None,
        sha256=doc.submission.sha256 if doc.submission else None,
        risk_register=register,
    )
