from flask_babel import lazy_gettext as _l
from wtforms import EmailField, RadioField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from dd_toolkit.engine.content import Taxonomy
from dd_toolkit.records.models import OrgRole
from dd_toolkit.web.forms import Form, MultiCheckboxField


def _choices(taxonomy: Taxonomy, vocabulary: str) -> list[SelectChoice]:
    return [SelectChoice(e.id, e.label.get()) for e in getattr(taxonomy, vocabulary)]


class ProfileForm(Form):
    name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    description = TextAreaField(
        _l("What the service does"),
        validators=[Length(max=2000)],
        description=_l("One or two sentences, for reviewers reading your assessment."),
    )
    hq_country = SelectField(_l("Headquarters country"), validators=[DataRequired()])
    countries = MultiCheckboxField(
        _l("Countries where the service operates"),
        validators=[DataRequired(message=_l("Choose at least one country."))],
    )
    service_types = MultiCheckboxField(
        _l("Type of service"),
        validators=[DataRequired(message=_l("Choose at least one type of service."))],
        description=_l("Choose every type that describes what you offer (RPA Focus Area 7 typology)."),
    )
    size_band = RadioField(
        _l("Size"),
        validators=[DataRequired(message=_l("Choose a size."))],
        description=_l("Start-ups see a shorter Safety by Design path that still covers every principle."),
    )
    features = MultiCheckboxField(
        _l("Product features"),
        description=_l("Features change the risks children meet, and so the questions that apply."),
    )
    under18_users = RadioField(
        _l("Do people under 18 use the service?"),
        validators=[DataRequired(message=_l("Answer whether children use the service."))],
    )
    age_groups = MultiCheckboxField(
        _l("Age groups that use the service or that it allows"),
        description=_l("The children's risk register is pre-filled for these age groups. Leave empty if not known."),
    )
    submit = SubmitField(_l("Save profile"))

    def __init__(self, taxonomy: Taxonomy, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hq_country.choices = [SelectChoice("", _l("Choose a country"))] + _choices(taxonomy, "countries")
        self.countries.choices = _choices(taxonomy, "countries")
        self.service_types.choices = _choices(taxonomy, "service_types")
        self.size_band.choices = _choices(taxonomy, "size_bands")
        self.features.choices = _choices(taxonomy, "features")
        self.under18_users.choices = _choices(taxonomy, "under18_users")
        self.age_groups.choices = _choices(taxonomy, "age_groups")


class InviteForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(
        _l("Work email"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)]
    )
    role = RadioField(
        _l("Role"),
        choices=[
            SelectChoice(OrgRole.CONTRIBUTOR.value, _l("Contributor: answers questions and adds evidence")),
            SelectChoice(OrgRole.ADMIN.value, _l("Admin: also edits the profile, members, and submits")),
        ],
        default=OrgRole.CONTRIBUTOR.value,
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Create account and invitation link"))


class MemberRoleForm(Form):
    """A member's role, changed from the members table."""

    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(OrgRole.CONTRIBUTOR.value, _l("Contributor")),
            SelectChoice(OrgRole.ADMIN.value, _l("Admin")),
        ],
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Change role"))


class MemberActionForm(Form):
    """A button acting on one member: remove, new invitation link, revoke it, reset link."""

    submit = SubmitField(_l("Go"))
