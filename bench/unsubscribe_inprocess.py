"""Server time of one one-click unsubscribe, in process, against the smallest Flask POST route.

The gunicorn figure (bench/unsubscribe_rate.py) mixes in wrk and the workers competing for
two cores; this one calls the WSGI apps directly with prebuilt requests, so it shows what
the unsubscribe itself costs and is steady enough to compare one change with the next.
Each call unsubscribes a different person; the first calls are a warm-up and not counted.
``--profile`` also prints where the time goes (cProfile, by own time).

    .venv/bin/python bench/unsubscribe_inprocess.py [CALLS] [--profile]
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable

from _common import tmpdir
from minimal_app import app as minimal_app
from unsubscribe_rate import seed
from werkzeug.test import EnvironBuilder

from crm import create_app

WARM_UP = 300
BODY = b"List-Unsubscribe=One-Click"


def environ(path: str) -> dict:
    """A one-click POST as a mail provider sends it: urlencoded body, no cookies."""
    return EnvironBuilder(
        path=path, method="POST", data=BODY, content_type="application/x-www-form-urlencoded"
    ).get_environ()


def caller(app: Callable) -> Callable[[dict], None]:
    """Call ``app`` with an environ and insist on a 200."""

    def call(env: dict) -> None:
        statuses: list[str] = []
        b"".join(app(env, lambda status, headers, exc_info=None: statuses.append(status)))
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"{env['PATH_INFO']}: {statuses[0]}")

    return call


def median_ms(call: Callable[[dict], None], envs: list[dict]) -> float:
    """Median milliseconds per call over ``envs`` (the first WARM_UP are not counted)."""
    for env in envs[:WARM_UP]:
        call(env)
    times = []
    for env in envs[WARM_UP:]:
        start = time.perf_counter()
        call(env)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1000
    profile = "--profile" in sys.argv
    tmp = tmpdir()
    paths = seed(tmp, WARM_UP + calls * (2 if profile else 1))
    app = create_app({"BASE_URL": "http://127.0.0.1"})
    envs = [environ(p) for p in paths]
    base = median_ms(
        caller(minimal_app), [environ(f"/ok/{p[3:]}") for p in paths[: WARM_UP + calls]]
    )
    real = median_ms(caller(app), envs[: WARM_UP + calls])
    print(f"database:    {app.config['DATABASE_URL'].split(':')[0]}, {calls} calls each")
    print(f"baseline:    {base:.3f} ms (minimal Flask POST route)")
    print(f"unsubscribe: {real:.3f} ms")
    print(f"ratio:       {base / real:.2f} (baseline time / unsubscribe time)")
    if profile:
        call = caller(app)
        profiler = cProfile.Profile()
        profiler.enable()
        for env in envs[WARM_UP + calls :]:
            call(env)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
