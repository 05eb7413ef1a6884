"""Outgoing mail: SMTP in production, one .eml file per mail in development.

Marketing mail carries RFC 2369/8058 headers so mail clients show a one-click unsubscribe:
``List-Unsubscribe: <https://.../u/TOKEN>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``. Transactional mail (a confirmation link) does not.

Settings: ``MAIL_BACKEND`` ("smtp" or "file"; development defaults to "file"), ``MAIL_FROM``,
``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_SECURITY`` ("starttls",
"ssl" or "none"), ``SMTP_TIMEOUT``.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from email.headerregistry import Address
from email.headerregistry import HeaderRegistry
from email.headerregistry import UnstructuredHeader
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from email.utils import make_msgid
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import current_app
from werkzeug.urls import iri_to_uri

from crm.db import utcnow
from crm.fsutil import create_private
from crm.fsutil import private_dir
from crm.security import emails


class MailError(Exception):
    """A mail could not be handed to the mail server; nothing was sent."""


class BracketedURIHeader(UnstructuredHeader):
    """A list header (``<uri>, <uri>``) written as is: folded only between entries, never encoded.

    The standard library folds any header longer than 78 characters, and an unbreakable URL
    it can only split by turning it into RFC 2047 encoded words (``=?utf-8?q?=3Chttps...``).
    Mail clients do not decode those in ``List-Unsubscribe``, so one-click unsubscribe broke for
    every real URL. RFC 2369 section 2 allows folding only at whitespace (and whitespace
    inside the brackets is ignored) and RFC 8058 section 3 requires the HTTPS URI in the header;
    RFC 2919 (``List-Id``) has the same angle-bracket form. So the value is emitted verbatim,
    folded only after the commas between entries, and anything that is not printable ASCII is
    refused instead of encoded (https://www.rfc-editor.org/rfc/rfc2369#section-2,
    https://www.rfc-editor.org/rfc/rfc8058#section-3).
    """

    #: set by the BaseHeader the HeaderRegistry mixes in (Lib/email/headerregistry.py)
    name: str

    def fold(self, *, policy: Any) -> str:
        """Write ``Name: value`` verbatim, one line per entry if it has several."""
        value = str(self)
        if not value.isascii() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError(f"{self.name} must be printable ASCII")
        entries = re.split(r"(?<=>)\s*,\s*(?=<)", value.strip())
        return f"{self.name}: " + ("," + policy.linesep + " ").join(entries) + policy.linesep


#: Headers that carry URIs in angle brackets and must reach the client unencoded.
BRACKETED_URI_HEADERS = ("list-unsubscribe", "list-unsubscribe-post", "list-id")


def _policy() -> Any:
    registry = HeaderRegistry()
    for name in BRACKETED_URI_HEADERS:
        # typeshed wants a BaseHeader subclass; the registry mixes BaseHeader in itself, and
        # the standard library's own header classes are plain too (Lib/email/headerregistry.py)
        registry.map_to_type(name, BracketedURIHeader)  # type: ignore[arg-type]
    return default_policy.clone(header_factory=registry)


#: The policy every outgoing mail is built (and so serialised) with.
POLICY = _policy()


def build(
    to: str | None,
    subject: str,
    text: str,
    *,
    sender: str,
    unsubscribe_url: str | None = None,
    list_id: str | None = None,
) -> EmailMessage:
    """Build a plain-text mail; with ``unsubscribe_url`` it gets the one-click headers.

    ``sender`` is the name of the controller the mail speaks for (``controllers.name_for``):
    it is the display name in ``From``, the address stays ``MAIL_FROM``'s, so the recipient
    sees who writes to them ("Kbt-verkstan <info@...>"), never "CRM" (issue 16 defect 1).
    """
    if to is None:  # erased meanwhile: no address is left to write to
        raise MailError("the recipient has no address on file")
    if not emails.is_valid(to):
        # a comma or a header break would mail someone else: refuse (never log the address)
        raise MailError("refusing to mail an address that is not one plain address")
    cfg = current_app.config
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_header(cfg["MAIL_FROM"], sender)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=_domain(cfg["MAIL_FROM"]))
    msg["Content-Language"] = cfg["BABEL_DEFAULT_LOCALE"]
    if unsubscribe_url:
        if not unsubscribe_url.startswith("https://") and not current_app.testing:
            # RFC 8058 needs an HTTPS URI; an http:// base URL is a deployment mistake.
            current_app.logger.warning("List-Unsubscribe URL is not HTTPS; set CRM_BASE_URL")
        # ASCII only (an internationalised BASE_URL host becomes IDNA), never encoded words
        msg["List-Unsubscribe"] = f"<{iri_to_uri(unsubscribe_url)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if list_id:
        msg["List-Id"] = list_id
    msg.set_content(text)
    return msg


def from_header(mail_from: str, sender: str) -> Address:
    """``MAIL_FROM``'s address with the controller's name as its display name."""
    address = parseaddr(mail_from)[1] or mail_from
    name = " ".join(sender.split())  # a line break in a name would end the header
    return Address(display_name=name, addr_spec=address)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(">") or "localhost"


def send(msg: EmailMessage) -> None:
    """Send through the configured backend.

    :raises MailError: the SMTP server could not be reached or refused the mail.
    """
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "file":
        _send_file(msg)
    elif backend == "smtp":
        _send_smtp(msg)
    else:
        raise MailError(f"unknown MAIL_BACKEND {backend!r}")


def _send_file(msg: EmailMessage) -> None:
    """Development: write the mail to instance/mail/ so it can be opened in a mail program."""
    folder = private_dir(Path(current_app.instance_path) / "mail")
    name = f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    create_private(folder / name, msg.as_bytes())
    current_app.logger.info("mail written to %s", folder / name)


def _send_smtp(msg: EmailMessage) -> None:
    cfg = current_app.config
    host, port = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"])
    if not host:
        raise MailError("SMTP_HOST is not configured")
    security, timeout = cfg["SMTP_SECURITY"], float(cfg["SMTP_TIMEOUT"])
    try:
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg["SMTP_USER"]:
                smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as err:
        # The recipient is personal data: log the failure, not the address.
        raise MailError(f"SMTP delivery via {host}:{port} failed: {type(err).__name__}") from err
