from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Length

from dd_toolkit.records.models import ReviewStatus
from dd_toolkit.records.review import STATUS_LABELS, allowed_moves
from dd_toolkit.web.forms import Form


def status_labels() -> dict[str, str]:
    """The review statuses' names in the reader's language, for every page that shows one."""
    return {status: gettext(label) for status, label in STATUS_LABELS.items()}


class StatusForm(Form):
    # The page offers only the moves allowed from the current status (see :meth:`offering`);
    # a post may name any status, and the review's own check says why a move is refused.
    to_status = SelectField(_l("Move to"), choices=[SelectChoice(s.value, _l(STATUS_LABELS[s])) for s in ReviewStatus])
    text = TextAreaField(
        _l("Message to the company (optional)"), validators=[Length(max=10_000)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("Change status"))

    @staticmethod
    def moves(current_status: str) -> list[tuple[str, str]]:
        """The moves the page offers from ``current_status``, named in the reader's language."""
        return [(s, gettext(STATUS_LABELS[s])) for s in allowed_moves(current_status)]

    @classmethod
    def labels(cls) -> dict[str, str]:
        """The fields' labels in the reader's language: the page writes the form as plain HTML
        (templates/regulator/submission.html), as building it costs more than the rest."""
        return {name: str(field.args[0]) for name, field in vars(cls).items() if isinstance(field, UnboundField)}


class CommentForm(Form):
    question_id = HiddenField()
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=10_000)], render_kw={"rows": 2})
    submit = SubmitField(_l("Add comment"))
