"""Owner forms for the newsletter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from wtforms import EmailField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

METHOD_CHOICES = [
    SelectChoice("paper_form", _l("Signed a paper form")),
    SelectChoice("verbal", _l("Said yes in person or on the phone")),
    SelectChoice("soft_opt_in", _l("Existing client (soft opt-in, own similar services)")),
]


class AddSubscriberForm(FlaskForm):
    """Add someone by hand: only together with how consent was obtained."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    list_id = SelectField(_l("List"), coerce=int)
    method = SelectField(_l("How was consent obtained?"), choices=METHOD_CHOICES)
    note = StringField(
        _l("Note (where the form is kept, who took the call)"),
        validators=[Optional(), Length(max=500)],
    )


class ListForm(FlaskForm):
    """Add a list."""

    name = StringField(_l("Name of the new list"), validators=[DataRequired(), Length(max=100)])


class ConsentTextForm(FlaskForm):
    """Edit the consent text (saved as a new version)."""

    text = TextAreaField(_l("Consent text"), validators=[DataRequired(), Length(max=2000)])


class ImportForm(FlaskForm):
    """Upload a CSV file for a dry run."""

    file = FileField(_l("CSV file"), validators=[FileRequired()])
    method = SelectField(
        _l("How was consent obtained (for rows that do not say)?"),
        choices=[*METHOD_CHOICES, SelectChoice("web_form", _l("Web form on our site"))],
    )


class ButtonForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons."""
