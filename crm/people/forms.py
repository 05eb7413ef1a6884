"""Forms for people, client cards and visits."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from crm.people.labels import HEALTH_CONSENT_METHODS
from crm.people.labels import IDENTITY_METHODS


class PersonForm(FlaskForm):
    """Contact details and personnummer."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    personnummer = StringField(
        _l("Personnummer or samordningsnummer"),
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "off", "placeholder": _l("YYMMDD-NNNN")},
    )
    remove_personnummer = BooleanField(_l("Remove the stored personnummer"))
    #: the controller that met the person; shown only when the installation has several
    controller_id = SelectField(_l("Controller"), coerce=int, validate_choice=True)
    #: what the controller records of identity numbers (set by apply_id_number_mode)
    id_number_mode = "full"

    def apply_id_number_mode(self, mode: str) -> None:
        """Ask only for what the controller records (dataskyddslagen 3 kap. 10 §)."""
        self.id_number_mode = str(mode)
        if mode == "birth_date":
            self.personnummer.label.text = str(_l("Birth date (YYYYMMDD or YYMMDD)"))
            self.personnummer.render_kw = {"autocomplete": "off", "placeholder": _l("YYYYMMDD")}
            self.remove_personnummer.label.text = str(_l("Remove the stored birth date"))


class ClientCardForm(FlaskForm):
    """The client relationship and health notes."""

    client_since = DateField(_l("Client since"), validators=[Optional()])
    client_until = DateField(_l("Client until"), validators=[Optional()])
    art9_basis = SelectField(
        _l("Legal basis for health data (GDPR Art. 9)"),
        choices=[
            SelectChoice("", _l("None (no health notes)")),
            SelectChoice("explicit_consent", _l("Explicit consent from the client")),
            SelectChoice("health_care", _l("Health care under patientdatalagen")),
        ],
        validators=[Optional()],
    )
    health_notes = TextAreaField(_l("Health notes"), validators=[Optional(), Length(max=20000)])


class VisitForm(FlaskForm):
    """A visit: date and note, and at the first visit the ID the client showed."""

    visited_on = DateField(_l("Date"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=20000)])
    id_shown = BooleanField(_l("The client showed a valid ID document"))


class IdentityCheckForm(FlaskForm):
    """Record how the person's identity was checked."""

    method = SelectField(
        _l("How was the identity checked?"),
        # a select always has a value: the choice is validated, no "required" (Nu checker)
        choices=[SelectChoice(code, label) for code, label in IDENTITY_METHODS.items()],
    )


class PurchaseForm(FlaskForm):
    """A purchase or invoice reference (bokföringslagen): date, amount, reference, products."""

    purchased_on = DateField(_l("Date of purchase"), validators=[DataRequired()])
    amount = StringField(
        _l("Amount (kronor)"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"inputmode": "decimal", "placeholder": "450,00"},
    )
    reference = StringField(
        _l("Invoice or receipt number"), validators=[Optional(), Length(max=100)]
    )
    products = TextAreaField(_l("Products sold"), validators=[Optional(), Length(max=2000)])


class RevealForm(FlaskForm):
    """Ask to see a protected field (the request is audited)."""

    field = SelectField(
        choices=[
            SelectChoice("personnummer", "personnummer"),
            SelectChoice("health_notes", "health"),
        ]
    )


class ButtonForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons."""


class HealthConsentForm(FlaskForm):
    """How the client gave (or withdrew) explicit consent to health notes."""

    method = SelectField(
        _l("How?"),
        choices=[SelectChoice(code, label) for code, label in HEALTH_CONSENT_METHODS.items()],
    )
