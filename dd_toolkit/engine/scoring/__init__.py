"""Scoring: methodologies as data and a pure engine. No Flask, no database."""

from dd_toolkit.engine.scoring.engine import ScoreCard, answer_points, gap_level, score
from dd_toolkit.engine.scoring.methodology import Methodology, latest, load_methodologies

__all__ = ["Methodology", "ScoreCard", "answer_points", "gap_level", "latest", "load_methodologies", "score"]
