"""Consent records refer to the privacy policy in force when they were given (issue 15 part 2).

Why: a consent is proof only together with what the person was told (legal requirements 1.6,
"privacy-notice version"). Newsletter consents, testimonial consents and the explicit consent
to health notes each live in their own feature; each model mixes in :class:`RefersToPolicy`,
which gives it the ``policy_version_id`` column, the ``policy_version`` relationship and the
one hook that fills it, instead of a copy of the hook per feature. ``tests/test_consents.py``
fails when a table named ``*consent*`` is not such a model. The export and the pages show the
reference through :func:`policy_reference`.

Kernel: imports no feature. The version table belongs to crm/privacy/models.py and is named
by string only (the hook reads it by SQL, like :func:`crm.controllers.policy_version_in_force`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy import ForeignKey
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm import controllers
from crm.web import absolute_url

#: the public page of one published version (crm/privacy/public.py ``policy_version``)
VERSION_ENDPOINT = "privacy_public.policy_version"


class RefersToPolicy:
    """Mixin of every consent model: the privacy policy version in force when it was given.

    A model overrides :meth:`policy_controller_id` when its controller is not a column of its
    own, and names in ``policy_given_by`` the attribute that marks the consent as given when a
    row exists before that (a testimonial consent is requested first). NULL for rows recorded
    before any version was published - and they stay NULL: a later change to such a row never
    refers it to a version that was not in force when it was given.
    """

    #: None: the row is the consent (given when inserted); else the attribute set when given
    policy_given_by: str | None = None

    @declared_attr
    def policy_version_id(cls) -> Mapped[int | None]:
        """The version in force when the consent was given (None before the first)."""
        return mapped_column(ForeignKey("policy_version.id", ondelete="RESTRICT"))

    @declared_attr
    def policy_version(cls) -> Mapped[Any]:
        """The :class:`crm.privacy.models.PolicyVersion` row (read-only from here)."""
        return relationship("PolicyVersion", viewonly=True)

    def policy_controller_id(self, connection: Connection) -> int | None:
        """The controller whose policy the person was told: by default the row's own.

        Filled here as the controller hook would (:func:`crm.controllers.fill_controller_id`,
        idempotent), since this hook may run before the model's own.
        """
        controllers.fill_controller_id(connection, self)
        return getattr(self, "controller_id", None)


def _refer(connection: Connection, target: RefersToPolicy) -> None:
    target.policy_version_id = controllers.policy_version_in_force(
        connection, target.policy_controller_id(connection)
    )


@event.listens_for(RefersToPolicy, "before_insert", propagate=True)
def _given_on_insert(_mapper: object, connection: Connection, target: RefersToPolicy) -> None:
    """A consent recorded (or a request already answered) refers to the policy in force."""
    if target.policy_version_id is not None:
        return
    marker = target.policy_given_by
    if marker is None or getattr(target, marker) is not None:
        _refer(connection, target)


@event.listens_for(RefersToPolicy, "before_update", propagate=True)
def _given_on_update(_mapper: object, connection: Connection, target: RefersToPolicy) -> None:
    """A requested consent refers to the policy in force when it is given, not when asked."""
    marker = target.policy_given_by
    if marker is None or target.policy_version_id is not None or getattr(target, marker) is None:
        return
    if inspect(target).attrs[marker].history.has_changes():
        _refer(connection, target)


def policy_reference(row: RefersToPolicy) -> dict[str, Any] | None:
    """The version a consent refers to, for the export: number, publication time and its URL.

    None when the consent was recorded before any version was published.
    """
    version = row.policy_version
    if version is None:
        return None
    return {
        "number": version.number,
        "published_at": version.published_at.isoformat(),
        "url": absolute_url(VERSION_ENDPOINT, version_id=version.id),
    }
