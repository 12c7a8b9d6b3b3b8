"""Form pieces shared by several areas."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A true multiple choice shown as checkboxes (rendered in a fieldset by the macros)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# The largest whole number any form takes (a database integer holds it). A longer one is refused
# as "not a valid integer" before the range check, which compares as a float and would fail on it.
MAX_FORM_INTEGER = 10**18


class Form(FlaskForm):
    """The base of every form here. Its CSRF field and submit buttons render without an ``id``
    (unless a template gives one): a page with several forms (a regulator's comment form on each
    question, a start and an import form) would otherwise repeat ``id="csrf_token"`` and
    ``id="submit"``, which HTML forbids. No label or script points at those ids; the fields are
    found by their names."""

    class Meta:
        def render_field(self, field, render_kw):
            if field.type in ("CSRFTokenField", "SubmitField"):
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data=data, extra_filters=extra_filters, **kwargs)
        for field in self:
            if isinstance(field, IntegerField) and isinstance(field.data, int) and abs(field.data) > MAX_FORM_INTEGER:
                field.data = None
                field.process_errors.append(field.gettext("Not a valid integer value."))
