from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

MIN_PASSWORD = 12


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(check_deliverability=False)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in on this device"))
    submit = SubmitField(_l("Sign in"))


class PasswordMixin:
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, max=200, message=_l("Use between %(min)d and %(max)d characters.")),
        ],
        description=_l("At least %(n)d characters. A passphrase of several words is easiest.", n=MIN_PASSWORD),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )


class RegisterForm(PasswordMixin, FlaskForm):
    organisation = StringField(
        _l("Organisation name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("The company or service being assessed."),
    )
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(
        _l("Work email"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)]
    )
    submit = SubmitField(_l("Create organisation"))


class AcceptInviteForm(PasswordMixin, FlaskForm):
    submit = SubmitField(_l("Set password and sign in"))
