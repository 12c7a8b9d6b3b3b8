from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from dd_toolkit.records.models import ReviewStatus
from dd_toolkit.records.review import STATUS_LABELS


class StatusForm(FlaskForm):
    to_status = SelectField(
        _l("Move to"),
        choices=[
            SelectChoice(s.value, STATUS_LABELS[s])
            for s in (ReviewStatus.IN_REVIEW, ReviewStatus.CLARIFICATION_REQUESTED, ReviewStatus.REVIEWED)
        ],
    )
    text = TextAreaField(
        _l("Message to the company (optional)"), validators=[Length(max=10_000)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("Change status"))


class CommentForm(FlaskForm):
    question_id = HiddenField()
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=10_000)], render_kw={"rows": 2})
    submit = SubmitField(_l("Add comment"))
