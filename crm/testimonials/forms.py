"""Owner forms for testimonials."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from wtforms import DateField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp

DISPLAY_CHOICES = [
    SelectChoice("first_name", _l("First name")),
    SelectChoice("initials", _l("Initials")),
    SelectChoice("full_name", _l("Full name")),
    SelectChoice("anonymous", _l("Anonymous")),
]


class TestimonialForm(FlaskForm):
    """Text and how the name is shown."""

    text = TextAreaField(_l("Testimonial"), validators=[DataRequired(), Length(max=5000)])
    display_mode = SelectField(_l("Name shown as"), choices=DISPLAY_CHOICES)


class NewTestimonialForm(TestimonialForm):
    """A new testimonial for a person."""

    person_id = SelectField(_l("Client"), coerce=int)


class MediaForm(FlaskForm):
    """Upload an image, audio or video file."""

    file = FileField(_l("Image, audio or video"), validators=[FileRequired()])


class PublicationForm(FlaskForm):
    """Record a manual publication."""

    channel = SelectField(
        _l("Channel"),
        choices=[
            SelectChoice("social", _l("Social media")),
            SelectChoice("print", _l("Print")),
            SelectChoice("newsletter", _l("Newsletter")),
            SelectChoice("website", _l("Website")),
        ],
    )
    description = StringField(
        _l("Where (e.g. Instagram post, spring flyer)"), validators=[Optional(), Length(max=300)]
    )
    url = StringField(
        _l("Address (URL)"),
        validators=[
            Optional(),
            Length(max=500),
            Regexp(r"^https?://", message=_l("The address must start with https://.")),
        ],
    )
    published_on = DateField(_l("Date"), validators=[Optional()])


class ButtonForm(FlaskForm):
    """A form with only a CSRF token, for POST buttons."""
