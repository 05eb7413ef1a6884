"""Fill a database to the size of a busy practice after ten years.

100,000 people, 100,000 subscriptions with consent histories (grant + confirm, every tenth
withdrawn), 5,000 testimonials, 50,000 audit rows; in bulk, so it takes seconds.

    .venv/bin/python bench/seed.py            # into a fresh temporary SQLite database
    CRM_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/seed.py
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from _common import bench_app
from _common import tmpdir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from crm import audit  # noqa: E402
from crm.audit import Actor  # noqa: E402
from crm.db import bulk_insert  # noqa: E402
from crm.db import get_session  # noqa: E402
from crm.db import utcnow  # noqa: E402
from crm.newsletter import mailing_lists  # noqa: E402
from crm.newsletter.models import ConsentRecord  # noqa: E402
from crm.newsletter.models import Subscription  # noqa: E402
from crm.people.models import Person  # noqa: E402
from crm.people.models import new_public_id  # noqa: E402
from crm.security.crypto import keyring  # noqa: E402
from crm.testimonials.models import Testimonial  # noqa: E402

PEOPLE, TESTIMONIALS, AUDIT = 100_000, 5_000, 50_000


def seed(app, people: int = PEOPLE) -> None:
    """Fill the app's database; prints the time per table."""
    with app.app_context():
        db = get_session()
        conn = db.connection()
        now = utcnow()
        list_id = mailing_lists.default_list(db).id
        start = time.perf_counter()
        bulk_insert(
            conn,
            Person.__table__,
            [
                {
                    "public_id": new_public_id(),
                    "name": f"Förnamn{i} Efternamn{i % 977}",
                    "name_key": f"förnamn{i} efternamn{i % 977}",
                    "surname_key": f"efternamn{i % 977}",
                    "email": f"person{i}@example.se",
                    "phone": f"070-{i:07d}",
                    "created_at": now - timedelta(days=i % 3650),
                    "updated_at": now,
                }
                for i in range(people)
            ],
        )
        first = db.execute(
            Person.__table__.select().with_only_columns(Person.id).order_by(Person.id).limit(1)
        ).scalar()
        ids = range(first, first + people)
        bulk_insert(
            conn,
            Subscription.__table__,
            [
                {
                    "person_id": pid,
                    "list_id": list_id,
                    "source": "import",
                    "status": "unsubscribed" if pid % 10 == 0 else "active",
                    "legal_basis": "consent",
                    "created_at": now - timedelta(days=pid % 3650),
                    "confirmed_at": now - timedelta(days=pid % 3650),
                    "unsubscribed_at": now if pid % 10 == 0 else None,
                }
                for pid in ids
            ],
        )
        records = []
        for pid in ids:
            for action in ("grant", "confirm") + (("withdraw",) if pid % 10 == 0 else ()):
                records.append(
                    {
                        "person_id": pid,
                        "list_id": list_id,
                        "purpose": "newsletter",
                        "action": action,
                        "method": "web_form",
                        "occurred_at": now,
                        "consent_text_id": None,
                        "text_hash": None,
                        "ip": "192.0.2.1",
                        "user_agent": "bench",
                        "staff_user_id": None,
                        "note": None,
                    }
                )
        bulk_insert(conn, ConsentRecord.__table__, records)
        ring = keyring()
        bulk_insert(
            conn,
            Testimonial.__table__,
            [
                {
                    "public_id": new_public_id(),
                    "person_id": first + i,
                    "text": ring.encrypt_text(f"Omdöme nummer {i}", "testimonial.text"),
                    "display_mode": "first_name",
                    "status": "published" if i % 2 else "draft",
                    "created_at": now,
                    "updated_at": now,
                    "revoked_at": None,
                }
                for i in range(TESTIMONIALS)
            ],
        )
        db.commit()
        for i in range(AUDIT):  # through the real chain: each row links to the previous
            audit.record(
                db,
                Actor.system(),
                "bench.event",
                object_type="person",
                object_id=first + i % people,
            )
            if i % 5000 == 4999:
                db.commit()
        db.commit()
        if db.get_bind().dialect.name == "postgresql":
            # A database that has been in use has planner statistics (autovacuum gathers
            # them); one filled a second ago has none yet and gets plans it never would.
            db.execute(text("ANALYZE"))
            db.commit()
        print(
            f"seeded {people} people, {people} subscriptions, {len(records)} consent records, "
            f"{TESTIMONIALS} testimonials, {AUDIT} audit rows in "
            f"{time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    seed(bench_app(tmpdir()))
