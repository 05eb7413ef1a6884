"""Owner pages at full size: p95 server time per page, next to a trivial route's p95.

Seeds 100,000 people etc. (bench/seed.py), logs in, then requests each page 40 times through
the WSGI app in-process (server time without the network). The baseline is the smallest
thing the same app serves: a static file. Goal (Scale issue): p95 <= 50 ms per page.

    .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

from _common import bench_app
from _common import tmpdir
from seed import seed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.audit import Actor  # noqa: E402
from crm.auth import services as auth  # noqa: E402
from crm.auth.models import Role  # noqa: E402
from crm.db import get_session  # noqa: E402

RUNS = 40
PASSWORD = "ett långt lösenord för mätningar"


def p95(client, url: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.quantiles(times, n=20)[18]


def main() -> None:
    app = bench_app(tmpdir())
    app.config["REQUIRE_MFA"] = False
    seed(app)
    with app.app_context():
        db = get_session()
        auth.create_user(
            db,
            email="bench@example.se",
            name="B",
            password=PASSWORD,
            role=Role.OWNER,
            actor=Actor.cli(),
        )
        db.commit()
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/auth/login", data={"csrf_token": token, "email": "bench@example.se", "password": PASSWORD}
    )
    base = p95(client, "/static/favicon.svg")
    pages = {
        "people list": "/people/",
        "people: name search": "/people/?q=Förnamn4242",
        "people: email prefix": "/people/?q=person4242@",
        "person page": "/people/4242",
        "subscribers": "/newsletter/",
        "subscribers: search": "/newsletter/?q=person4242",
        "dashboard": "/",
        "audit trail": "/audit",
    }
    print(f"database: {app.config['DATABASE_URL'].split(':')[0]}; p95 of {RUNS} requests")
    print(f"{'baseline (static file)':24s} {base:7.1f} ms")
    for name, url in pages.items():
        value = p95(client, url)
        flag = "ok" if value <= 50 else "OVER GOAL"
        print(f"{name:24s} {value:7.1f} ms  ratio {value / base:6.1f}  {flag}")


if __name__ == "__main__":
    main()
