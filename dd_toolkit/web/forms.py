"""Form pieces shared by several areas."""

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A true multiple choice shown as checkboxes (rendered in a fieldset by the macros)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def render_csrf_without_id() -> None:
    """Render every form's CSRF field and submit buttons without an ``id`` (unless a template
    gives one): a page with several forms (a regulator's comment form on each question, a start
    and an import form) would otherwise repeat ``id="csrf_token"`` and ``id="submit"``, which
    HTML forbids. No label or script points at those ids; the fields are found by their names.
    Flask-WTF's forms all share one ``Meta``, so this is set there once, for every area."""
    from flask_wtf import FlaskForm

    meta = FlaskForm.Meta
    if getattr(meta, "_dd_csrf_without_id", False):
        return
    render_field = meta.render_field

    def _render_field(self, field, render_kw):
        if field.type in ("CSRFTokenField", "SubmitField"):
            render_kw = {"id": False, **render_kw}
        return render_field(self, field, render_kw)

    meta.render_field = _render_field
    meta._dd_csrf_without_id = True
