"""The content loaded by the running app, for views and templates."""

from __future__ import annotations

from flask import current_app

from dd_toolkit.engine.content import QuestionBank
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.scoring import Methodology


def current_content() -> Content:
    return current_app.extensions["dd_content"]


def current_bank() -> QuestionBank:
    return current_app.extensions["dd_bank"]


def current_methodology() -> Methodology:
    """The methodology new scores are computed with: the latest version of the configured one."""
    return current_content().current_methodology
