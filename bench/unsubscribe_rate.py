"""Throughput of the RFC 8058 one-click unsubscribe POST under gunicorn, against a baseline.

Both servers run under gunicorn with the same worker count, and both are loaded by wrk with
the same connections for the same time. The baseline is bench/minimal_app.py (one Flask route
that returns "ok"), so the ratio is what the real work costs: verify the signed token, find
the person, write the subscription change, consent record, suppression and audit row in one
transaction. Each request unsubscribes a different person (a token file feeds wrk).

Goal (Newsletter issue): ratio >= 0.5.

    .venv/bin/python bench/unsubscribe_rate.py [SECONDS] [SUBSCRIBERS]
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import bench_app
from _common import bench_env
from _common import tmpdir

from crm.audit import Actor
from crm.db import get_session
from crm.newsletter import importer
from crm.newsletter.models import Subscription
from crm.people.models import Person
from crm.security import tokens

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = os.environ.get("BENCH_WORKERS", "4")

#: wrk's threads; the Lua script below strides by the same number
THREADS = 2

#: wrk runs one Lua state per thread; setup() gives each thread its own slice of the paths
#: (thread k takes k, k + T, k + 2T, ...), so no two requests click the same link unless a
#: thread runs past the end of its slice, which done() counts exactly ("repeat clicks").
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
i = -1
request = function()
  i = i + 1
  local path = paths[((i * THREADS + id) %% #paths) + 1]
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"},
                    "List-Unsubscribe=One-Click")
end
function done(summary, latency, requests)
  local repeats = 0
  for _, thread in ipairs(threads) do
    local sent = thread:get("i") + 1
    local own = math.floor((#paths - thread:get("id") - 1) / THREADS) + 1
    if sent > own then repeats = repeats + sent - own end
  end
  io.write(string.format("repeat clicks: %%d\\n", repeats))
end
""".replace("THREADS", str(THREADS))


def write_scripts(tmp: Path, paths: list[str]) -> None:
    """Write the wrk scripts into ``tmp``.

    crm.lua clicks the unsubscribe links; ok.lua POSTs the baseline's /ok/... route with the
    same Lua.
    """
    (tmp / "paths.txt").write_text("\n".join(paths) + "\n")
    (tmp / "crm.lua").write_text(LUA % (tmp / "paths.txt"))
    (tmp / "ok.txt").write_text("\n".join(f"/ok/{p[3:]}" for p in paths[:1000]) + "\n")
    (tmp / "ok.lua").write_text(LUA % (tmp / "ok.txt"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(tmp: Path, count: int) -> list[str]:
    """Import ``count`` subscribers and return one unsubscribe path per person."""
    app = bench_app(tmp)
    csv = "email;name\n" + "".join(f"u{i}@example.se;U {i}\n" for i in range(count))
    with app.app_context():
        db = get_session()
        importer.run(db, csv.encode(), default_method="verbal", actor=Actor.cli())
        db.commit()
        ids = db.query(Person.public_id).join(Subscription).all()
        return [f"/u/{tokens.sign(tokens.Purpose.UNSUBSCRIBE, pid)}" for (pid,) in ids]


def serve(
    target: str, env: dict[str, str], cwd: Path, stderr: Any = None
) -> tuple[subprocess.Popen, int]:
    """Start gunicorn on a free port; its log goes to ``stderr`` if given."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            WORKERS,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        env=env,
        cwd=cwd,
        stderr=stderr,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def wrk(port: int, seconds: int, target: str, script: Path | None = None) -> dict[str, str]:
    """Run wrk and pull throughput, latency percentiles and errors out of its report."""
    cmd = ["wrk", "-t", str(THREADS), "-c", "16", "-d", f"{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{target}"], capture_output=True, text=True, check=True
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": re.search(r"Requests/sec:\s+([\d.]+)", out).group(1),
        "repeats": (re.findall(r"^repeat clicks: (\d+)$", out, re.M) or ["0"])[0],
        # anchored: the thread-stats table also has columns ending in "50%" or "99%"
        "p50": re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1),
        "p99": re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1),
        "errors": f"{non2xx.group(1) if non2xx else 0} non-2xx"
        + (f", socket {socket_errors.group(1)}" if socket_errors else ""),
    }


def warm_up(port: int, target: str, script: Path | None = None) -> None:
    """Two seconds of load that is not measured.

    So every worker has loaded its templates, opened its database connection and filled
    SQLAlchemy's statement cache; without it the first second's queueing shows as a p99 of
    over a second.
    """
    wrk(port, 2, target, script)


def wrapped(result: dict[str, str]) -> str:
    """A warning when a thread ran out of links of its own (those were repeat clicks)."""
    repeats = int(result["repeats"])
    return f"  WARNING: {repeats} repeat clicks (a thread ran out of links)" if repeats else ""


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 30_000
    tmp = tmpdir()
    paths = seed(tmp, count)
    write_scripts(tmp, paths)
    env = {**os.environ, **bench_env(tmp)}
    results = {}
    for name, target, cwd, script in (
        ("baseline", "minimal_app:app", ROOT / "bench", tmp / "ok.lua"),
        ("unsubscribe", "wsgi:app", ROOT, tmp / "crm.lua"),
    ):
        proc, port = serve(target, env, cwd)
        try:
            if name == "baseline":
                warm_up(port, "/", script)  # POSTs to /ok/..., which touch nothing
            else:
                warm_up(port, paths[0])  # GET: shows the button, changes nothing
            results[name] = wrk(port, seconds, "/", script)
        finally:
            proc.terminate()
            proc.wait()
    base, real = float(results["baseline"]["rps"]), float(results["unsubscribe"]["rps"])
    print(
        f"database:    {env['CRM_DATABASE_URL'].split(':')[0]}, gunicorn -w {WORKERS}, "
        f"wrk -t2 -c16 -d{seconds}s"
    )
    for name, value in (("baseline", base), ("unsubscribe", real)):
        r = results[name]
        print(
            f"{name + ':':12s} {value:,.0f} req/s (p99 {r['p99']}, {r['errors']})"
            + (wrapped(r) if name == "unsubscribe" else "")
        )
    print(f"ratio:       {real / base:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
