"""Owner pages at full size: p95 server time per page, next to a trivial route's p95.

Seeds 100,000 people etc. (bench/seed.py), logs in, then requests each page 40 times through
the WSGI app in-process (server time without the network). The baseline is the smallest
thing the same app serves: a static file. Goal (Scale issue): p95 <= 50 ms per page.

    .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import statistics
import time

from _common import bench_app
from _common import create_owner
from _common import login
from _common import tmpdir
from seed import seed

RUNS = 40


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
    create_owner(app)
    client = app.test_client()
    login(client)
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
