"""Rate limits and outbox lanes (issue 13, findings 5 and 6), against fakes that enforce them.

The fakes here enforce each provider's published limits (tests/fakes.py ``limits``) on a
virtual clock shared with the adapters, whose sleeps advance it: a minute of MailerLite's
import window passes in no real time, and the tests stay deterministic.
"""

from __future__ import annotations

import threading
import types
from contextlib import ExitStack

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select

import integrations.base
from crm.audit import Actor
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import importer
from crm.newsletter import unsubscribing
from crm.newsletter.models import Method
from crm.outbox import Op
from crm.outbox import OutboxOp
from crm.privacy import forget as privacy_forget
from crm.sync import push
from crm.sync import runner
from integrations import get_adapter
from integrations.base import ProviderAdapter
from integrations.errors import ProviderUnavailable
from integrations.mailerlite import MailerLiteAdapter
from tests.fakes import serve

NAMES = ("mailerlite", "mailchimp", "brevo")
IMPORTED = {"email": "other@example.se"}


class VirtualClock:
    """Monotonic seconds that pass only when someone sleeps (or the test advances them)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.t += max(0.0, seconds)


@pytest.fixture
def clock(monkeypatch):
    """A virtual clock that the adapters (their pacing, retries and budgets) run on."""
    vc = VirtualClock()
    monkeypatch.setattr(
        integrations.base, "time", types.SimpleNamespace(monotonic=vc.now, sleep=vc.sleep)
    )
    original = ProviderAdapter.__init__

    def virtual(self, *args, **kwargs):
        kwargs["sleep"] = vc.sleep
        original(self, *args, **kwargs)

    monkeypatch.setattr(ProviderAdapter, "__init__", virtual)
    return vc


@pytest.fixture
def limited(app, clock):
    """Three fakes enforcing their providers' published rate limits; the app uses them."""
    with ExitStack() as stack:
        running = {name: stack.enter_context(serve(name)) for name in NAMES}
        for name, fake in running.items():
            fake.limits, fake.clock = True, clock.now
            prefix = name.upper()
            app.config[f"{prefix}_API_KEY"] = "key-us1"
            app.config[f"{prefix}_{'GROUP_ID' if name == 'mailerlite' else 'LIST_ID'}"] = "7"
            app.config[f"{prefix}_BASE_URL"] = fake.url
        app.config["SYNC_TIMEOUT"] = 5
        app.config["SYNC_MAX_RETRIES"] = 4
        app.config["SYNC_PUSH_SECONDS"] = 60
        yield running


def _import(app, emails: list[str]) -> None:
    with app.app_context():
        s = get_session()
        csv = "email;name\n" + "".join(f"{e};{e.split('@')[0]}\n" for e in emails)
        importer.run(s, csv.encode(), default_method="verbal", actor=Actor.cli())
        s.commit()


def _run(app) -> runner.SyncReport:
    with app.app_context():
        return runner.run_sync(get_session())


def _act(app, email: str, action: str) -> None:
    """Unsubscribe (from the signed link's service) or erase ("forget me") ``email``."""
    with app.app_context():
        s = get_session()
        person = newsletter_common.find_person(s, email)
        if action == "unsubscribe":
            unsubscribing.unsubscribe(s, person, Method.ONE_CLICK, Actor.system())
        else:
            assert privacy_forget.forget(s, person, Actor.cli()) == "erased"
        s.commit()


def _red(db) -> int:
    """Operations the dashboard and the integrations page show as failing."""
    with db() as s:
        return s.scalar(
            select(func.count()).where(OutboxOp.status == "pending", OutboxOp.attempts > 0)
        )


def _pending(db, op: str | None = None) -> int:
    with db() as s:
        query = select(func.count()).where(OutboxOp.status == "pending")
        if op:
            query = query.where(OutboxOp.op == op)
        return s.scalar(query)


# --- finding 5: the fakes answer like the providers, the adapters keep to the limits -----------


def test_finding_5_fakes_enforce_each_providers_published_limits(clock):
    """Off by default; on, each fake answers 429 with the body and headers its docs show."""
    with ExitStack() as stack:
        ml, mc, br = (stack.enter_context(serve(n)) for n in NAMES)
        body = {"requests": [{"method": "POST", "path": "api/subscribers", "body": IMPORTED}]}
        assert all(requests.post(f"{ml.url}/batch", json=body).ok for _ in range(7))  # off
        for fake in (ml, mc, br):
            fake.limits, fake.clock = True, clock.now

        # MailerLite: the sixth import batch in a minute is refused, without Retry-After
        answers = [requests.post(f"{ml.url}/batch", json=body) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[-1].json() == {"message": "You're being rate limited on import creation."}
        assert "Retry-After" not in answers[-1].headers
        assert answers[0].headers["X-RateLimit-Limit"] == "120"
        # ... and the 121st request of the minute, with Retry-After and X-RateLimit-*
        answers = [requests.get(f"{ml.url}/subscribers/x@y.se") for _ in range(115)]
        assert {a.status_code for a in answers[:114]} == {404} and answers[114].status_code == 429
        assert answers[114].json() == {"message": "Too Many Attempts."}
        assert answers[114].headers["X-RateLimit-Remaining"] == "0"
        assert 0 < int(answers[114].headers["Retry-After"]) <= 60
        clock.sleep(60)  # the window passes
        assert requests.post(f"{ml.url}/batch", json=body).status_code == 200
        assert ml.throttled == {"import": 1, "global": 1}

        # Brevo: /v3/contacts 10 a second, x-sib-ratelimit-* headers, no Retry-After
        answers = [requests.get(f"{br.url}/contacts") for _ in range(11)]
        assert [a.status_code for a in answers] == [200] * 10 + [429]
        assert answers[0].headers["x-sib-ratelimit-limit"] == "10"
        assert answers[-1].headers["x-sib-ratelimit-remaining"] == "0"
        assert answers[-1].headers["x-sib-ratelimit-reset"] == "1"
        assert "Retry-After" not in answers[-1].headers
        clock.sleep(1)
        assert requests.get(f"{br.url}/contacts").status_code == 200

        # Mailchimp: the eleventh simultaneous connection gets a bare 429 problem document
        mc.stall, mc.faults = 1.0, ["slow"] * 10
        threads = [
            threading.Thread(target=requests.get, args=(f"{mc.url}/lists/7/abuse-reports",))
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        while mc.inflight < 10:
            threading.Event().wait(0.01)
        extra = requests.get(f"{mc.url}/lists/7/abuse-reports")
        for t in threads:
            t.join()
        assert extra.status_code == 429 and extra.json()["status"] == 429
        assert extra.headers["Content-Type"] == "application/problem+json"
        assert not any(h.lower().startswith(("retry-after", "x-ratelimit")) for h in extra.headers)
        assert requests.get(f"{mc.url}/lists/7/abuse-reports").status_code == 200


def test_finding_5_mailerlite_import_429_without_retry_after_waits_for_the_window(clock):
    """Another client spent the import limit: the adapter waits the minute out, not 15 s."""
    with serve("mailerlite") as fake:
        fake.limits, fake.clock = True, clock.now
        body = {"requests": [{"method": "POST", "path": "api/subscribers", "body": IMPORTED}]}
        for _ in range(5):  # e.g. the practice's web shop, on the same account
            assert requests.post(f"{fake.url}/batch", json=body).status_code == 200
        settings = {"API_KEY": "k", "GROUP_ID": "7", "BASE_URL": fake.url}
        adapter = get_adapter("mailerlite", {f"MAILERLITE_{k}": v for k, v in settings.items()})
        start = clock.now()
        result = adapter.unsubscribe(["a@example.se"])
        assert result.succeeded == ["a@example.se"]
        assert fake.status("a@example.se") == "unsubscribed"
        assert 45 <= clock.now() - start <= 61  # it waited for the window, once
        assert fake.throttled == {"import": 1}


def test_finding_5_a_large_first_sync_finishes_over_runs_without_an_error_storm(
    app, db, limited, clock
):
    """1,500 new subscribers: MailerLite takes 5 imports of 50 a minute: a few runs.

    Each run sends what the limits and its budget allow and leaves the rest pending, not
    failed: no 429 is provoked, nothing shows as failing, and every run is quiet.
    """
    _import(app, [f"s{i}@example.se" for i in range(1500)])
    runs = []
    for _ in range(8):
        report = _run(app)
        runs.append(report)
        assert all(r.failed == 0 and not r.error for r in report.providers.values()), report
        assert _red(db) == 0
        if report.ok:
            break
        clock.sleep(15 * 60)  # the next cron run
    assert runs[-1].ok and _pending(db) == 0
    # 60 s of budget per run: 10 imports (5 now, 5 when the window has passed)
    assert [r.providers["mailerlite"].pushed for r in runs] == [500, 500, 500]
    assert runs[0].providers["mailchimp"].pushed == runs[0].providers["brevo"].pushed == 1500
    assert runs[0].providers["mailerlite"].deferred > 0
    assert all(fake.throttled == {} for fake in limited.values())  # paced, never refused
    assert len(limited["mailerlite"].contacts) == 1500


# --- finding 6: what the law cares about goes first ---------------------------------------------


def _erasure(request_text: str) -> bool:
    return any(e in request_text for e in ("e@example.se", "/forget", "/delete-permanent"))


def _first(log: list, match) -> int:
    return next(i for i, entry in enumerate(log) if match(entry))


def test_finding_6_unsubscribe_and_erasure_overtake_10000_pending_upserts(app, db, limited):
    """With the published limits on, legal operations are the first pushes at every provider."""
    _import(app, ["u@example.se", "e@example.se"])
    assert _run(app).ok
    _import(app, [f"b{i}@example.se" for i in range(10_000)])
    _act(app, "u@example.se", "unsubscribe")
    _act(app, "e@example.se", "erase")
    for fake in limited.values():
        fake.log.clear()

    report = _run(app)

    for name, fake in limited.items():
        assert fake.status("u@example.se") == "unsubscribed", name
        assert fake.status("e@example.se") is None and "e@example.se" in fake.forgotten, name
        pushes = [e for e in fake.log if e["method"] != "GET" or "/subscribers/" in e["path"]]
        text = [str(e["json"]) + e["path"] for e in pushes]
        first_upsert = _first(pushes, lambda e: "b0@example.se" in str(e["json"]))
        assert _first(text, lambda t: "u@example.se" in t) < first_upsert, name
        assert _first(text, _erasure) < first_upsert, name
    with db() as s:
        legal = s.scalars(select(OutboxOp).where(OutboxOp.op != Op.UPSERT)).all()
        assert {(op.op, op.status) for op in legal} == {("unsubscribe", "done"), ("erase", "done")}
    # the backlog goes on over later runs, without anything failing
    assert report.providers["mailerlite"].deferred > 0 and _red(db) == 0


def test_finding_6_a_failing_upsert_batch_does_not_delay_an_erasure(app, db, limited, monkeypatch):
    """MailerLite answers 500 to every upsert batch: the erasure still goes out in that run."""
    _import(app, ["e@example.se"])
    assert _run(app).ok
    _import(app, [f"b{i}@example.se" for i in range(60)])  # older than the erasure
    _act(app, "e@example.se", "erase")

    def broken(self, contacts):
        raise ProviderUnavailable("mailerlite: 500 on POST batch")

    monkeypatch.setattr(MailerLiteAdapter, "upsert", broken)
    report = _run(app)
    assert "e@example.se" in limited["mailerlite"].forgotten
    assert all("e@example.se" in fake.forgotten for fake in limited.values())
    assert report.providers["mailerlite"].failed == 50  # the batch really failed: shown
    assert "500" in report.providers["mailerlite"].error
    with db() as s:
        erase = s.scalars(select(OutboxOp).where(OutboxOp.op == Op.ERASE)).all()
        assert {op.status for op in erase} == {"done"}


def test_finding_6_a_rate_limited_upsert_is_rescheduled_not_failed(app, db, limited, monkeypatch):
    """A 429 on an upsert batch: the run stops upserts there and retries later; legal ops go."""
    _import(app, ["u@example.se"])
    assert _run(app).ok
    _import(app, [f"b{i}@example.se" for i in range(3)])
    _act(app, "u@example.se", "unsubscribe")
    fake = limited["mailchimp"]
    original = push._send

    def refusing(session, adapter, kind, batch, now, report):
        if adapter.name == "mailchimp" and kind == Op.UPSERT:  # more 429s than retries
            fake.faults += [(429, {"Retry-After": "300"})] * (adapter.max_retries + 1)
        return original(session, adapter, kind, batch, now, report)

    monkeypatch.setattr(push, "_send", refusing)
    report = _run(app)
    assert fake.status("u@example.se") == "unsubscribed"
    r = report.providers["mailchimp"]
    assert (r.failed, r.error, r.deferred) == (0, "", 3), r
    assert _red(db) == 0  # not shown as failing
    with db() as s:
        ops = s.scalars(
            select(OutboxOp).where(OutboxOp.provider == "mailchimp", OutboxOp.status == "pending")
        ).all()
    assert len(ops) == 3 and {op.attempts for op in ops} == {0}
    assert all(op.next_attempt_at > utcnow() for op in ops)  # after the provider's 300 s
    assert limited["mailerlite"].status("b0@example.se") == "active"  # the others went on


def test_finding_6_one_providers_rate_limit_does_not_delay_the_others(app, db, limited, clock):
    """MailerLite's import limit is spent by another client: its unsubscribe waits.

    Mailchimp and Brevo get theirs meanwhile; MailerLite's still goes out in this run.
    """
    _import(app, ["u@example.se"])
    assert _run(app).ok
    _act(app, "u@example.se", "unsubscribe")
    body = {"requests": [{"method": "POST", "path": "api/subscribers", "body": IMPORTED}]}
    clock.sleep(60)  # a fresh import window, then another client spends it
    for _ in range(5):
        assert requests.post(f"{limited['mailerlite'].url}/batch", json=body).status_code == 200
    lines: list[str] = []
    with app.app_context():
        report = runner.run_sync(get_session(), progress=lines.append)
    sent = [line.split(":")[0].strip() for line in lines if "unsubscribe 1 sent" in line]
    assert sent[-1] == "mailerlite" and set(sent) == set(NAMES), lines
    assert all(fake.status("u@example.se") == "unsubscribed" for fake in limited.values())
    assert report.ok and _red(db) == 0


def test_finding_6_a_legal_operation_outlasts_bare_429s_within_the_run(
    app, db, limited, clock, monkeypatch
):
    """Mailchimp's 429 names no wait: the unsubscribe backs off (2, 4, 8, 16 s) and goes out."""
    _import(app, ["u@example.se"])
    assert _run(app).ok
    _act(app, "u@example.se", "unsubscribe")
    fake, original, armed = limited["mailchimp"], push._send, [True]

    def refusing(session, adapter, kind, batch, now, report):
        if adapter.name == "mailchimp" and kind == Op.UNSUBSCRIBE and armed:
            armed.clear()
            fake.faults += [429] * 4  # once: the four next answers are bare 429s
        return original(session, adapter, kind, batch, now, report)

    monkeypatch.setattr(push, "_send", refusing)
    start = clock.now()
    report = _run(app)
    assert fake.status("u@example.se") == "unsubscribed"
    assert report.ok and report.providers["mailchimp"].failed == 0 and _red(db) == 0
    assert clock.now() - start >= 2 + 4 + 8 + 16
