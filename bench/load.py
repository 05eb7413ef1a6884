"""60-second load test under gunicorn: one-click unsubscribe, the public feed (JSON, HTML), login.

One gunicorn (``wsgi:app``, BENCH_WORKERS workers, sync) serves a database seeded with
30,000 subscribers and 20 published testimonials; wrk (``-t2 -c16``) loads each route for
SECONDS in turn. The baseline, measured in the same run under the same settings, is
bench/minimal_app.py's one-line route. The run passes only with zero non-2xx answers, zero
socket errors and no "database is locked" or traceback in gunicorn's log.

    .venv/bin/python bench/load.py [SECONDS]
    CRM_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/load.py [SECONDS]
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import requests
from _common import bench_env
from _common import tmpdir
from unsubscribe_rate import ROOT
from unsubscribe_rate import WORKERS
from unsubscribe_rate import seed
from unsubscribe_rate import serve
from unsubscribe_rate import warm_up
from unsubscribe_rate import wrapped
from unsubscribe_rate import write_scripts
from unsubscribe_rate import wrk

from crm import create_app
from crm.db import get_session
from crm.db import utcnow
from crm.people.models import Person
from crm.testimonials.models import Status
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialConsent
from crm.testimonials.models import content_hash


def add_published_testimonials(count: int = 20) -> None:
    """Published testimonials with website consent, so the feed has real work to do."""
    app = create_app({"BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        db = get_session()
        now = utcnow()
        for person in db.query(Person).order_by(Person.id).limit(count):
            t = Testimonial(
                person=person,
                text=f"Tack för hjälpen, {person.id}! " * 5,
                display_mode="first_name",
                status=Status.PUBLISHED,
            )
            t.consents.append(
                TestimonialConsent(
                    # the feed shows only content whose hash is the one consented to
                    content_hash=content_hash(t),
                    consented_at=now,
                    channels=json.dumps(["website"]),
                    media_kinds=json.dumps(["text"]),
                )
            )
            db.add(t)
        db.commit()


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    tmp = tmpdir()
    paths = seed(tmp, max(30_000, 1_000 * seconds))  # more links than requests
    add_published_testimonials()
    write_scripts(tmp, paths)
    env = {**os.environ, **bench_env(tmp)}
    log = tmp / "gunicorn.log"
    rows = {}
    proc, port = serve("minimal_app:app", env, ROOT / "bench")
    try:
        warm_up(port, "/", tmp / "ok.lua")
        rows["baseline (minimal POST)"] = wrk(port, seconds, "/", tmp / "ok.lua")
    finally:
        proc.terminate()
        proc.wait()
    with log.open("w") as stderr:
        proc, port = serve("wsgi:app", env, ROOT, stderr=stderr)
        try:
            # workers boot slowly on a busy machine: a generous first wait
            feed = requests.get(f"http://127.0.0.1:{port}/embed/testimonials.json", timeout=60)
            assert feed.text.count("Tack f") == 5 * 20, "the feed should show 20 items"
            warm_up(port, paths[0])  # GET: shows the button, changes nothing
            rows["unsubscribe POST"] = wrk(port, seconds, "/", tmp / "crm.lua")
            rows["feed (JSON)"] = wrk(port, seconds, "/embed/testimonials.json")
            rows["feed (HTML)"] = wrk(port, seconds, "/embed/testimonials")
            rows["login page"] = wrk(port, seconds, "/auth/login")
        finally:
            proc.terminate()
            proc.wait()
    text = log.read_text()
    base = float(rows["baseline (minimal POST)"]["rps"])
    print(
        f"database: {env['CRM_DATABASE_URL'].split(':')[0]}, gunicorn -w {WORKERS}, "
        f"wrk -t2 -c16 -d{seconds}s"
    )
    for name, r in rows.items():
        print(
            f"{name:24s} {float(r['rps']):8,.0f} req/s  ratio {float(r['rps']) / base:5.2f}  "
            f"p50 {r['p50']:>8s}  p99 {r['p99']:>8s}  {r['errors']}"
            + (wrapped(r) if name == "unsubscribe POST" else "")
        )
    print(
        f"gunicorn log: {text.count('database is locked')} 'database is locked', "
        f"{text.count('Traceback')} tracebacks"
    )


if __name__ == "__main__":
    main()
