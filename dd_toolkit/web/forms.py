"""Form pieces shared by several areas."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A true multiple choice shown as checkboxes (rendered in a fieldset by the macros)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
