"""A failed form shows its page again with the error in place (issue 16, defects 2 and 6).

The class: a view must never answer a failed form with a redirect (the browser shows a raw
"Redirecting..." page when the redirect carries an error status, and a plain redirect drops what
was typed and moves the error into a banner away from its field). The static test walks every
module in crm/; the view tests check real pages.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from crm.people.models import Person
from crm.testimonials.models import Testimonial
from tests.conftest import csrf_token
from tests.conftest import post_form

CRM = Path(__file__).resolve().parent.parent / "crm"


def _redirecting_functions(tree: ast.Module) -> set[str]:
    """Names of the module's functions that return a ``redirect(...)``."""
    found = {"redirect"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and _calls(ret.value, {"redirect"}):
                    found.add(node.name)
    return found


def _calls(node: ast.AST | None, names: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name in names


def _is_form_check(test: ast.expr) -> bool:
    """``not form.validate_on_submit()`` on a form with fields (not a bare button form)."""
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
        return False
    call = test.operand
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "validate_on_submit"
        and isinstance(call.func.value, ast.Name)  # a named form; ButtonForm() is a call
    )


def violations() -> list[str]:
    """Every place in crm/ that answers a failed form with a redirect."""
    found = []
    for path in sorted(CRM.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        redirecting = _redirecting_functions(tree)
        where = path.relative_to(CRM.parent)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Tuple)
                and len(node.value.elts) >= 2
                and isinstance(node.value.elts[1], ast.Constant)
                and isinstance(node.value.elts[1].value, int)
                and node.value.elts[1].value >= 400
                and _calls(node.value.elts[0], redirecting)
            ):
                found.append(f"{where}:{node.lineno}: a redirect with an error status")
            if isinstance(node, ast.If) and _is_form_check(node.test):
                for stmt in node.body:
                    if isinstance(stmt, ast.Return) and _calls(stmt.value, redirecting):
                        found.append(f"{where}:{stmt.lineno}: a failed form redirects")
    return found


def test_no_failed_form_is_answered_with_a_redirect() -> None:
    assert violations() == []


def test_the_static_check_finds_the_old_pattern(tmp_path: Path) -> None:
    """The walker would have caught ``return _back(t), 422`` (so the test above can fail)."""
    source = (
        "def _back(t):\n    return redirect('/x')\n"
        "def upload():\n    if not form.validate_on_submit():\n        return _back(1), 422\n"
    )
    tree = ast.parse(source)
    assert "_back" in _redirecting_functions(tree)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.If))
    assert _is_form_check(node.test)


# --- the pages themselves ---------------------------------------------------------------------


def _testimonial(db) -> int:
    with db() as s:
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.flush()
        t = Testimonial(person=person, text="Det hjälpte mig.", display_mode="first_name")
        s.add(t)
        s.commit()
        return t.id


def test_a_bad_upload_shows_the_page_with_the_error_at_the_field(app, auth_client, db):
    tid = _testimonial(db)
    page = auth_client.get(f"/testimonials/{tid}").get_data(as_text=True)
    response = auth_client.post(
        f"/testimonials/{tid}/media",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(b"not an image"), "x.jpg")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Redirecting" not in html and "<h1>" in html
    assert 'aria-invalid="true"' in html and 'id="file-err"' in html


def test_a_missing_file_is_an_error_at_the_field(app, auth_client, db):
    tid = _testimonial(db)
    response = post_form(auth_client, f"/testimonials/{tid}/media", {}, page=f"/testimonials/{tid}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="file-err"' in html


def test_a_bad_edit_keeps_the_other_forms_empty_and_shows_its_error(app, auth_client, db):
    tid = _testimonial(db)
    response = post_form(
        auth_client,
        f"/testimonials/{tid}/edit",
        {"edit-text": "", "edit-display_mode": "initials"},
        page=f"/testimonials/{tid}",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="edit-text-err"' in html
    assert 'selected value="initials"' in html  # what was chosen is kept


@pytest.mark.parametrize(
    ("path", "data", "error_id", "kept"),
    [
        (
            "extend",
            {"ext-months": "7", "ext-reason": "Mycket material"},
            "ext-months-err",
            "Mycket",
        ),
        ("refuse", {"no-text": ""}, "no-text-err", ""),
    ],
)
def test_a_failed_request_step_shows_the_request_again(
    app, auth_client, db, path, data, error_id, kept
):
    from crm.privacy import data_requests

    with app.app_context():
        from crm.audit import Actor
        from crm.db import get_session
        from crm.db import utcnow

        s = get_session()
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.flush()
        row = data_requests.open_request(s, person, "access", "email", utcnow(), Actor.system())
        s.commit()
        rid = row.id
    response = post_form(
        auth_client, f"/privacy/requests/{rid}/{path}", data, page=f"/privacy/requests/{rid}"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{error_id}"' in html
    assert kept in html


def test_a_hold_without_a_date_is_shown_on_the_person_page(app, auth_client, db):
    """A privacy form on the people page: shown again there, by the people page's own view."""
    with db() as s:
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.commit()
        pid = person.id
    response = post_form(
        auth_client,
        f"/privacy/people/{pid}/holds",
        {"kind": "legal_claim", "until": "", "note": "Tvist om faktura"},
        page=f"/people/{pid}",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="until-err"' in html
    assert 'value="Tvist om faktura"' in html and 'selected value="legal_claim"' in html


def test_a_visit_without_a_date_is_shown_again(app, auth_client, db):
    with db() as s:
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.commit()
        pid = person.id
    response = post_form(
        auth_client, f"/people/{pid}/visits", {"visit-visited_on": ""}, page=f"/people/{pid}"
    )
    assert response.status_code == 422
    assert 'id="visit-visited_on-err"' in response.get_data(as_text=True)


def test_a_visit_the_service_refuses_is_shown_again_with_the_date_kept(app, auth_client, db):
    """A future date passes the validators, not the service: the page again, date kept."""
    with db() as s:
        person = Person(name="Karin Klient", email="karin@example.se")
        s.add(person)
        s.commit()
        pid = person.id
    response = post_form(
        auth_client,
        f"/people/{pid}/visits",
        {"visit-visited_on": "2999-01-01"},
        page=f"/people/{pid}",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ett besök kan inte ligga i framtiden." in html and 'value="2999-01-01"' in html
    with db() as s:
        assert s.get(Person, pid).visits == []


def test_the_person_form_shows_every_error_at_its_field_at_once(app, auth_client, db):
    """No name, a taken email and a wrong check digit: three errors, one answer, input kept."""
    with db() as s:
        s.add(Person(name="Anna Andersson", email="anna@example.se"))
        s.commit()
    response = post_form(
        auth_client,
        "/people/new",
        {
            "name": "",
            "email": "Anna@Example.se",
            "phone": "070-123 45 67",
            "personnummer": "811228-9875",
        },
        page="/people/new",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for error_id in ("name-err", "email-err", "personnummer-err"):
        assert f'id="{error_id}"' in html, error_id
    assert "redan den här e-postadressen" in html.split('id="email-err"')[1].split("</div>")[0]
    assert 'value="070-123 45 67"' in html and 'value="Anna@Example.se"' in html
    assert 'class="flash flash-error"' not in html  # nothing only in a banner


def test_a_settings_error_keeps_the_processors_and_shows_every_error_at_its_field(app, auth_client):
    page = auth_client.get("/privacy/settings").get_data(as_text=True)
    data = {
        "name": "Kbt-verkstan",
        "org_number": "123",  # not an organisation number
        "profile": "A",  # without a profession
        "profession": "",
        "id_number_mode": "birth_date",
        "proc-Fortnox": "1",
        "proc-Stripe": "1",
        "other_processors": "Bokadirekt | Bokning | nej |",
        "ret-journal": "12",  # shorter than patientdatalagen allows
    }
    response = auth_client.post("/privacy/settings", data={"csrf_token": csrf_token(page), **data})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for error_id in ("org_number-err", "profession-err", "ret-journal-err"):
        assert f'id="{error_id}"' in html, error_id
    assert 'name="proc-Fortnox" value="1" checked' in html
    assert 'name="proc-Stripe" value="1" checked' in html
    assert 'name="proc-MailerLite" value="1" >' in html  # not ticked: not chosen
    assert "Bokadirekt | Bokning | nej |</textarea>" in html
    assert 'value="Kbt-verkstan"' in html


def test_an_import_refuses_a_consent_date_in_the_future_and_reads_swedish_words(app):
    from datetime import date
    from datetime import timedelta

    from crm.newsletter import importer

    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    text = (
        "e-post;namn;samtycke;datum\n"
        f"a@example.se;Anna;papper;{tomorrow}\n"
        "b@example.se;Bo;muntligt;2025-03-01\n"
        "c@example.se;Cia;kund;\n"
    )
    rows = list(importer.parse(text, "import"))
    assert isinstance(rows[0], importer.RowError) and "future" in rows[0].message
    assert [r.method for r in rows[1:]] == ["verbal", "soft_opt_in"]


def test_a_bad_invitation_is_shown_again_with_the_error_at_the_address(app, auth_client, owner):
    """Not a bare 400 page: the users page, the address kept and the error under it."""
    response = post_form(
        auth_client,
        "/auth/users/invite",
        {"email": "inte-en-adress", "role": "practitioner"},
        page="/auth/users",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="email-err"' in html
    assert 'value="inte-en-adress"' in html
    taken = post_form(
        auth_client,
        "/auth/users/invite",
        {"email": owner.email, "role": "practitioner"},
        page="/auth/users",
    )
    assert taken.status_code == 422
    assert "finns redan" in taken.get_data(as_text=True).split('id="email-err"')[1][:200]
