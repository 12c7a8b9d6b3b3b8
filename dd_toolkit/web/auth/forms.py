from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from dd_toolkit.records.accounts import MAX_PASSWORD, MIN_PASSWORD, password_problem
from dd_toolkit.web.forms import Form
from dd_toolkit.web.problems import problem_text


class LoginForm(Form):
    # autocomplete names each field's purpose (WCAG 1.3.5), so browsers and password managers
    # fill the right one.
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Email(check_deliverability=False)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    submit = SubmitField(_l("Sign in"))


class PasswordMixin:
    """A new password and its repetition, checked against the password policy
    (:func:`dd_toolkit.records.accounts.password_problem`). The person's own words (name, email,
    organisation) come from the form's fields or from ``password_context``."""

    password_context: tuple[str, ...] = ()

    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, max=MAX_PASSWORD, message=_l("Use between %(min)d and %(max)d characters.")),
        ],
        description=_l(
            "At least %(n)d characters, not a common or easily guessed one. A passphrase of several "
            "unrelated words is easiest.",
            n=MIN_PASSWORD,
        ),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_password(self, field) -> None:
        if field.errors:
            return
        own = [getattr(self, name).data for name in ("email", "name", "organisation") if hasattr(self, name)]
        problem = password_problem(field.data or "", [*own, *self.password_context])
        if problem:
            raise ValidationError(problem_text(problem))


class RegisterForm(PasswordMixin, Form):
    organisation = StringField(
        _l("Organisation name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("The company or service being assessed."),
        render_kw={"autocomplete": "organization"},
    )
    name = StringField(
        _l("Your name"), validators=[DataRequired(), Length(max=200)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        _l("Work email"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField(_l("Create organisation"))


class AcceptInviteForm(PasswordMixin, Form):
    submit = SubmitField(_l("Set password and sign in"))


class ResetForm(PasswordMixin, Form):
    submit = SubmitField(_l("Set the new password"))


class ChangePasswordForm(PasswordMixin, Form):
    current = PasswordField(
        _l("Current password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField(_l("Change password"))


class ConfirmForm(Form):
    """A button: confirm or decline one jurisdiction of another regulator account."""

    submit = SubmitField(_l("Confirm"))
