"""A link between a client and a person acting for or around them, with its mandate."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.people.models import Person
from crm.security.crypto import EncryptedText


class Kind(StrEnum):
    """The roles seed 004 names, plus a minor's guardian.

    "inbetalare, god man, förvaltare, fullmaktshavare eller någon form av kontaktperson eller
    företrädare för ett företag".
    """

    GUARDIAN = "guardian"  # vårdnadshavare (föräldrabalken 6 kap. 11 §)
    GOD_MAN = "god_man"  # föräldrabalken 11 kap. 4 §
    FORVALTARE = "forvaltare"  # föräldrabalken 11 kap. 7 §
    POWER_OF_ATTORNEY = "power_of_attorney"  # fullmakt (avtalslagen 2 kap.)
    PAYER = "payer"  # inbetalare: pays, acts for no one
    COMPANY_CONTACT = "company_contact"  # a company's contact person: acts for the company


#: The data-subject requests each kind of mandate lets the representative file and receive
#: the answer to. A guardian, god man, förvaltare and a power of attorney act for the client
#: (a fullmakt's own limits are in the document it refers to, checked by the owner); a payer
#: or a company's contact person acts for no one, so they may file nothing for the client.
COVERS: dict[str, frozenset[str]] = {
    Kind.GUARDIAN: frozenset(
        {"access", "portability", "rectification", "erasure", "restriction", "objection"}
    ),
    Kind.GOD_MAN: frozenset(
        {"access", "portability", "rectification", "erasure", "restriction", "objection"}
    ),
    Kind.FORVALTARE: frozenset(
        {"access", "portability", "rectification", "erasure", "restriction", "objection"}
    ),
    Kind.POWER_OF_ATTORNEY: frozenset(
        {"access", "portability", "rectification", "erasure", "restriction", "objection"}
    ),
    Kind.PAYER: frozenset(),
    Kind.COMPANY_CONTACT: frozenset(),
}


class Representation(Base):
    """``representative`` is linked to ``client`` with a role and a mandate valid for a time."""

    __tablename__ = "representation"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    representative_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    #: the controller that holds the link (the client's)
    controller_id: Mapped[int] = mapped_column(
        ForeignKey("controller.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    #: where the mandate is documented ("förordnande från överförmyndaren 2026-01-10, pärm 2");
    #: free text that may name people: encrypted
    document: Mapped[str | None] = mapped_column(EncryptedText("representation.document"))
    valid_from: Mapped[date] = mapped_column(Date)
    #: None: until further notice (a guardian's ends when the child turns 18: set it)
    valid_until: Mapped[date | None] = mapped_column(Date)
    #: the legal basis for holding the representative's data, e.g. "Art. 6(1)(c) FB 11 kap."
    legal_basis: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    client: Mapped[Person] = relationship(foreign_keys=[client_id])
    representative: Mapped[Person] = relationship(foreign_keys=[representative_id])

    __table_args__ = (
        CheckConstraint(
            "kind in ('guardian', 'god_man', 'forvaltare', 'power_of_attorney', 'payer', "
            "'company_contact')",
            name="known_kind",
        ),
        CheckConstraint("client_id <> representative_id", name="not_self"),
        CheckConstraint(
            "valid_until is null or valid_until >= valid_from", name="ends_after_start"
        ),
    )

    def valid_on(self, day: date) -> bool:
        """Whether the mandate is in force on ``day``."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def covers(self, request_kind: str) -> bool:
        """Whether this kind of mandate lets the representative file ``request_kind``."""
        return request_kind in COVERS.get(self.kind, frozenset())
