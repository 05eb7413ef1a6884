"""Testimonial media: type decided by content, size limits, EXIF stripped, encrypted storage.

Uploads are sniffed by their magic bytes (the file name and the browser's Content-Type are
ignored), checked against a per-type size limit, and images are decoded and re-encoded with
Pillow, which drops EXIF (including GPS), XMP and ICC comments and refuses decompression bombs.
Files are stored under instance/media/ - outside the web root - encrypted with the field
keyring, under random names, and only served by routes that check login or consent.

Audio and video are re-muxed by ffmpeg into a fresh container without any metadata (phones
write the recording place, the device and sometimes the owner's name into them). Without
ffmpeg on the server they are refused, never stored as uploaded.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image
from PIL import UnidentifiedImageError
from sqlalchemy.orm import Session

from crm.db import delete_file_after_commit
from crm.fsutil import create_private
from crm.fsutil import private_dir
from crm.fsutil import write_private
from crm.i18n import N_
from crm.security.crypto import keyring

#: (offset, magic bytes, kind, mime) - checked in order.
SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"\xff\xd8\xff", "image", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image", "image/png"),
    (0, b"ID3", "audio", "audio/mpeg"),
    (0, b"\xff\xfb", "audio", "audio/mpeg"),
    (0, b"\xff\xf3", "audio", "audio/mpeg"),
    (0, b"OggS", "audio", "audio/ogg"),
    (0, b"\x1a\x45\xdf\xa3", "video", "video/webm"),
)
#: Pixels an image may have when decoded: 4096 x 4096 (16.8 Mpx). A testimonial photo is shown
#: at a few hundred pixels; this still takes the 12 Mpx of a phone camera and 16 Mpx cameras
#: (4928 x 3264) unscaled. Decoding costs about 4 bytes a pixel, several times over while it is
#: re-encoded, so 40 Mpx let a 4.8 KB PNG push peak memory from 186 to 575 MB (pentest).
MAX_PIXELS = 4096 * 4096
#: Larger JPEGs (48 Mpx phone modes) are decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT
#: scaling (Pillow's ``draft``), which never allocates the full size; beyond 1/8 they are
#: refused like any other image over the budget.
JPEG_SCALES = (2, 4, 8)


class MediaError(ValueError):
    """An upload was refused; the message is an English msgid for the user."""


@dataclass(frozen=True)
class CleanFile:
    """An accepted upload, cleaned and ready to store."""

    kind: str
    mime: str
    data: bytes


def sniff(head: bytes) -> tuple[str, str] | None:
    """Return (kind, mime) from a file's first bytes, or None when the type is not allowed."""
    for offset, magic, kind, mime in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind, mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio", "audio/mp4"
        return "video", "video/mp4"
    return None


def _limit(kind: str) -> int:
    return int(current_app.config["MEDIA_MAX_BYTES"][kind])


def _reencode(data: bytes, mime: str) -> bytes:
    """Decode and re-encode an image from its pixels alone: no metadata can survive.

    The size is read from the header (``Image.open`` parses it and decodes nothing) and
    checked before a single pixel is decoded, so a tiny file declaring a huge image costs no
    memory; JPEGs over the budget are decoded scaled down instead.
    """
    # Pillow's own bomb check (at open, from the header) only backs up the checks below: it
    # must not refuse a JPEG that is decoded scaled down.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS * JPEG_SCALES[-1] ** 2
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[mime]
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                scale = _jpeg_scale(width, height) if img.format == "JPEG" else None
                if scale is None:
                    raise MediaError(N_("The image has too many pixels."))
                img.draft("RGB", (-(-width // scale), -(-height // scale)))
                if img.size[0] * img.size[1] > MAX_PIXELS:
                    raise MediaError(N_("The image has too many pixels."))
            img.load()
            alpha = fmt != "JPEG" and ("A" in img.getbands() or "transparency" in img.info)
            pixels = img.convert("RGBA" if alpha else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise MediaError(N_("The image has too many pixels.")) from err
    except (UnidentifiedImageError, OSError) as err:
        raise MediaError(N_("The image could not be read; it may be damaged.")) from err
    # A new image built from raw pixels carries no EXIF, GPS, XMP, ICC or comments.
    mode, size, raw = pixels.mode, pixels.size, pixels.tobytes()
    del pixels  # one decoded copy at a time keeps the peak down
    fresh = Image.frombytes(mode, size, raw)
    del raw
    out = io.BytesIO()
    fresh.save(out, format=fmt, **({} if fmt == "PNG" else {"quality": 90}))
    return out.getvalue()


def _jpeg_scale(width: int, height: int) -> int | None:
    """The smallest DCT scale-down that brings a JPEG within the pixel budget, if any."""
    for scale in JPEG_SCALES:
        if -(-width // scale) * -(-height // scale) <= MAX_PIXELS:
            return scale
    return None


#: mime -> (ffmpeg demuxer for the upload, muxer for the clean copy). The input format is
#: forced: probing could take a crafted file for a playlist that makes ffmpeg read other files.
FFMPEG_FORMATS = {
    "audio/mpeg": ("mp3", "mp3"),
    "audio/ogg": ("ogg", "ogg"),
    "audio/wav": ("wav", "wav"),
    "audio/mp4": ("mov", "ipod"),
    "video/mp4": ("mov", "mp4"),
    "video/webm": ("matroska", "webm"),
}
FFMPEG_TIMEOUT_SECONDS = 120
UNREADABLE = N_("The file could not be read; it may be damaged.")


def ffmpeg_binary() -> str | None:
    """The ffmpeg to use: the FFMPEG setting, else the one on PATH; None when there is none."""
    return shutil.which(current_app.config.get("FFMPEG") or "ffmpeg")


def _strip_metadata(data: bytes, kind: str, mime: str) -> bytes:
    """Copy the audio (and video) streams into a new container that carries no metadata.

    Nothing is re-encoded (no quality loss, little CPU). Global, stream and chapter metadata
    go (GPS position, device, title, comments, encoder), and so do attached pictures and data
    streams (action cameras record GPS tracks as a data stream). Plaintext lives only in a
    private temporary folder under instance/ for the few moments ffmpeg needs it.
    """
    binary = ffmpeg_binary()
    if binary is None:
        raise MediaError(
            N_(
                "Audio and video can only be uploaded when ffmpeg is installed on the "
                "server: it removes the location and other details phones write into "
                "these files. Ask whoever runs the server to install it (apt install ffmpeg)."
            )
        )
    demuxer, muxer = FFMPEG_FORMATS[mime]
    # audio: its sound only (no cover picture); video: picture and sound, either may be absent
    # (a voice memo in WebM), but a file with neither fails ("does not contain any stream")
    streams = ["-map", "0:a"] if kind == "audio" else ["-map", "0:V?", "-map", "0:a?"]
    scratch = private_dir(Path(current_app.instance_path) / "tmp")
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        source, target = Path(folder, "in"), Path(folder, "out")
        create_private(source, data)
        command = [
            binary, "-nostdin", "-v", "error", "-protocol_whitelist", "file",
            "-f", demuxer, "-i", str(source), *streams,
            "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
            "-c", "copy", "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-flags:a", "+bitexact", "-f", muxer, str(target),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as err:
            raise MediaError(UNREADABLE) from err
        if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
            raise MediaError(UNREADABLE)
        return target.read_bytes()


def accept(data: bytes) -> CleanFile:
    """Check an upload and return it cleaned, or raise :class:`MediaError`."""
    if not data:
        raise MediaError(N_("The file is empty."))
    found = sniff(data[:16])
    if found is None:
        raise MediaError(
            N_(
                "Only JPEG, PNG or WebP images, MP3, M4A, OGG or WAV audio and MP4 "
                "or WebM video can be uploaded."
            )
        )
    kind, mime = found
    if len(data) > _limit(kind):
        raise MediaError(N_("The file is larger than allowed for its type."))
    if kind == "image":
        data = _reencode(data, mime)
    else:
        data = _strip_metadata(data, kind, mime)
    return CleanFile(kind, mime, data)


def _folder() -> Path:
    return private_dir(Path(current_app.instance_path) / "media")


def store(clean: CleanFile) -> tuple[str, str]:
    """Encrypt and write a file under a new random name; return (stored_name, sha256)."""
    name = secrets.token_hex(16)
    ring = keyring()
    blob = ring.encrypt(clean.data, f"media:{name}")
    write_private(_folder() / name, ring.primary_kid.encode() + b":" + blob)
    return name, hashlib.sha256(clean.data).hexdigest()


def load(stored_name: str) -> bytes:
    """Read and decrypt a stored file."""
    kid, blob = (_folder() / stored_name).read_bytes().split(b":", 1)
    return keyring().decrypt(blob, kid.decode(), f"media:{stored_name}")


def remove(session: Session, stored_name: str) -> None:
    """Delete a stored file once ``session`` commits (missing files are fine: idempotent).

    Not before: a rollback would leave its row, possibly published, pointing at nothing.
    """
    delete_file_after_commit(session, _folder() / stored_name)


def unreferenced(keep: set[str], written_before: float) -> list[str]:
    """Names of stored files not in ``keep`` and last written before ``written_before``.

    :param written_before: a POSIX timestamp; younger files may belong to an upload whose
        row has not committed yet.
    """
    folder = Path(current_app.instance_path) / "media"
    if not folder.is_dir():
        return []
    return [
        path.name
        for path in folder.iterdir()
        if path.is_file() and path.name not in keep and path.stat().st_mtime < written_before
    ]


def exists(stored_name: str) -> bool:
    """Tell whether the file is still on disk."""
    return (_folder() / stored_name).exists()


def rotate_files() -> int:
    """Re-encrypt every stored file whose key is not the primary one; return how many.

    Part of ``crm rotate-keys``: after it, old keys can leave CRM_ENCRYPTION_KEY without
    orphaning any photo or recording.
    """
    ring = keyring()
    count = 0
    for path in _folder().iterdir():
        if path.name.startswith("."):
            continue  # a temporary file left by a crash (stored names are hex)
        kid, blob = path.read_bytes().split(b":", 1)
        if kid.decode() == ring.primary_kid:
            continue
        data = ring.decrypt(blob, kid.decode(), f"media:{path.name}")
        # atomic: a crash leaves either the old or the new file
        write_private(
            path, ring.primary_kid.encode() + b":" + ring.encrypt(data, f"media:{path.name}")
        )
        count += 1
    return count
