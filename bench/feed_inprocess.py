"""Server time of one public feed request, in process, against the smallest Flask route.

The WSGI apps are called directly with prebuilt GETs (no gunicorn, no wrk), median of CALLS
after a warm-up, on a database with 20 published testimonials (as bench/load.py). Three
ways through the feed, so each step of the cache shows:

* built: the generation is bumped before every call, so each request decrypts and renders;
* Flask, cached: a cookie on the request sends it through Flask, which renders nothing
  (the per-process cache holds the body for the current generation);
* fast path: a website visitor's cookie-less GET, replayed in front of Flask after one
  read of the generation row.

    .venv/bin/python bench/feed_inprocess.py [CALLS]
    CRM_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/feed_inprocess.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from _common import bench_app
from _common import tmpdir
from load import add_published_testimonials
from minimal_app import app as minimal_app
from unsubscribe_inprocess import caller
from unsubscribe_rate import seed
from werkzeug.test import EnvironBuilder

from crm import create_app
from crm.db import get_session
from crm.testimonials import feed

WARM_UP = 200


def environ(path: str, method: str = "GET", cookie: str | None = None) -> dict:
    """A request as a browser sends it (optionally with a cookie)."""
    headers = {"Cookie": cookie} if cookie else {}
    return EnvironBuilder(path=path, method=method, headers=headers).get_environ()


def median_ms(call: Callable[[dict], None], make: Callable[[], dict], calls: int) -> float:
    """Median milliseconds per call (the first WARM_UP are not counted)."""
    for _ in range(WARM_UP):
        call(make())
    times = []
    for _ in range(calls):
        env = make()
        start = time.perf_counter()
        call(env)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tmp = tmpdir()
    bench_app(tmp)
    seed(tmp, 200)
    add_published_testimonials()
    app = create_app({"BASE_URL": "http://127.0.0.1"})
    crm = caller(app)
    path = "/embed/testimonials.json"
    assert b"".join(app(environ(path), lambda *a: None)).count(b"Tack f") == 100

    def bump_then(env: dict) -> None:
        with app.app_context():
            session = get_session()
            feed.bump(session)
            session.commit()
        crm(env)

    base = median_ms(caller(minimal_app), lambda: environ("/ok/x", "POST"), calls)
    built = median_ms(bump_then, lambda: environ(path, cookie="crm_lang=sv"), calls // 10)
    with app.app_context():  # the bump's own cost, to take out of "built"
        session = get_session()
        start = time.perf_counter()
        for _ in range(100):
            feed.bump(session)
            session.commit()
        bump_ms = (time.perf_counter() - start) * 10
    flask = median_ms(crm, lambda: environ(path, cookie="crm_lang=sv"), calls)
    fast = median_ms(crm, lambda: environ(path), calls)
    html = median_ms(crm, lambda: environ("/embed/testimonials"), calls)
    url = app.config["DATABASE_URL"].split(":")[0]
    print(f"database: {url}, {calls} calls, median server time")
    print(f"baseline (minimal POST)   {base:7.3f} ms")
    for name, ms in (
        ("feed JSON, built", built - bump_ms),
        ("feed JSON, Flask cached", flask),
        ("feed JSON, fast path", fast),
        ("feed HTML, fast path", html),
    ):
        print(f"{name:25s} {ms:7.3f} ms  ratio {base / ms:5.2f}")


if __name__ == "__main__":
    main()
