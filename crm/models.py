"""Import every model module so that the metadata (for Alembic and tests) is complete.

Also every feature's ``personal_data`` module, so that the person registry
(crm/privacy/registry.py) is complete whenever the metadata is.
"""

from crm import audit  # noqa: F401
from crm import controllers  # noqa: F401
from crm import outbox  # noqa: F401
from crm import provider_settings  # noqa: F401
from crm.auth import models as auth_models  # noqa: F401
from crm.main import checklist  # noqa: F401
from crm.newsletter import models as newsletter_models  # noqa: F401
from crm.newsletter import personal_data as newsletter_data  # noqa: F401
from crm.people import models as people_models  # noqa: F401
from crm.people import personal_data as people_data  # noqa: F401
from crm.privacy import models as privacy_models  # noqa: F401
from crm.privacy import periods as privacy_periods  # noqa: F401
from crm.privacy import personal_data as privacy_data  # noqa: F401
from crm.privacy import practice as privacy_practice  # noqa: F401
from crm.representatives import models as representative_models  # noqa: F401
from crm.representatives import personal_data as representative_data  # noqa: F401
from crm.security import ratelimit  # noqa: F401
from crm.security import secrets_store  # noqa: F401
from crm.sync import models as sync_models  # noqa: F401
from crm.sync import personal_data as sync_data  # noqa: F401
from crm.testimonials import feed as testimonial_feed  # noqa: F401 - bumps the feed generation
from crm.testimonials import models as testimonial_models  # noqa: F401
from crm.testimonials import personal_data as testimonial_data  # noqa: F401
