"""Testimonials: consent per channel and medium, revocation, feed, media safety, tokens."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from crm import create_app
from crm.audit import Actor
from crm.db import get_session
from crm.db import utcnow
from crm.privacy import rights
from crm.security import crypto
from crm.security import tokens
from crm.testimonials import media as media_store
from crm.testimonials import publications
from crm.testimonials import services
from crm.testimonials import services as testimonials
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialConsent
from crm.testimonials.models import TestimonialMedia
from tests.conftest import TEST_KEY
from tests.conftest import app_config
from tests.helpers import csrf_token
from tests.helpers import post_form

CLIENT = "klient@example.se"
XSS = '<script>alert("x")</script> Tack för <b>allt</b>!'


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (40, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010E] = "Hemlig beskrivning"
    exif[0x010F] = "KameraAB"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (59.0, 19.0, 30.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _create(client, make_person, text="Det hjälpte mig verkligen.", mode="first_name") -> int:
    pid = make_person("Karin Klient", CLIENT)
    response = post_form(
        client,
        "/testimonials/new",
        {"person_id": pid, "text": text, "display_mode": mode},
        page=f"/testimonials/new?person={pid}",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def _upload(client, tid, data: bytes, name="bild.jpg"):
    page = client.get(f"/testimonials/{tid}").get_data(as_text=True)
    return client.post(
        f"/testimonials/{tid}/media",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _request(client, inbox, tid) -> str:
    post_form(client, f"/testimonials/{tid}/request-consent", {}, page=f"/testimonials/{tid}")
    return re.search(r"http://localhost(/t/consent/\S+)", inbox.last(CLIENT).get_content()).group(1)


def _consent(public, link, channels=("website",), media=("text", "image")):
    return post_form(public, link, {"channels": list(channels), "media": list(media)})


def _t(db, tid) -> Testimonial:
    with db() as s:
        t = s.get(Testimonial, tid)
        _ = (t.consents, t.media, t.publications)
        return t


def test_full_flow_consent_feed_revoke(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person)
    assert _upload(auth_client, tid, jpeg_with_gps()).status_code == 302
    item = _t(db, tid).media[0]
    with app.app_context():
        clean = media_store.load(item.stored_name)
    assert b"Hemlig" not in clean and b"KameraAB" not in clean
    assert not Image.open(io.BytesIO(clean)).getexif()
    with open(f"{app.instance_path}/media/{item.stored_name}", "rb") as fh:
        assert fh.read()[:3] != b"\xff\xd8\xff"  # encrypted at rest
    served = auth_client.get(f"/testimonials/media/{item.stored_name}")
    assert served.status_code == 200 and b"Hemlig" not in served.get_data()

    link = _request(auth_client, inbox, tid)
    public = app.test_client()
    page = public.get(link).get_data(as_text=True)
    assert "Det hjälpte mig verkligen." in page and "Karin" in page and "Klient</span>" not in page
    assert _t(db, tid).status == "awaiting_consent"
    assert public.get("/embed/testimonials.json").json == {"testimonials": []}
    assert _consent(public, link, channels=("website", "social")).status_code == 200
    assert _t(db, tid).status == "published"

    feed = public.get("/embed/testimonials")
    assert "Det hjälpte mig verkligen." in feed.get_data(as_text=True)
    assert feed.headers["Cache-Control"] == "public, no-cache" and feed.headers["ETag"]
    assert (
        public.get(
            "/embed/testimonials", headers={"If-None-Match": feed.headers["ETag"]}
        ).status_code
        == 304
    )
    assert "X-Frame-Options" not in feed.headers
    assert "frame-ancestors *" in feed.headers["Content-Security-Policy"]
    data = public.get("/embed/testimonials.json").json["testimonials"]
    assert data[0]["name"] == "Karin" and data[0]["media"][0]["kind"] == "image"
    image_url = data[0]["media"][0]["url"].removeprefix("http://localhost")
    image = public.get(image_url)
    assert image.status_code == 200 and image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"].startswith("inline; filename=")

    confirmation = inbox.last(CLIENT).get_content()
    revoke = re.search(r"http://localhost(/t/revoke/\S+)", confirmation).group(1)
    post_form(
        auth_client,
        f"/testimonials/{tid}/publications",
        {
            "pub-channel": "social",
            "pub-description": "Instagram-inlägg",
            "pub-url": "https://instagram.example/p/123",
        },
        page=f"/testimonials/{tid}",
    )

    assert public.get(revoke).status_code == 200
    assert _t(db, tid).status == "published"  # GET changed nothing
    assert app.test_client().post(revoke).status_code == 200  # no cookie, no CSRF token
    assert public.get("/embed/testimonials.json").json == {"testimonials": []}
    assert "Det hjälpte" not in public.get("/embed/testimonials").get_data(as_text=True)
    assert public.get(image_url).status_code == 404
    assert not media_store_exists(app, item.stored_name)
    t = _t(db, tid)
    assert t.status == "revoked" and t.consents[-1].revoked_method == "client_link"
    dashboard = auth_client.get("/").get_data(as_text=True)
    assert 'id="removal-tasks"' in dashboard and "instagram.example/p/123" in dashboard
    pub_id = next(p.id for p in t.publications if not p.automatic)
    post_form(auth_client, f"/testimonials/publications/{pub_id}/removed", {"next": "/"}, page="/")
    assert 'id="removal-tasks"' not in auth_client.get("/").get_data(as_text=True)
    assert app.test_client().post(revoke).status_code == 200  # idempotent


def media_store_exists(app, name: str) -> bool:
    with app.app_context():
        return media_store.exists(name)


def test_edit_voids_consent_and_asks_again(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person)
    link = _request(auth_client, inbox, tid)
    public = app.test_client()
    _consent(public, link, media=("text",))
    assert len(public.get("/embed/testimonials.json").json["testimonials"]) == 1
    before = len(inbox.messages)
    post_form(
        auth_client,
        f"/testimonials/{tid}/edit",
        {"edit-text": "Ny text", "edit-display_mode": "first_name"},
        page=f"/testimonials/{tid}",
    )
    assert public.get("/embed/testimonials.json").json == {"testimonials": []}
    t = _t(db, tid)
    assert t.status == "awaiting_consent" and t.consents[-2].voided_at is not None
    assert len(inbox.messages) == before + 1  # asked again
    old = public.get(link).get_data(as_text=True)
    assert "ändrats sedan länken skickades" in old
    new_link = re.search(
        r"http://localhost(/t/consent/\S+)", inbox.last(CLIENT).get_content()
    ).group(1)
    # the old link cannot be used to consent to the new content, even with a valid CSRF token
    refused = post_form(public, link, {"channels": ["website"], "media": ["text"]}, page=new_link)
    assert refused.status_code == 200 and _t(db, tid).status == "awaiting_consent"
    _consent(public, new_link, media=("text",))
    assert public.get("/embed/testimonials.json").json["testimonials"][0]["text"] == "Ny text"


def test_consent_scope_is_respected(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person, mode="anonymous")
    _upload(auth_client, tid, jpeg_with_gps())
    link = _request(auth_client, inbox, tid)
    public = app.test_client()
    _consent(public, link, channels=("website",), media=("text",))
    item = public.get("/embed/testimonials.json").json["testimonials"][0]
    assert item["media"] == [] and item["name"] is None
    name = _t(db, tid).media[0].stored_name
    assert public.get(f"/embed/media/{name}").status_code == 404
    refused = post_form(
        auth_client,
        f"/testimonials/{tid}/publications",
        {"pub-channel": "print"},
        page=f"/testimonials/{tid}",
    )
    assert refused.status_code == 422  # shown again, the refusal at the channel field
    assert 'id="pub-channel-err"' in refused.get_data(as_text=True)
    assert [p.channel for p in _t(db, tid).publications] == ["website"]


def test_feed_does_not_decrypt_the_clients_personnummer(
    app, auth_client, db, inbox, monkeypatch, make_person
):
    """The public feed loads only the name of the person: nothing else is decrypted."""
    tid = _create(auth_client, make_person, mode="full_name")
    with db() as s:
        s.get(Testimonial, tid).person.personnummer = "19811228-9874"
        s.commit()
    _consent(app.test_client(), _request(auth_client, inbox, tid), media=("text",))

    decrypted: list[str] = []
    real = crypto.Keyring.decrypt_text
    monkeypatch.setattr(
        crypto.Keyring,
        "decrypt_text",
        lambda self, value, context: decrypted.append(context) or real(self, value, context),
    )
    feed = app.test_client().get("/embed/testimonials.json").json["testimonials"]
    assert [item["name"] for item in feed] == ["Karin Klient"]
    assert "person.personnummer" not in decrypted and decrypted  # the text was decrypted


def test_restriction_takes_the_testimonial_out_of_the_feed_until_lifted(
    app, auth_client, db, inbox, make_person
):

    tid = _create(auth_client, make_person)
    _consent(app.test_client(), _request(auth_client, inbox, tid), media=("text",))
    feed = app.test_client().get("/embed/testimonials.json")
    assert len(feed.json["testimonials"]) == 1
    with app.app_context():
        s = get_session()
        person = s.get(Testimonial, tid).person
        rights.restrict(s, person, Actor.cli())
        s.commit()
        assert app.test_client().get("/embed/testimonials.json").json == {"testimonials": []}
        assert "hjälpte" not in app.test_client().get("/embed/testimonials").get_data(as_text=True)
        # nor is it edited, given files or published anywhere else meanwhile
        t = s.get(Testimonial, tid)
        for change in (
            lambda: testimonials.edit(s, t, "Ny text", "first_name", Actor.cli()),
            lambda: testimonials.add_media(s, t, jpeg_with_gps(), Actor.cli()),
            lambda: publications.add_publication(s, t, "website", "", "", None, Actor.cli()),
        ):
            with pytest.raises(testimonials.TestimonialError):
                change()
        rights.lift_restriction(s, person, "Uppgifterna är kontrollerade", Actor.cli())
        s.commit()
    assert len(app.test_client().get("/embed/testimonials.json").json["testimonials"]) == 1


def test_print_only_consent_stays_out_of_the_feed(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person)
    _consent(
        app.test_client(), _request(auth_client, inbox, tid), channels=("print",), media=("text",)
    )
    assert _t(db, tid).status == "approved"
    assert app.test_client().get("/embed/testimonials.json").json == {"testimonials": []}


def test_nothing_ticked_is_refused(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person)
    link = _request(auth_client, inbox, tid)
    response = _consent(app.test_client(), link, channels=(), media=("text",))
    assert response.status_code == 422 and _t(db, tid).status == "awaiting_consent"


def test_script_in_text_is_escaped_everywhere(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person, text=XSS)
    assert "<script>" not in auth_client.get(f"/testimonials/{tid}").get_data(as_text=True)
    link = _request(auth_client, inbox, tid)
    public = app.test_client()
    page = public.get(link).get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page
    _consent(public, link, media=("text",))
    feed = public.get("/embed/testimonials").get_data(as_text=True)
    assert "<script>" not in feed and "<b>" not in feed and "&lt;b&gt;" in feed
    assert public.get("/embed/testimonials.json").json["testimonials"][0]["text"] == XSS


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00 not a picture", "bild.jpg"),  # a Windows executable named .jpg
        (b"<svg onload=alert(1)></svg>", "bild.png"),  # SVG can carry script: not allowed
        (b"\xff\xd8\xff\xe0 truncated garbage", "bild.jpg"),  # JPEG magic, no image
        (b"", "tom.jpg"),
    ],
)
def test_mismatched_or_broken_uploads_are_refused(app, auth_client, db, data, name, make_person):
    tid = _create(auth_client, make_person)
    assert _upload(auth_client, tid, data, name).status_code in (302, 422)
    assert _t(db, tid).media == []


def test_oversized_uploads_are_refused(app, auth_client, db, make_person):
    tid = _create(auth_client, make_person)
    app.config["MEDIA_MAX_BYTES"] = {"image": 500, "audio": 500, "video": 500}
    response = _upload(auth_client, tid, jpeg_with_gps())
    assert response.status_code == 422 and _t(db, tid).media == []
    app.config["MAX_CONTENT_LENGTH"] = 1000
    too_big = _upload(auth_client, tid, b"\xff\xd8\xff" + b"0" * 5000)
    assert too_big.status_code == 413


needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None,
    reason="audio/video uploads need ffmpeg: run `apt-get install ffmpeg` (CI does)",
)
SECRETS = (b"+59.3293+018.0686", b"Kalle Klient", b"Hemlig inspelning")


def recording(tmp_path, name: str, *inputs: str) -> bytes:
    """A real file made by ffmpeg, carrying what a phone writes: place, owner, title."""
    out = tmp_path / name
    sources = [arg for spec in inputs for arg in ("-f", "lavfi", "-i", spec)]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *sources, "-t", "1"]
        + ["-metadata", "location=+59.3293+018.0686/", "-metadata", "artist=Kalle Klient"]
        + ["-metadata", "title=Hemlig inspelning", str(out)],
        check=True,
    )
    return out.read_bytes()


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "inputs", "mime"),
    [
        ("ljud.mp3", ("sine=frequency=440",), "audio/mpeg"),
        ("ljud.ogg", ("sine=frequency=440",), "audio/ogg"),
        ("ljud.wav", ("sine=frequency=440",), "audio/wav"),
        ("ljud.m4a", ("sine=frequency=440",), "audio/mp4"),
        ("film.mp4", ("testsrc=size=64x48:rate=5", "sine=frequency=440"), "video/mp4"),
        ("film.webm", ("testsrc=size=64x48:rate=5", "sine=frequency=440"), "video/webm"),
    ],
)
def test_audio_and_video_lose_location_and_other_metadata(
    app, auth_client, db, tmp_path, name, inputs, mime, make_person
):
    original = recording(tmp_path, name, *inputs)
    carried = [secret for secret in SECRETS if secret in original]
    assert len(carried) >= 2, carried  # each format keeps at least the owner and the title
    tid = _create(auth_client, make_person)
    assert _upload(auth_client, tid, original, "fil.bin").status_code == 302
    item = _t(db, tid).media[0]
    assert item.mime == mime
    with app.app_context():
        stored = media_store.load(item.stored_name)
    assert not any(secret in stored for secret in SECRETS)
    # still a playable file of the same kind, with its sound (and picture) intact
    (tmp_path / "stored").write_bytes(stored)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0"]
        + [str(tmp_path / "stored")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(probe) == sorted("video" if "testsrc" in i else "audio" for i in inputs)


@needs_ffmpeg
def test_broken_audio_is_refused_without_storing_anything(app, auth_client, db, make_person):
    tid = _create(auth_client, make_person)
    response = _upload(auth_client, tid, b"ID3\x03\x00" + b"\x00" * 100, "ljud.mp3")
    assert response.status_code in (302, 422) and _t(db, tid).media == []
    assert not list(Path(app.instance_path, "tmp").glob("*"))  # no plaintext left behind


def test_audio_is_refused_when_ffmpeg_is_missing(app, auth_client, db, make_person):
    """Without ffmpeg, audio and video are refused with the reason; never stored as uploaded."""
    app.config["FFMPEG"] = "/nonexistent/ffmpeg"
    tid = _create(auth_client, make_person)
    page = auth_client.get(f"/testimonials/{tid}").get_data(as_text=True)
    response = auth_client.post(
        f"/testimonials/{tid}/media",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(b"ID3\x03" + b"\0" * 99), "a")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and _t(db, tid).media == []
    assert "apt install ffmpeg" in response.get_data(as_text=True)  # at the file field


def test_forged_expired_and_cross_purpose_tokens(
    app, auth_client, db, inbox, monkeypatch, make_person
):

    tid = _create(auth_client, make_person)
    link = _request(auth_client, inbox, tid)
    public = app.test_client()
    token = link.rsplit("/", 1)[-1]
    forged = token[:-3] + ("aaa" if token[-3:] != "aaa" else "bbb")
    assert public.get(f"/t/consent/{forged}").status_code == 400
    with app.app_context():
        revoke_token = tokens.sign(tokens.Purpose.TESTIMONIAL_REVOKE, _t(db, tid).public_id)
    assert public.get(f"/t/consent/{revoke_token}").status_code == 400
    assert public.post(f"/t/revoke/{token}").status_code == 400
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 86400)
    assert public.get(link).status_code == 410
    assert public.get(f"/t/revoke/{revoke_token}").status_code == 200  # never expires


def test_owner_revokes_on_behalf_and_delayed_media_deletion(
    app, auth_client, db, inbox, make_person
):
    app.config["TESTIMONIAL_MEDIA_DELETE_DAYS"] = 3
    tid = _create(auth_client, make_person)
    _upload(auth_client, tid, jpeg_with_gps())
    _consent(app.test_client(), _request(auth_client, inbox, tid))
    post_form(auth_client, f"/testimonials/{tid}/revoke", {}, page=f"/testimonials/{tid}")
    t = _t(db, tid)
    assert t.consents[-1].revoked_method == "staff_on_behalf"
    name = t.media[0].stored_name
    assert media_store_exists(app, name)  # kept for 3 days
    assert app.test_client().get(f"/embed/media/{name}").status_code == 404
    with db() as s:
        s.get(TestimonialMedia, t.media[0].id).delete_after = utcnow() - timedelta(seconds=1)
        s.commit()
    result = app.test_cli_runner().invoke(args=["retention"])
    assert "testimonial_media: deleted 1" in result.output
    assert not media_store_exists(app, name)


def test_consent_records_what_was_shown(app, auth_client, db, inbox, make_person):
    tid = _create(auth_client, make_person)
    _consent(app.test_client(), _request(auth_client, inbox, tid), media=("text",))
    with app.app_context():
        s = get_session()
        t = s.get(Testimonial, tid)
        consent = s.scalar(
            select(TestimonialConsent).where(TestimonialConsent.consented_at.is_not(None))
        )
        assert consent.content_hash == services.content_hash(t)
        assert consent.channel_list() == ["website"] and consent.ip == "127.0.0.1"
        with pytest.raises(services.TestimonialError):
            publications.add_publication(s, t, "print", "", "", None, Actor.cli())


def test_rotate_keys_reencrypts_media_files(app, auth_client, db, database_url, make_person):
    tid = _create(auth_client, make_person)
    _upload(auth_client, tid, jpeg_with_gps())
    name = _t(db, tid).media[0].stored_name
    new_key = base64.urlsafe_b64encode(b"m" * 32).decode()
    overrides = {"ENCRYPTION_KEY": f"{new_key},{TEST_KEY}"}
    rotated = create_app(app_config(database_url, **overrides))
    rotated.instance_path = app.instance_path
    result = rotated.test_cli_runner().invoke(args=["rotate-keys"])
    assert "media files: 1 re-encrypted" in result.output, result.output
    new_only = create_app(app_config(database_url, ENCRYPTION_KEY=new_key))
    new_only.instance_path = app.instance_path
    with new_only.app_context():
        assert media_store.load(name)[:3] == b"\xff\xd8\xff"
    for a in (rotated, new_only):
        a.extensions["crm.db"]["engine"].dispose()
