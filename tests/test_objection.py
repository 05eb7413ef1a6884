"""Art. 21(1) objections (issue 14 part 7): named, stopped at once unless grounds, a request.

Also the migrations of issue 14 parts 5 and 7: a practice upgrading keeps its requests (free
text identity methods included) and gets the new table and columns empty.
"""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import select
from sqlalchemy import text

from crm.audit import Actor
from crm.cli import alembic_config
from crm.db import make_engine
from crm.db import utcnow
from crm.newsletter.models import Subscription
from crm.people.models import Person
from crm.privacy import data_requests as requests
from crm.privacy.models import DataRequest
from tests.helpers import post_form
from tests.test_migrations import empty_url  # noqa: F401 - a fixture
from tests.test_migrations import insert_old_controller

EMAIL = "otto@example.se"


def _person(app) -> int:
    with app.app_context():
        from crm.db import get_session
        from crm.newsletter import mailing_lists
        from crm.newsletter import subscribing
        from crm.people import services as people

        s = get_session()
        person = people.create_person(
            s, people.PersonData(name="Otto Objekt", email=EMAIL), Actor.cli()
        )
        subscribing.add_manual(
            s,
            email=EMAIL,
            name="Otto Objekt",
            list_id=mailing_lists.default_list(s).id,
            method="verbal",
            note="",
            actor=Actor.cli(),
        )
        s.commit()
        return person.id


def _objection(db, pid: int) -> DataRequest:
    with db() as s:
        row = s.scalar(select(DataRequest).where(DataRequest.person_id == pid))
        s.expunge(row)
        return row


def test_an_objection_names_the_processing_stops_it_and_is_a_request(app, db, auth_client):
    pid = _person(app)
    person_page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert "Registrera invändning" in person_page
    form = auth_client.get(f"/privacy/people/{pid}/objection").get_data(as_text=True)
    assert 'name="processing"' in form and "Registrera invändning" in form
    before = utcnow()
    response = post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {"confirmed": "yes", "processing": "client_follow_up", "channel": "phone"},
    )
    assert response.status_code == 302
    row = _objection(db, pid)
    assert (row.kind, row.processing, row.channel, row.status) == (
        "objection",
        "client_follow_up",
        "phone",
        "open",
    )
    assert row.stopped_at is not None and row.stopped_at >= before - timedelta(seconds=1)
    assert row.due_at == requests.add_months(row.received_at, 1)
    page = auth_client.get(f"/people/{pid}").get_data(as_text=True)
    assert 'id="objections-in-force"' in page and "Kontakt efter att klientrelationen" in page
    detail = auth_client.get(f"/privacy/requests/{row.id}").get_data(as_text=True)
    assert 'id="objection-stopped"' in detail and 'id="objection-ground-form"' in detail
    # the newsletter is a different processing: it goes on
    with db() as s:
        assert s.scalar(select(Subscription.status)) == "active"
    # grounds recorded later, the request refused with them: the stop no longer stands
    post_form(
        auth_client,
        f"/privacy/requests/{row.id}/ground",
        {"gr-ground": "Uppföljningen krävs av försäkringsavtalet"},
        page=f"/privacy/requests/{row.id}",
    )
    post_form(
        auth_client,
        f"/privacy/requests/{row.id}/refuse",
        {"no-text": "Uppföljningen krävs av försäkringsavtalet"},
        page=f"/privacy/requests/{row.id}",
    )
    assert 'id="objections-in-force"' not in auth_client.get(f"/people/{pid}").get_data(
        as_text=True
    )


def test_recorded_compelling_grounds_keep_the_processing_going(app, db, auth_client):
    pid = _person(app)
    post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {
            "confirmed": "yes",
            "processing": "other",
            "other": "Fotografering i väntrummet",
            "channel": "in_person",
            "ground": "Kameraövervakning efter inbrott, beslut från försäkringsbolaget",
        },
    )
    row = _objection(db, pid)
    assert row.processing == "Fotografering i väntrummet" and row.stopped_at is None
    assert row.compelling_ground.startswith("Kameraövervakning")
    assert 'id="objections-in-force"' not in auth_client.get(f"/people/{pid}").get_data(
        as_text=True
    )


def test_direct_marketing_always_stops_and_takes_no_grounds(app, db, auth_client):
    pid = _person(app)
    refused = post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {
            "confirmed": "yes",
            "processing": "direct_marketing",
            "channel": "email",
            "ground": "Vi vill ju sälja",
        },
    )
    assert refused.status_code == 422 and "utan undantag" in refused.get_data(as_text=True)
    assert 'id="confirm-error"' in refused.get_data(as_text=True)
    missing = post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {"confirmed": "yes", "processing": "direct_marketing", "channel": "fax"},
    )
    assert missing.status_code == 422 and 'class="error"' in missing.get_data(as_text=True)
    with db() as s:
        assert s.scalar(select(DataRequest)) is None
    post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {"confirmed": "yes", "processing": "direct_marketing", "channel": "email"},
    )
    row = _objection(db, pid)
    assert row.stopped_at is not None
    with db() as s:
        assert s.get(Person, pid).marketing_objection_at is not None
        assert s.scalar(select(Subscription.status)) == "unsubscribed"


def test_another_processing_must_be_named_and_the_form_keeps_what_was_typed(app, db, auth_client):
    pid = _person(app)
    response = post_form(
        auth_client,
        f"/privacy/people/{pid}/objection",
        {"confirmed": "yes", "processing": "other", "other": "  ", "channel": "letter"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Ange vilken behandling" in html
    assert '<option selected value="letter">' in html or 'value="letter" selected' in html
    with db() as s:
        assert s.scalar(select(DataRequest)) is None


def test_identity_and_objection_migrations_keep_every_request(empty_url):  # noqa: F811
    """A practice upgrading keeps its requests; the identity table and new columns start empty."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "7c4e1a9f3b62")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        insert_old_controller(conn, "'2025-01-01 00:00:00+00:00'", name="P")
        conn.execute(
            text(
                "INSERT INTO person (public_id, name, email, controller_id, created_at, "
                "updated_at) VALUES ('pub1', 'Ada', 'ada@example.se', 1, "
                "'2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO data_request (person_id, controller_id, kind, channel, status, "
                "received_at, due_at, identity_method, identity_verified_at) VALUES "
                "(1, 1, 'objection', 'email', 'open', '2025-01-02 00:00:00+00:00', "
                "'2025-02-02 00:00:00+00:00', 'känd e-postadress', '2025-01-03 00:00:00+00:00')"
            )
        )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT kind, identity_method, processing, stopped_at, compelling_ground "
                "FROM data_request"
            )
        ).one()
        checks = conn.execute(text("SELECT count(*) FROM identity_check")).scalar()
    assert tuple(row) == ("objection", "känd e-postadress", None, None, None)
    assert checks == 0
    command.downgrade(cfg, "7c4e1a9f3b62")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT identity_method FROM data_request")).scalar() == (
            "känd e-postadress"
        )
    engine.dispose()


def test_crm_objection_registers_a_request_and_stops_the_processing(app, db):
    pid = _person(app)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["objection", EMAIL, "--processing", "other"])
    assert refused.exit_code != 0 and "Name the processing" in refused.output
    result = runner.invoke(
        args=["objection", EMAIL, "--processing", "service_development", "--channel", "letter"]
    )
    assert result.exit_code == 0, result.output
    assert "stopped now" in result.output
    row = _objection(db, pid)
    assert (row.processing, row.channel) == ("service_development", "letter")
    assert row.stopped_at is not None and row.status == "open"
