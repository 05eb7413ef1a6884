"""Staff users, their recovery codes, server-side sessions and one-time setup links."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import utcnow
from crm.security.crypto import EncryptedText
from crm.security.roles import Role

__all__ = ["RecoveryCode", "Role", "SetupToken", "User", "UserSession"]


class User(Base):
    """A staff account."""

    __tablename__ = "user_account"
    #: what audit entries about an account have always been called (crm/audit.py, obj=)
    audit_type: ClassVar[str] = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased login address
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: what the account may read and do (crm/security/roles.py)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: TOTP secret once enrolled (encrypted; a stolen database alone cannot mint codes)
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("user_account.totp_secret"))
    #: secret shown during enrolment, moved to totp_secret once a code proves it was scanned
    totp_pending_secret: Mapped[str | None] = mapped_column(
        EncryptedText("user_account.totp_pending_secret")
    )
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last TOTP time step accepted, so a code cannot be used twice
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(8), default="sv")
    #: limits the account to one controller's people (seed 000); None: every controller
    controller_id: Mapped[int | None] = mapped_column(
        ForeignKey("controller.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("email = lower(email)", name="lowercase_email"),
        CheckConstraint(
            "role in ('owner', 'practitioner', 'assistant', 'bookkeeping')", name="known_role"
        ),
    )

    def __repr__(self) -> str:
        return f"<User id={self.id} role={self.role}>"

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        """A loaded user is authenticated; the loader refuses inactive ones and dead sessions."""
        return True

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in."""
        return self.active

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """Return the id flask-login keeps in the session."""
        return str(self.id)

    @property
    def is_owner(self) -> bool:
        """Whether the user is an owner (the last one cannot be demoted or deactivated)."""
        return self.role == Role.OWNER

    @property
    def mfa_enabled(self) -> bool:
        """Whether a TOTP secret has been confirmed."""
        return self.totp_secret is not None


class RecoveryCode(Base):
    """A one-time MFA recovery code, stored as a hash."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class UserSession(Base):
    """A server-side login session; the cookie carries only a random token whose hash is here.

    Flask's session cookie cannot be revoked by itself; this row can (logout, password change,
    deactivation), and it carries the idle and absolute timeouts.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: first 120 characters of the browser's user agent, shown in the owner's session list
    user_agent: Mapped[str] = mapped_column(String(120), default="")


class SetupToken(Base):
    """A one-time link to create an account: the first owner, or an invited staff member."""

    __tablename__ = "setup_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: the controller the invited account is limited to (seed 000); None: every controller
    controller_id: Mapped[int | None] = mapped_column(
        ForeignKey("controller.id", ondelete="SET NULL")
    )
    #: the invited address, or None for the first-owner link
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(
            "role in ('owner', 'practitioner', 'assistant', 'bookkeeping')", name="known_role"
        ),
    )
