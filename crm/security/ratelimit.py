"""Sliding-window rate limiting stored in the database.

Stored in the database rather than in process memory so that limits hold across gunicorn
workers and restarts. Bucket keys are hashed so that neither IP addresses nor email addresses
sit in this table in clear.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from crm.db import Base
from crm.db import UTCDateTime
from crm.db import rowcount
from crm.db import utcnow


class RateLimitHit(Base):
    """One counted event (a failed login, a sign-up) in a bucket."""

    __tablename__ = "rate_limit_hit"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of "<kind>:<key>"
    bucket: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rate_limit_hit_bucket_created", "bucket", "created_at"),)


def bucket(kind: str, key: str) -> str:
    """Return the stored name of a bucket, e.g. ``bucket("login-ip", "10.0.0.1")``."""
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()


def hit(session: Session, name: str, now: datetime | None = None) -> None:
    """Count one event in bucket ``name`` (the caller commits)."""
    session.add(RateLimitHit(bucket=name, created_at=now or utcnow()))


def count(session: Session, name: str, window: timedelta, now: datetime | None = None) -> int:
    """Return how many events bucket ``name`` holds within the last ``window``."""
    since = (now or utcnow()) - window
    stmt = select(func.count()).where(RateLimitHit.bucket == name, RateLimitHit.created_at > since)
    return session.scalar(stmt) or 0


def clear(session: Session, name: str) -> None:
    """Forget a bucket, e.g. a device's failures after it logged in successfully."""
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == name))


def purge(session: Session, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete events older than any window in use; returns how many rows went."""
    cutoff = (now or utcnow()) - older_than
    result = session.execute(delete(RateLimitHit).where(RateLimitHit.created_at < cutoff))
    return rowcount(result)
