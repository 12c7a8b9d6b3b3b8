"""Everything in a content folder, loaded and checked together: the question bank and the
scoring methodologies (report templates join them in a later version)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dd_toolkit.engine.content import ContentError, ContentProblem, QuestionBank, load_bank
from dd_toolkit.engine.scoring import Methodology, latest, load_methodologies

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


def load_content(root: Path, methodology_id: str = DEFAULT_METHODOLOGY) -> Content:
    """Load and validate a content folder; raises ContentError listing every problem."""
    bank = load_bank(root)
    methodologies = load_methodologies(root, bank)
    if not any(m.id == methodology_id for m in methodologies.values()):
        raise ContentError([ContentProblem("scoring", None, f"no methodology with id '{methodology_id}'")])
    return Content(Path(root), bank, methodologies, methodology_id)
