from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from dd_toolkit.engine.render import MAX_USER_MARKDOWN
from dd_toolkit.records.models import ActionStatus
from dd_toolkit.web.forms import Form
from dd_toolkit.web.inputs import VERSION_VALIDATORS

STATUS_LABELS = {
    ActionStatus.TODO: _l("To do"),
    ActionStatus.IN_PROGRESS: _l("In progress"),
    ActionStatus.DONE: _l("Done"),
    ActionStatus.WONT_DO: _l("Won't do"),
}


class TrackingForm(Form):
    owner = StringField(_l("Owner"), validators=[Length(max=200)])
    due_date = DateField(_l("Due date"), validators=[Optional()])
    status = SelectField(_l("Status"), choices=[SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()])
    reason = TextAreaField(_l("Why it won't be done"), validators=[Length(max=2000)], render_kw={"rows": 2})
    notes = TextAreaField(_l("Notes"), validators=[Length(max=5000)], render_kw={"rows": 2})
    base_version = HiddenField(default="0", validators=VERSION_VALIDATORS)
    save = SubmitField(_l("Save"))


class TransparencyForm(Form):
    markdown = TextAreaField(
        _l("Draft (Markdown)"),
        validators=[Length(max=MAX_USER_MARKDOWN)],
        render_kw={"rows": 28, "spellcheck": "true", "maxlength": MAX_USER_MARKDOWN},
    )
    base_version = HiddenField(default="0", validators=VERSION_VALIDATORS)
    save = SubmitField(_l("Save"))
    preview = SubmitField(_l("Preview"))


class RegenerateForm(Form):
    submit = SubmitField(_l("Discard edits and regenerate from the answers"))


class CommitmentsForm(Form):
    """Which action items the public text names as commitments (checkboxes named "public")."""

    save = SubmitField(_l("Save commitments"))
