"""Route sweep and HTTP hardening: login everywhere, CSRF on every POST, headers, error pages."""

from __future__ import annotations

import re

import pytest

from crm import create_app
from crm.web import csrf
from tests.conftest import app_config
from tests.helpers import login
from tests.helpers import post_form

#: The routes anyone may reach. Adding one here is a decision; this test makes it visible.
PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.mfa_verify",
    "auth.mfa_setup",
    "auth.setup",
    "main.set_language",
    "public.subscribe",
    "public.confirm",
    "public.unsubscribe",
    "public.preferences_link",
    "public.preferences",
    "public.preferences_data",
    "privacy_public.forget",
    "privacy_public.policy",
    "privacy_public.policy_version",
    "privacy_public.export",
    # the privacy portal: a normal form with a CSRF token, rate-limited, never disclosing
    "privacy_public.portal_form",
    "privacy_public.portal_confirm",
    "privacy_public.portal_status",
    "privacy_public.portal_sent",
    "privacy_public.portal_confirmed",
    "testimonials_public.consent",
    "testimonials_public.consent_media",
    "testimonials_public.revoke",
    "testimonials_public.embed",
    "testimonials_public.embed_json",
    "testimonials_public.embed_media",
    "sync.webhook",
}

#: Public POSTs that cannot carry a CSRF token: a mail client's RFC 8058 one-click POST, the
#: sign-up form embedded on the practice's own website, and the testimonial revoke button
#: (withdrawing must work from any browser), and provider webhooks. Each is authorised
#: otherwise (signed token; double opt-in; provider signature or token).
CSRF_EXEMPT = {
    "public.subscribe",
    "public.unsubscribe",
    "public.preferences_link",
    "testimonials_public.revoke",
    "sync.webhook",
}


def _concrete(rule) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_public_routes_are_exactly_the_documented_list(app):
    public = {ep for ep, view in app.view_functions.items() if getattr(view, "is_public", False)}
    assert public | {"static"} == PUBLIC_ENDPOINTS


def test_every_owner_route_sends_anonymous_users_to_login(app, client):
    checked = 0
    for rule in _rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(_concrete(rule), method=method)
            assert response.status_code == 302, (rule.rule, method)
            assert response.headers["Location"].startswith("/auth/login"), rule.rule
            checked += 1
    assert checked >= 15


def test_csrf_exemptions_are_exactly_the_documented_list(app):
    exempt = {view for view in csrf._exempt_views}
    assert {name.rsplit(".", 1)[-1] for name in exempt} == {e.split(".", 1)[1] for e in CSRF_EXEMPT}


def test_every_post_without_csrf_token_is_refused(app, client, owner):
    login(client, app, owner)
    checked = 0
    for rule in _rules(app):
        if "POST" not in rule.methods or rule.endpoint in CSRF_EXEMPT:
            continue
        response = client.post(_concrete(rule), data={"name": "x", "email": "x@example.se"})
        assert response.status_code == 400, rule.rule
        checked += 1
    assert checked >= 12
    assert client.get("/people/").status_code == 200  # still logged in: nothing happened


def test_security_headers(app, client):
    response = client.get("/auth/login")
    h = response.headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert "'unsafe-inline'" not in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "same-origin"
    assert h["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in h  # plain HTTP in this test app


def test_pages_have_no_inline_script_or_external_requests(app, auth_client):
    for url in ("/", "/people/", "/people/new", "/audit", "/auth/account", "/auth/users"):
        body = auth_client.get(url).get_data(as_text=True)
        assert "<script" not in body, url
        assert not re.search(r'(src|href)="(https?:)?//', body), url
        assert " style=" not in body, url


def test_https_deployment_gets_hsts_and_secure_host_cookie(database_url):
    app = create_app(app_config(database_url, BASE_URL="https://crm.example.se"))
    client = app.test_client()
    response = client.get("/auth/login", base_url="https://crm.example.se")
    assert "max-age=63072000" in response.headers["Strict-Transport-Security"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-crm_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["crm.db"]["engine"].dispose()


def test_error_pages_leak_nothing(database_url):
    app = create_app(app_config(database_url, PROPAGATE_EXCEPTIONS=False))

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    boom.is_public = True
    client = app.test_client()
    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in body and "Traceback" not in body
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Werkzeug" not in missing.get_data(as_text=True)
    app.extensions["crm.db"]["engine"].dispose()


@pytest.mark.parametrize("url", ["/people/abc", "/people/1/reveal", "/auth/setup/%00"])
def test_garbage_paths_do_not_error(app, auth_client, url):
    assert auth_client.get(url).status_code in (302, 404, 405)


def test_nul_characters_in_queries_and_forms_get_400(app, auth_client, client):
    """PostgreSQL cannot hold NUL in text: refused up front, not a 500 inside a query."""
    assert auth_client.get("/people/", query_string={"q": "a\x00b"}).status_code == 400
    assert post_form(auth_client, "/people/", {"q": "\x00"}, page="/people/").status_code == 400
    assert client.post("/subscribe", data={"email": "a\x00@example.se"}).status_code == 400
    assert auth_client.get("/people/", query_string={"q": "anna"}).status_code == 200
