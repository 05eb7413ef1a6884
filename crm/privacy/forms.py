"""Owner forms for data-subject requests."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length

from crm.people.labels import IDENTITY_METHODS
from crm.privacy.objections import PROCESSINGS

#: how a request or an objection reached the practice (each is recorded with it)
RECEIVED_BY = (
    ("email", _l("Email")),
    ("letter", _l("Letter")),
    ("phone", _l("Phone")),
    ("in_person", _l("In person")),
)


def _received_by(first: str) -> SelectField:
    """The "Received by" choice, ``first`` preselected: the usual channel for the form."""
    order = sorted(RECEIVED_BY, key=lambda choice: choice[0] != first)  # stable: first, rest
    return SelectField(
        _l("Received by"), choices=[SelectChoice(code, label) for code, label in order]
    )


class NewRequestForm(FlaskForm):
    """Register a request."""

    person_id = SelectField(_l("Person"), coerce=int)
    #: 0: the person themselves; otherwise the mandate a representative filed it under
    representation_id = SelectField(_l("Filed by"), coerce=int, default=0)
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("access", _l("Access (a copy of the data)")),
            SelectChoice("portability", _l("Data portability")),
            SelectChoice("rectification", _l("Rectification")),
            SelectChoice("erasure", _l("Erasure")),
            SelectChoice("restriction", _l("Restriction")),
            SelectChoice("objection", _l("Objection")),
        ],
    )
    channel = _received_by("email")
    received_on = DateField(_l("Received on"), validators=[DataRequired()])


class IdentityForm(FlaskForm):
    """How the identity was checked: the three ways the identity gate accepts."""

    method = SelectField(
        _l("How was the identity checked?"),
        # a select always has a value: the choice is validated, no "required" (Nu checker)
        choices=[SelectChoice(code, label) for code, label in IDENTITY_METHODS.items()],
    )


class ExtendForm(FlaskForm):
    """Extend once, with a reason."""

    months = SelectField(
        _l("Extend by"),
        coerce=int,
        choices=[SelectChoice(1, _l("one month")), SelectChoice(2, _l("two months"))],
    )
    reason = TextAreaField(
        _l("Reason (mailed to the person)"), validators=[DataRequired(), Length(max=2000)]
    )


class OutcomeForm(FlaskForm):
    """What was done, or why not."""

    text = TextAreaField(
        _l("What was done / why not"), validators=[DataRequired(), Length(max=4000)]
    )


class NoteForm(FlaskForm):
    """A note for lifting a restriction."""

    note = TextAreaField(
        _l("Why is the restriction lifted? (mailed to the person)"),
        validators=[DataRequired(), Length(max=2000)],
    )


class HoldForm(FlaskForm):
    """Data to keep despite erasure, until a date.

    Not bookkeeping: its hold is derived from the recorded purchases (the client card's
    "Purchases and invoices"), never from a date typed here (bokföringslagen 7 kap. 2 §).
    """

    kind = SelectField(
        _l("Keep despite erasure"),
        choices=[SelectChoice("legal_claim", _l("Legal claim"))],
    )
    until = DateField(_l("Keep until"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Length(max=500)])


class ButtonForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons."""


class BreachForm(FlaskForm):
    """Document a personal data breach."""

    discovered_on = DateField(_l("Discovered on"), validators=[DataRequired()])
    discovered_time = StringField(
        _l("at (hh:mm)"), validators=[DataRequired(), Length(max=5)], default="12:00"
    )
    description = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=4000)])
    affected = TextAreaField(
        _l("Which data, about whom, about how many people"),
        validators=[DataRequired(), Length(max=4000)],
    )
    consequences = TextAreaField(
        _l("Likely consequences for them"), validators=[DataRequired(), Length(max=4000)]
    )
    measures = TextAreaField(
        _l("What was done, and will be done, about it"),
        validators=[DataRequired(), Length(max=4000)],
    )
    risk = SelectField(
        _l("Risk to the people affected"),
        choices=[
            SelectChoice("risk", _l("A risk: report to IMY within 72 hours")),
            SelectChoice("high", _l("A high risk: report to IMY and tell the people affected")),
            SelectChoice("none", _l("Unlikely to harm anyone: not reported (say why)")),
        ],
    )
    no_report_reason = TextAreaField(
        _l("Why it is unlikely to harm anyone"), validators=[Length(max=4000)]
    )


class ReportedForm(FlaskForm):
    """IMY was notified."""

    reference = StringField(_l("IMY's case reference (if you have one)"), [Length(max=64)])


class ObjectionForm(FlaskForm):
    """An objection (Art. 21(1)): which processing, how it came, and any overriding grounds."""

    processing = SelectField(
        _l("Processing objected to"),
        choices=[SelectChoice(code, label) for code, label in PROCESSINGS.items()],
    )
    other = StringField(_l("Name the processing (when it is another one)"), [Length(max=200)])
    channel = _received_by("in_person")
    ground = TextAreaField(
        _l(
            "Compelling legitimate grounds that override the person's interests (leave empty "
            "to stop the processing now)"
        ),
        [Length(max=4000)],
    )


class GroundForm(FlaskForm):
    """Compelling grounds recorded after an objection stopped a processing."""

    ground = TextAreaField(
        _l("Compelling legitimate grounds (told to the person with the answer)"),
        validators=[DataRequired(), Length(max=4000)],
    )
