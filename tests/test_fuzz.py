"""Property-based fuzzing (hypothesis) of every route and of the parsers.

Garbage in paths, forms, tokens, CSV files, webhook bodies and uploads must give a clear 4xx
(or a normal page), never a 500 and never a changed database.
"""

from __future__ import annotations

import re
import shutil
import string

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from crm.audit import Actor
from crm.newsletter import importer
from crm.security import tokens
from crm.testimonials import media
from tests.helpers import csrf_token

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=40)


def _fill(rule, value: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", lambda m: "1" if "int:" in m.group(0) else value, rule.rule)


@FUZZ
@given(value=SEGMENT)
def test_no_route_errors_on_garbage_path_values(app, auth_client, value):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        response = auth_client.get(_fill(rule, value))
        assert response.status_code < 500, (rule.rule, value)


@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "email",
                "phone",
                "personnummer",
                "text",
                "kind",
                "channel",
                "received_on",
                "lists",
                "consent",
                "method",
                "note",
                "card-client_since",
                "card-art9_basis",
                "visit-visited_on",
                "ext-months",
                "ret-journal",
                "profile",
                "q",
                "page",
            ]
        ),
        TEXT,
        max_size=6,
    )
)
def test_no_owner_post_errors_on_garbage_form_values(app, auth_client, data):
    token = csrf_token(auth_client.get("/people/new").get_data(as_text=True))
    for rule in app.url_map.iter_rules():
        # not the owner's own account (it would log the fuzzer out) nor a live sync
        if "POST" not in rule.methods or rule.endpoint.startswith(("auth.", "sync.")):
            continue
        response = auth_client.post(_fill(rule, "x"), data={"csrf_token": token, **data})
        assert response.status_code < 500, (rule.rule, data)


@FUZZ
@given(body=st.binary(max_size=300), token=SEGMENT)
def test_public_posts_survive_garbage(app, client, body, token):
    for path in (f"/u/{token}", "/subscribe", f"/t/revoke/{token}", f"/confirm/{token}"):
        for kind in (
            "application/x-www-form-urlencoded",
            "application/json",
            "multipart/form-data; boundary=x",
        ):
            assert client.post(path, data=body, content_type=kind).status_code < 500


@FUZZ
@given(
    body=st.binary(max_size=300),
    signature=st.text(alphabet=string.ascii_letters + string.digits + "+/=-_ ", max_size=80),
)
def test_webhooks_reject_garbage(app, client, body, signature):
    app.config.update(
        MAILERLITE_API_KEY="k",
        MAILERLITE_GROUP_ID="1",
        MAILERLITE_WEBHOOK_SECRET="s",
        BREVO_API_KEY="k",
        BREVO_LIST_ID="1",
        BREVO_WEBHOOK_SECRET="s",
        MAILCHIMP_API_KEY="k-us1",
        MAILCHIMP_LIST_ID="1",
        MAILCHIMP_WEBHOOK_SECRET="s",
    )
    headers = {
        "Signature": signature.encode("ascii", "ignore").decode(),
        "Authorization": "Bearer nope",
    }
    for provider in ("mailerlite", "mailchimp", "brevo"):
        response = client.post(f"/webhooks/{provider}?secret=nope", data=body, headers=headers)
        assert response.status_code == 403


@FUZZ
@given(data=st.binary(max_size=2000))
def test_csv_import_never_crashes(app, db, data):
    with db() as s:
        try:
            importer.run(s, data, default_method="verbal", actor=Actor.cli(), dry_run=True)
        except importer.ImportFileError:
            pass
        s.rollback()


@FUZZ
@given(data=st.binary(max_size=4000))
def test_uploads_never_crash(app, data):
    with app.app_context():
        try:
            media.accept(data)
        except media.MediaError:
            pass


@pytest.mark.parametrize(
    "prefix", [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]
)
@FUZZ
@given(rest=st.binary(max_size=2000))
def test_fake_images_are_refused_not_crashing(app, prefix, rest):
    with app.app_context():
        with pytest.raises(media.MediaError):
            media.accept(prefix + rest)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (CI installs it)")
@pytest.mark.parametrize(
    "prefix",
    [
        b"ID3\x03\x00",
        b"OggS\x00",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"\x00\x00\x00\x18ftypisom",
        b"\x00\x00\x00\x18ftypM4A ",
        b"\x1a\x45\xdf\xa3",
    ],
)
@settings(FUZZ, max_examples=15)  # each example starts ffmpeg
@given(rest=st.binary(max_size=2000))
def test_fake_audio_and_video_never_crash(app, prefix, rest):
    """Garbage behind a real magic number: ffmpeg refuses it clearly, never a crash."""
    with app.app_context():
        try:
            clean = media.accept(prefix + rest)
        except media.MediaError:
            return
        assert media.sniff(clean.data[:16]) == (clean.kind, clean.mime)


@FUZZ
@given(garbage=st.text(max_size=200), purpose=st.sampled_from(list(tokens.Purpose)))
def test_verify_refuses_arbitrary_strings_with_invalid_token(app, garbage, purpose):
    """Any string ends in InvalidToken, never another exception.

    Views turn InvalidToken into a clear 400/404; anything else would surface as a 500.
    """
    with app.app_context():
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(purpose, garbage)


@FUZZ
@given(
    payload=st.one_of(st.integers(), st.text(max_size=30), st.lists(st.integers(), max_size=3)),
    purpose=st.sampled_from(list(tokens.Purpose)),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(string.ascii_letters + string.digits + "-_."),
)
def test_every_single_character_change_is_refused(app, payload, purpose, position, replacement):
    with app.app_context():
        token = tokens.sign(purpose, payload)
        assert tokens.verify(purpose, token) == payload
        index = position % len(token)
        if token[index] == replacement:
            return
        altered = token[:index] + replacement + token[index + 1 :]
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(purpose, altered)
        other = next(p for p in tokens.Purpose if p is not purpose)
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(other, token)
