from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectChoice, SelectField, SubmitField, TextAreaField
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

    @classmethod
    def offering(cls, current_status: str) -> StatusForm:
        """The form for a review in ``current_status``: its choices are the allowed moves."""
        form = cls()
        form.to_status.choices = [SelectChoice(s, gettext(STATUS_LABELS[s])) for s in allowed_moves(current_status)]
        return form


class CommentForm(Form):
    question_id = HiddenField()
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=10_000)], render_kw={"rows": 2})
    submit = SubmitField(_l("Add comment"))
