"""The sync end to end against three local fake providers, with faults, crashes and webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from crm import outbox
from crm.audit import Actor
from crm.audit import AuditEvent
from crm.auth import mfa
from crm.auth import services
from crm.auth.models import Role
from crm.db import get_session
from crm.db import utcnow
from crm.newsletter import common as newsletter_common
from crm.newsletter import stats
from crm.newsletter import suppression
from crm.newsletter.models import SubscriberMonth
from crm.newsletter.models import Subscription
from crm.outbox import OutboxOp
from crm.people.models import Person
from crm.privacy import forget as privacy_forget
from crm.privacy import rights
from crm.security import secrets_store
from crm.sync import lock
from crm.sync.models import SyncRun
from integrations.base import ProviderAdapter
from tests.conftest import PASSWORD
from tests.conftest import TEST_KEY
from tests.conftest import TEST_SECRET
from tests.fakes import serve
from tests.helpers import TestUser
from tests.helpers import login
from tests.helpers import post_form

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRETS = {"mailerlite": "ml-secret", "mailchimp": "mc-token", "brevo": "br-token"}


@pytest.fixture
def fakes(app):
    """Three running fakes, and the app configured to use them."""
    with ExitStack() as stack:
        running = {name: stack.enter_context(serve(name)) for name in SECRETS}
        for name, fake in running.items():
            prefix = name.upper()
            app.config[f"{prefix}_API_KEY"] = "key-us1"
            app.config[f"{prefix}_{'GROUP_ID' if name == 'mailerlite' else 'LIST_ID'}"] = "7"
            app.config[f"{prefix}_BASE_URL"] = fake.url
            app.config[f"{prefix}_WEBHOOK_SECRET"] = SECRETS[name]
        app.config["SYNC_TIMEOUT"] = 1
        app.config["SYNC_MAX_RETRIES"] = 1
        # tests do not wait out real back-off: the fakes' throttling is not the point here

        original = ProviderAdapter.__init__

        def fast(self, *args, **kwargs):
            kwargs["sleep"] = lambda _s: None
            original(self, *args, **kwargs)

        ProviderAdapter.__init__ = fast
        try:
            yield running
        finally:
            ProviderAdapter.__init__ = original


def _sync(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["sync"])
    return result.exit_code, result.output


def _import(app, tmp_path, emails) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("email;name\n" + "".join(f"{e};{e.split('@')[0]}\n" for e in emails))
    result = app.test_cli_runner().invoke(args=["import-subscribers", str(path)])
    assert result.exit_code == 0, result.output


def _status(db, email) -> str | None:
    with db() as s:
        return s.scalar(select(Subscription.status).join(Person).where(Person.email == email))


def _states(fakes, email) -> dict[str, str | None]:
    return {name: fake.status(email) for name, fake in fakes.items()}


def owner_page(app, url: str) -> str:
    """Fetch an owner page as a freshly created, logged-in owner."""
    with app.app_context():
        s = get_session()
        user = services.create_user(
            s, email="o@example.se", name="O", password=PASSWORD, role=Role.OWNER, actor=Actor.cli()
        )
        user.totp_secret = mfa.new_secret()
        s.commit()
        owner = TestUser(user.id, user.email, PASSWORD, user.totp_secret)
    client = app.test_client()
    login(client, app, owner)
    return client.get(url).get_data(as_text=True)


def _ready(app):
    with app.app_context():
        secrets_store.ensure(get_session())
        get_session().commit()


def test_end_to_end_with_all_three_providers(app, db, fakes, tmp_path):
    _import(app, tmp_path, ["a@example.se", "b@example.se", "c@example.se"])
    code, out = _sync(app)
    assert code == 0, out
    for email in ("a@example.se", "b@example.se", "c@example.se"):
        assert set(_states(fakes, email).values()) <= {"active", "subscribed"}, email
    # each provider holds the CRM's own signed unsubscribe link
    stored = json.dumps(fakes["brevo"].contacts["a@example.se"])
    unsub = re.search(r"http://localhost(/u/[^\"]+)", stored).group(1)

    # 1. unsubscribe through the signed link -> sync -> unsubscribed at all three
    assert app.test_client().post(unsub, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    code, out = _sync(app)
    assert code == 0, out
    with db() as s:
        ops = [(o.provider, o.op, o.status) for o in s.scalars(select(OutboxOp))]
    assert _states(fakes, "a@example.se") == dict.fromkeys(SECRETS, "unsubscribed"), (ops, out)

    # 2. unsubscribe at one provider's side -> sync -> unsubscribed locally and at the others
    fakes["mailchimp"].contacts["b@example.se"]["status"] = "unsubscribed"
    code, out = _sync(app)
    assert code == 0, out
    assert _status(db, "b@example.se") == "unsubscribed"
    with db() as s:
        b_id = s.scalar(select(Person.id).where(Person.email == "b@example.se"))
    page = owner_page(app, f"/people/{b_id}")
    assert page.count("avslutad") >= 3 and "Mailchimp" in page
    assert _states(fakes, "b@example.se") == dict.fromkeys(SECRETS, "unsubscribed")

    # 3. erase -> sync -> forgotten at all three; the address is scrubbed from the outbox
    with app.app_context():
        s = get_session()
        assert (
            privacy_forget.forget(s, newsletter_common.find_person(s, "c@example.se"), Actor.cli())
            == "erased"
        )
        s.commit()
    code, out = _sync(app)
    assert code == 0, out
    assert _states(fakes, "c@example.se") == dict.fromkeys(SECRETS)
    assert all("c@example.se" in fake.forgotten for fake in fakes.values())
    with db() as s:
        assert s.scalar(select(func.count()).where(OutboxOp.email.is_not(None))) == 0

    # 4. re-import is refused, and later runs resubscribe nobody
    result = app.test_cli_runner().invoke(args=["import-subscribers", str(tmp_path / "lista.csv")])
    assert "new 0" in result.output and "skipped suppressed 3" in result.output
    assert _sync(app)[0] == 0
    with db() as s:
        ops = [(o.provider, o.op, o.status, o.last_error) for o in s.scalars(select(OutboxOp))]
    assert _states(fakes, "a@example.se") == dict.fromkeys(SECRETS, "unsubscribed"), (ops, out)
    assert _states(fakes, "c@example.se") == dict.fromkeys(SECRETS)


@pytest.mark.parametrize(
    "faults",
    [
        [429, 429],
        [(429, {"Retry-After": "1"})] * 2,
        [500, 503],
        ["timeout", "timeout"],
        ["reset", "reset"],
        ["badjson", "badjson"],
    ],
)
def test_faults_leave_work_pending_and_the_next_run_finishes(app, db, fakes, tmp_path, faults):
    _import(app, tmp_path, [f"p{i}@example.se" for i in range(5)])
    for fake in fakes.values():
        fake.stall = 1.5
        fake.faults = list(faults) * 2  # enough to defeat the pull's and the push's retries
    code, out = _sync(app)
    assert code == 1 and "FAILED" in out, out
    with db() as s:
        pending = s.scalar(select(func.count()).where(OutboxOp.status == "pending"))
        assert pending == 15  # nothing lost
        # the next night: the provider is fine again and the back-off has passed
        s.execute(OutboxOp.__table__.update().values(next_attempt_at=utcnow()))
        s.commit()
    for fake in fakes.values():
        fake.faults = []
    code, out = _sync(app)
    assert code == 0, out
    for i in range(5):
        assert set(_states(fakes, f"p{i}@example.se").values()) <= {"active", "subscribed"}


def test_partial_batch_failure_is_retried_for_that_address_only(app, db, fakes, tmp_path):
    _import(app, tmp_path, ["ok@example.se", "invalid@example.se"])
    code, out = _sync(app)
    assert code == 1, out  # MailerLite refused one address
    assert fakes["mailerlite"].status("ok@example.se") == "active"
    with db() as s:
        failing = s.scalars(select(OutboxOp).where(OutboxOp.status == "pending")).all()
    assert [(op.provider, op.attempts) for op in failing] == [("mailerlite", 1)]
    assert "422" in failing[0].last_error
    # the owner sees what failed, for whom (a link to the person) and why
    page = owner_page(app, "/integrations/")
    card = page[page.index('id="provider-mailerlite"') :]
    person = f'href="/people/{failing[0].person_id}">person {failing[0].person_id}</a>'
    assert "lägga till eller uppdatera · <a " + person in card and "422" in card


def test_webhooks(app, db, fakes, tmp_path, client):
    _import(app, tmp_path, ["w@example.se", "x@example.se"])
    assert _sync(app)[0] == 0
    body = json.dumps(
        {"type": "subscriber.unsubscribed", "id": "evt-1", "data": {"email": "w@example.se"}}
    ).encode()
    signature = hmac.new(b"ml-secret", body, hashlib.sha256).hexdigest()
    bad = client.post(
        "/webhooks/mailerlite",
        data=body,
        headers={"Signature": "0" * 64},
        content_type="application/json",
    )
    assert bad.status_code == 403 and _status(db, "w@example.se") == "active"
    ok = client.post(
        "/webhooks/mailerlite",
        data=body,
        headers={"Signature": signature},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json == {"stored": 1, "applied": 1}
    assert _status(db, "w@example.se") == "unsubscribed"
    again = client.post(
        "/webhooks/mailerlite",
        data=body,
        headers={"Signature": signature},
        content_type="application/json",
    )
    assert again.json == {"stored": 0, "applied": 0}  # providers retry: idempotent
    assert client.get("/webhooks/mailchimp").status_code == 200  # Mailchimp's URL check
    form = "type=unsubscribe&data%5Bemail%5D=x%40example.se"
    assert (
        client.post(
            "/webhooks/mailchimp?secret=nope",
            data=form,
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/webhooks/mailchimp?secret=mc-token",
            data=form,
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 200
    )
    assert _status(db, "x@example.se") == "unsubscribed"
    assert client.post("/webhooks/paloma", data=b"{}").status_code == 404
    assert _sync(app)[0] == 0  # the webhook unsubscribes reach the other providers
    assert fakes["brevo"].status("w@example.se") == "unsubscribed"
    assert fakes["mailerlite"].status("x@example.se") == "unsubscribed"


def test_bounces_and_complaints_suppress_and_reach_the_other_providers(
    app, db, fakes, tmp_path, client
):
    """Each provider's way of saying "bounced" or "complained" ends the subscription here.

    The address is suppressed with that reason, the subscription is counted as ended in the
    month figures (it has an end time), and the other providers are told to unsubscribe.
    """
    emails = [f"{n}@example.se" for n in ("ml-bounce", "ml-junk", "mc-clean", "mc-abuse", "br")]
    _import(app, tmp_path, emails)
    assert _sync(app)[0] == 0
    now = utcnow()
    for email, status in (("ml-bounce@example.se", "bounced"), ("ml-junk@example.se", "junk")):
        contact = fakes["mailerlite"].contacts[email]
        contact["status"], contact["updated_at"] = status, f"{now:%Y-%m-%d %H:%M:%S}"
    fakes["mailchimp"].contacts["mc-clean@example.se"]["status"] = "cleaned"
    fakes["mailchimp"].abuse_reports.append(
        {"id": 41, "email_address": "mc-abuse@example.se", "date": now.isoformat()}
    )
    hook = client.post(
        "/webhooks/brevo",
        json={"event": "hard_bounce", "email": "br@example.se", "id": 9, "date": now.isoformat()},
        headers={"Authorization": "Bearer br-token"},
    )
    assert hook.status_code == 200 and hook.json == {"stored": 1, "applied": 1}

    code, out = _sync(app)
    assert code == 0, out
    expected = {
        "ml-bounce@example.se": ("bounced", "mailerlite"),
        "ml-junk@example.se": ("complained", "mailerlite"),
        "mc-clean@example.se": ("bounced", "mailchimp"),
        "mc-abuse@example.se": ("complained", "mailchimp"),
        "br@example.se": ("bounced", "brevo"),
    }
    with app.app_context():
        s = get_session()
        for email, (status, source) in expected.items():
            sub = s.scalar(select(Subscription).join(Person).where(Person.email == email))
            assert (sub.status, sub.unsubscribed_at is not None) == (status, True), email
            assert suppression.reasons(s, email) == [status], email
            for name, fake in fakes.items():
                if name != source:
                    assert fake.status(email) == "unsubscribed", (email, name)
        assert stats.active_now(s) == 0
    result = app.test_cli_runner().invoke(args=["import-subscribers", str(tmp_path / "lista.csv")])
    assert "new 0" in result.output and "skipped suppressed 5" in result.output


def test_integrations_page_and_retry(app, auth_client, fakes, tmp_path):
    _import(app, tmp_path, ["r@example.se"])
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert "Väntar på att skickas: 1" in page

    fakes["mailerlite"].stall = 0.5  # under the adapter's timeout: slow, but answered
    fakes["mailerlite"].faults.append("slow")
    response = post_form(auth_client, "/integrations/retry", {}, page="/integrations/")
    assert response.status_code == 302
    # the page answered while the sync still waits for MailerLite: it runs in a thread
    assert app.extensions["crm.sync_thread"].is_alive()
    app.extensions["crm.sync_thread"].join(timeout=60)
    page = auth_client.get("/integrations/").get_data(as_text=True)
    assert "Synkroniseringen har startat" in page
    assert 'id="sync-runs"' in page and "Väntar på att skickas: 0" in page
    assert "klar" in page[page.index('id="sync-runs"') :]
    with app.app_context():
        actions = get_session().scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions.index("sync.requested") < actions.index("sync.run")  # who asked, then the run


def test_sync_button_while_another_sync_runs(app, auth_client, fakes, tmp_path):
    """The button says so at once when the nightly job holds the lock, and starts nothing."""
    _import(app, tmp_path, ["r@example.se"])
    with app.app_context():
        with lock.sync_lock():  # as the nightly job would
            s = get_session()
            s.add(SyncRun(trigger="cli"))  # its run row, not finished yet
            s.commit()
            post_form(auth_client, "/integrations/retry", {}, page="/integrations/")
            app.extensions["crm.sync_thread"].join(timeout=60)
            page = auth_client.get("/integrations/").get_data(as_text=True)
        assert "En synkronisering pågår redan" in page
        assert "inte klar: pågår eller avbröts" in page
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 1  # nothing else ran
    assert "Väntar på att skickas: 1" in auth_client.get("/integrations/").get_data(as_text=True)


def _subprocess_env(app, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        {
            "CRM_DATABASE_URL": app.config["DATABASE_URL"],
            "CRM_SECRET_KEY": TEST_SECRET,
            "CRM_ENCRYPTION_KEY": TEST_KEY,
            "CRM_INSTANCE_PATH": str(tmp_path / "inst"),
            "CRM_BASE_URL": "http://localhost",
            "CRM_SYNC_TIMEOUT": "5",
        }
    )
    for key in ("API_KEY", "GROUP_ID", "LIST_ID", "BASE_URL"):
        for name in SECRETS:
            value = app.config.get(f"{name.upper()}_{key}")
            if value:
                env[f"CRM_{name.upper()}_{key}"] = str(value)
    return env


def _start(env) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "crm"), "sync"],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_run_loses_nothing_and_a_second_run_exits_at_once(app, db, fakes, tmp_path):
    _ready(app)
    _import(app, tmp_path, [f"k{i}@example.se" for i in range(120)])
    for fake in fakes.values():
        fake.stall = 1.0
        fake.faults = ["slow"] * 200
    env = _subprocess_env(app, tmp_path)
    first = _start(env)
    for line in first.stderr:  # wait until it is pushing
        if "pushing" in line:
            break
    # The first run must still be pushing when the second one starts: on a loaded two-core
    # machine a second `crm sync` took 9 s to start, after eight 1 s stalls had ended the first.
    # From here on each request stalls 5 s; the first run is killed once the second has exited.
    for fake in fakes.values():
        fake.stall = 5.0
    second = _start(env)
    out, err = second.communicate(timeout=30)
    assert second.returncode == 75 and "Another sync is running" in err
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    for fake in fakes.values():
        fake.faults = []
    again = _start(env)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    for i in range(120):
        assert set(_states(fakes, f"k{i}@example.se").values()) <= {"active", "subscribed"}
    with db() as s:
        assert s.scalar(select(func.count()).where(OutboxOp.status == "pending")) == 0


def test_nightly_script(app, db, fakes, tmp_path):
    _ready(app)
    _import(app, tmp_path, ["n@example.se"])
    env = _subprocess_env(app, tmp_path)
    result = subprocess.run(
        [sys.executable, "scripts/nightly_sync.py"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK in" in result.stdout and "retention:" in result.stdout
    assert fakes["brevo"].status("n@example.se") == "active"
    with db() as s:  # the dashboard's closed months were recorded (five before this one)
        assert s.scalar(select(func.count()).select_from(SubscriberMonth)) == 5


def test_sync_without_providers_says_so(app):
    code, out = _sync(app)
    assert code == 0 and "No mail provider is configured" in out


def test_providers_for_sees_a_link_added_in_the_same_transaction(app):
    """An unsubscribe or erasure right after a link was made must still reach that provider."""
    with app.app_context():
        s = get_session()
        person = Person(name="Ny Länk", email="ny@example.se")
        s.add(person)
        s.flush()
        s.add(outbox.ProviderLink(person_id=person.id, provider="mailchimp"))  # not flushed
        assert outbox.providers_for(s, person.id) == {"mailchimp"}
        s.rollback()


def test_integrations_page_says_which_settings_are_missing(app, auth_client):
    """An "off" provider names the settings that switch it on; a key without its list warns."""
    app.config["MAILCHIMP_API_KEY"] = "key-us1"  # a key, but no audience id
    app.config["BREVO_API_KEY"], app.config["BREVO_LIST_ID"] = "key", "7"
    page = auth_client.get("/integrations/").get_data(as_text=True)

    def card(name: str) -> str:
        start = page.index(f'id="provider-{name}"')
        return page[start : page.index("</section>", start)]

    assert "av: ingen API-nyckel" in card("mailerlite")
    # in words, not environment variable names (issue 16 defect 7)
    assert "Saknas: API-nyckeln och gruppens id." in card("mailerlite")
    assert "inställningar ofullständiga" in card("mailchimp")
    assert "Saknas: målgruppens id." in card("mailchimp")
    assert "API-nyckeln" not in card("mailchimp").split("Saknas:")[1]
    assert ">på<" in card("brevo") and "Saknas" not in card("brevo")
    assert "CRM_" not in page


def test_restriction_takes_people_out_of_audiences_reversibly(app, db, fakes, tmp_path):
    _import(app, tmp_path, ["r@example.se"])
    assert _sync(app)[0] == 0
    with app.app_context():
        s = get_session()
        rights.restrict(s, newsletter_common.find_person(s, "r@example.se"), Actor.cli())
        s.commit()
    assert _sync(app)[0] == 0
    assert "7" not in fakes["mailerlite"].contacts["r@example.se"]["groups"]
    assert fakes["mailchimp"].status("r@example.se") == "archived"
    assert 7 not in fakes["brevo"].contacts["r@example.se"]["listIds"]
    assert _status(db, "r@example.se") == "active"  # restricted, not unsubscribed
    with app.app_context():
        s = get_session()
        rights.lift_restriction(
            s, newsletter_common.find_person(s, "r@example.se"), "rättat", Actor.cli()
        )
        s.commit()
    code, out = _sync(app)
    with db() as s:
        ops = [(o.provider, o.op, o.status) for o in s.scalars(select(OutboxOp))]
    assert code == 0, out
    assert "7" in fakes["mailerlite"].contacts["r@example.se"]["groups"], (ops, out)
    assert fakes["mailchimp"].status("r@example.se") == "subscribed"
    assert 7 in fakes["brevo"].contacts["r@example.se"]["listIds"]
    assert fakes["mailerlite"].status("r@example.se") == "active"
