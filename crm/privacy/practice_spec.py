"""What a validated practice file is: the specs crm/privacy/practice_file.py produces.

Why a module of its own: the validation (crm/privacy/practice_file.py) and the loader that
applies a file (crm/privacy/practice_load.py) both speak of these values; keeping them apart
from the checks lets the loader depend on the shape of a file without the TOML reading and its
error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from crm import controllers
from crm.controllers import IdNumberMode
from crm.privacy.practice_catalogue import Processor


class PracticeFileError(Exception):
    """The file was refused; ``errors`` name each problem by its key."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ControllerSpec:
    """One controller as the file states it (the keywords of ``settings.save_controller``)."""

    name: str
    org_number: str = ""
    address: str = ""
    contact_name: str = ""
    contact_email: str = ""
    profile: str = "B"
    profession: str = ""
    id_number_mode: str = IdNumberMode.BIRTH_DATE.value
    id_number_reason: str = ""
    runs_newsletter: bool = False
    representative_months: int = controllers.DEFAULT_REPRESENTATIVE_MONTHS


@dataclass(frozen=True)
class ActivitySpec:
    """One processing activity as the file states it.

    ``standard`` names an activity the CRM performs (crm/privacy/activity_defaults.py); with
    no ``texts`` it follows the settings, with texts those replace its generated ones. Without
    ``standard`` it is a free entry and ``texts`` are all of it.
    """

    standard: str = ""
    texts: dict[str, Any] = field(default_factory=dict)

    @property
    def follows_settings(self) -> bool:
        """A standard activity the file adds nothing to: generated from the settings."""
        return bool(self.standard) and not self.texts


@dataclass(frozen=True)
class PracticeSpec:
    """A validated practice file."""

    controllers: list[ControllerSpec]
    processors: list[Processor] = field(default_factory=list)
    retention: dict[str, int] = field(default_factory=dict)
    #: the features in use (crm/privacy/practice.py FEATURES); a feature left out: its default
    features: dict[str, bool] = field(default_factory=dict)
    #: per controller, its activities; None: the standard list, following the settings
    activities: list[tuple[ActivitySpec, ...] | None] = field(default_factory=list)
    #: per controller, its own periods by record kind (crm/privacy/periods.py)
    periods: list[dict[str, PeriodSpec]] = field(default_factory=list)
    #: the policy the file was written from (title, date, source): documentation only
    policy: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodSpec:
    """One controller's retention period for one record kind (crm/privacy/periods.py)."""

    months: int
    from_year_end: bool = False
    year_start_month: int = 1
    automatic: bool = False
    include_active: bool = False
