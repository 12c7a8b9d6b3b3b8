"""Everything in a content folder, loaded and checked together: the question bank and the
scoring methodologies (report templates join them in a later version)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dd_toolkit.engine.content import AnswerData, ContentError, ContentProblem, Profile, QuestionBank, load_bank
from dd_toolkit.engine.content.conditions import RiskLevels
from dd_toolkit.engine.scoring import Methodology, ScoreCard, latest, load_methodologies, score

DEFAULT_METHODOLOGY = "standard"


@dataclass(frozen=True)
class Content:
    root: Path
    bank: QuestionBank
    methodologies: dict[str, Methodology]
    methodology_id: str = DEFAULT_METHODOLOGY

    @property
    def current_methodology(self) -> Methodology:
        return latest(self.methodologies, self.methodology_id)

    def methodology(self, key: str) -> Methodology | None:
        """A methodology by "id@version", or None when this installation does not have it."""
        return self.methodologies.get(key)

    def scored(
        self,
        profile: Profile,
        answers: Mapping[str, AnswerData],
        frozen_card: Mapping[str, Any] | None = None,
        risk: RiskLevels | None = None,
    ) -> Scored:
        """The score card of an assessment, frozen or live: the one rule for every page, document,
        API response and CLI command.

        A submission keeps the card frozen in it, whatever methodology is installed now: its
        numbers never change (a re-score is only ever shown beside it). The methodology that
        supplies band labels and plan rules is the one it was scored with; when this
        installation does not have that version, it is the latest installed version of the same
        methodology, or failing that the configured one, and ``fallback`` says so. A draft is
        scored live with the configured methodology, with ``risk``, the levels of its risk register
        (a frozen card keeps the levels it was scored with).
        """
        if frozen_card is None:
            method = self.current_methodology
            return Scored(score(self.bank, method, profile, answers, risk=risk), method, frozen=False, fallback=False)
        card = ScoreCard.from_dict(frozen_card)
        key = f"{card.methodology['id']}@{card.methodology['version']}"
        method = self.methodology(key)
        if method is not None:
            return Scored(card, method, frozen=True, fallback=False)
        same_id = [m for m in self.methodologies.values() if m.id == card.methodology["id"]]
        method = latest(self.methodologies, card.methodology["id"]) if same_id else self.current_methodology
        return Scored(card, method, frozen=True, fallback=True)


@dataclass(frozen=True)
class Scored:
    card: ScoreCard
    method: Methodology  # supplies labels and plan rules
    frozen: bool
    # The frozen methodology version is not installed; ``method`` stands in for it.
    fallback: bool


def load_content(root: Path, methodology_id: str = DEFAULT_METHODOLOGY) -> Content:
    """Load and validate a content folder; raises ContentError listing every problem.

    Loaded once per process for each state of the folder's files: an app, a command and the
    next app in the same process share what they read (loading the bank takes over a second),
    and editing any file of the content loads it afresh."""
    root = Path(root)
    return _load_content(root, methodology_id, _fingerprint(root))


CONTENT_FOLDERS = ("questionnaires", "scoring", "reports")


def _fingerprint(root: Path) -> tuple:
    """Every file of the content folders with its size and modification time."""
    found = []
    for folder in CONTENT_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                stat = path.stat()
                found.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


@functools.lru_cache(maxsize=4)
def _load_content(root: Path, methodology_id: str, _fingerprint: tuple) -> Content:
    bank = load_bank(root)
    methodologies = load_methodologies(root, bank)
    if not any(m.id == methodology_id for m in methodologies.values()):
        raise ContentError([ContentProblem("scoring", None, f"no methodology with id '{methodology_id}'")])
    risk = latest(methodologies, methodology_id).risk
    if risk is not None:
        bank.name_risk_levels({level.id: level.label for level in risk.levels})
    return Content(Path(root), bank, methodologies, methodology_id)
