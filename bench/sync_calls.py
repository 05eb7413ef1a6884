"""HTTP calls and wall time for pushing 10,000 pending changes to each provider.

Goal (Sync issue): calls <= ceil(N / batch size) + pages, per provider, against the local fake
providers with no rate limit. The baseline printed next to each figure is that bound,
computed in the same run from the adapters' batch sizes and the pages the pulls needed.

    .venv/bin/python bench/sync_calls.py [N]
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from _common import bench_app
from _common import tmpdir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.audit import Actor  # noqa: E402
from crm.db import get_session  # noqa: E402
from crm.newsletter import importer  # noqa: E402
from crm.sync import runner  # noqa: E402
from integrations.base import ProviderAdapter  # noqa: E402
from tests.fakes import serve  # noqa: E402

PROVIDERS = ("mailerlite", "mailchimp", "brevo")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with ExitStack() as stack:
        fakes = {name: stack.enter_context(serve(name)) for name in PROVIDERS}
        app = bench_app(tmpdir())
        for name, fake in fakes.items():
            prefix = name.upper()
            app.config[f"{prefix}_API_KEY"] = "key-us1"
            app.config[f"{prefix}_{'GROUP_ID' if name == 'mailerlite' else 'LIST_ID'}"] = "7"
            app.config[f"{prefix}_BASE_URL"] = fake.url
        for cls in ProviderAdapter.__subclasses__():
            cls.LIMITS = ()  # "no rate limit": measure calls and our own overhead
        csv = "email;name\n" + "".join(f"s{i}@example.se;S {i}\n" for i in range(n))
        with app.app_context():
            db = get_session()
            importer.run(db, csv.encode(), default_method="verbal", actor=Actor.cli())
            db.commit()
            start = time.perf_counter()
            report = runner.run_sync(db)
            elapsed = time.perf_counter() - start
        print(
            f"{n} pending upserts per provider, one sync run: {elapsed:.1f} s wall, ok={report.ok}"
        )
        batch_sizes = {c.name: c.BATCH_SIZE for c in ProviderAdapter.__subclasses__()}
        for name in PROVIDERS:
            r = report.providers[name]
            pull_calls = sum(1 for e in fakes[name].log if e["method"] == "GET")
            bound = math.ceil(n / batch_sizes[name]) + pull_calls
            print(
                f"{name:10s} calls {r.calls:5d}  bound ceil({n}/{batch_sizes[name]}) + "
                f"{pull_calls} pages = {bound:5d}  ratio {r.calls / bound:.2f}  "
                f"pushed {r.pushed}"
            )


if __name__ == "__main__":
    main()
