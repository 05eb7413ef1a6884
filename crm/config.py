"""Configuration in layers: defaults -> instance/config.py -> CRM_* environment -> test overrides.

Every setting is documented here and in the README. Secrets never have a default that
production could run with: :func:`check_production_secrets` refuses to start without them.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

#: Defaults. Whenever you add or change something here, update the README's configuration table.
DEFAULTS: dict[str, Any] = {
    # "production" (default) refuses to start without real secrets; "development" generates them.
    "ENV": "production",
    "SECRET_KEY": None,
    # Old secret keys, newest last; still accepted for verifying signed links and sessions.
    "SECRET_KEY_FALLBACKS": [],
    # Comma-separated base64 keys (32 bytes each); the first encrypts, all decrypt.
    "ENCRYPTION_KEY": None,
    "DATABASE_URL": None,  # None -> SQLite file under instance/
    # The address users reach the app at; links printed by the CLI and in mails start with it.
    "BASE_URL": "http://127.0.0.1:5000",
    "REQUIRE_MFA": True,
    # Reverse proxies (nginx, Caddy) in front of the app, each adding one X-Forwarded-For
    # entry. 0 (default): trust no X-Forwarded-* header, the peer address is the client.
    "TRUSTED_PROXIES": 0,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_HOURS": 12,
    # Login throttling (see crm/auth/throttle.py for why these cannot lock the owner out).
    "LOGIN_MAX_FAILURES_PER_IP": 20,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 10,
    "LOGIN_MAX_FAILURES_PER_DEVICE": 10,
    "LOGIN_WINDOW_MINUTES": 15,
    # argon2id parameters (RFC 9106 "second recommended" option; ASVS needs m >= 19 MiB).
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    "ARGON2_PARALLELISM": 1,
    "MAX_CONTENT_LENGTH": 110 * 1024 * 1024,
    "BABEL_DEFAULT_LOCALE": "sv",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
    "LANGUAGES": ["sv", "en"],
    "PEOPLE_PER_PAGE": 50,
    "AUDIT_PER_PAGE": 100,
    "SETUP_LINK_HOURS": 24,
    # The practice, as named in consent texts and mails.
    "PRACTICE_NAME": "Praktiken",
    # Where the practice's privacy policy lives; None -> the CRM's own /integritetspolicy.
    "PRIVACY_POLICY_URL": None,
    # Outgoing mail (crm/mail.py). None -> "file" in development, "smtp" otherwise.
    "MAIL_BACKEND": None,
    "MAIL_FROM": "CRM <no-reply@localhost>",
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_SECURITY": "starttls",
    "SMTP_TIMEOUT": 15,
    # Public sign-up limits (per IP per hour, per address per day).
    "SIGNUP_MAX_PER_IP_HOUR": 20,
    "SIGNUP_MAX_PER_EMAIL_DAY": 3,
    # Privacy portal (/integritet) filings: per IP per hour, per address per day.
    "PORTAL_MAX_PER_IP_HOUR": 10,
    "PORTAL_MAX_PER_EMAIL_DAY": 3,
    # How long the status link of a portal request works (a request may run three months).
    "PRIVACY_STATUS_LINK_DAYS": 365,
    # Bad unsubscribe/confirm tokens per IP per 15 minutes before answering 429.
    "BAD_TOKEN_MAX_PER_IP": 50,
    "CONFIRM_LINK_DAYS": 7,
    "PREFERENCES_LINK_DAYS": 30,
    "IMPORT_MAX_BYTES": 20 * 1024 * 1024,
    # Testimonial media: largest file per type; the request limit is the largest plus slack.
    # ffmpeg strips metadata from audio and video uploads; None: the one on PATH
    "FFMPEG": None,
    "MEDIA_MAX_BYTES": {
        "image": 10 * 1024 * 1024,
        "audio": 25 * 1024 * 1024,
        "video": 100 * 1024 * 1024,
    },
    # Days after a revocation before media files are deleted (0 = at once).
    "TESTIMONIAL_MEDIA_DELETE_DAYS": 0,
    "TESTIMONIAL_CONSENT_LINK_DAYS": 30,
    # Who may show the testimonial feed in a frame ("*" = any site; it only shows what
    # clients consented to publish on the website).
    "EMBED_FRAME_ANCESTORS": "*",
    # Mail providers (integrations/): a provider without an API key is off.
    "MAILERLITE_API_KEY": None,
    "MAILERLITE_GROUP_ID": None,
    "MAILERLITE_BASE_URL": None,
    "MAILERLITE_WEBHOOK_SECRET": None,
    "MAILCHIMP_API_KEY": None,
    "MAILCHIMP_LIST_ID": None,
    "MAILCHIMP_BASE_URL": None,
    "MAILCHIMP_WEBHOOK_SECRET": None,
    "BREVO_API_KEY": None,
    "BREVO_LIST_ID": None,
    "BREVO_BASE_URL": None,
    "BREVO_WEBHOOK_SECRET": None,
    # Paloma: user account id and API hash (Basic auth), and the contact list's Guid.
    "PALOMA_ACCOUNT_ID": None,
    "PALOMA_API_HASH": None,
    "PALOMA_LIST_ID": None,
    "PALOMA_BASE_URL": None,
    # Nightly audit checkpoint (crm/privacy/checkpoint.py): a file it is appended to (on
    # another disk or share, not next to the database) and/or a mail to every active owner.
    "AUDIT_CHECKPOINT_FILE": None,
    "AUDIT_CHECKPOINT_MAIL": True,
    "SYNC_TIMEOUT": 15,
    "SYNC_MAX_RETRIES": 4,
    # seconds a sync run spends on upserts per provider before leaving the rest to the next
    # run (MailerLite takes 5 import batches of 50 a minute: about 2,500 upserts in 10 minutes)
    "SYNC_PUSH_SECONDS": 600,
}

FERNET_KEY_BYTES = 32


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from every layer, then derive the settings that depend on others."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="CRM")
    if test_config:
        app.config.update(test_config)
    if app.config["DATABASE_URL"] is None:
        db_path = Path(app.instance_path) / "crm.sqlite3"
        app.config["DATABASE_URL"] = f"sqlite:///{db_path}"
    if app.config["ENV"] == "development" and not app.testing:
        ensure_development_secrets(app)
    if app.config["MAIL_BACKEND"] is None:
        app.config["MAIL_BACKEND"] = "file" if app.config["ENV"] == "development" else "smtp"
    check_production_secrets(app)
    check_production_base_url(app)
    check_trusted_proxies(app)
    _derive_cookie_settings(app)


def is_https(app: Flask) -> bool:
    """Tell whether the app is served over HTTPS, which decides cookie flags and HSTS."""
    return str(app.config["BASE_URL"]).startswith("https://")


def _derive_cookie_settings(app: Flask) -> None:
    """Set cookie flags explicitly: Flask's defaults are not Secure and have no SameSite."""
    secure = is_https(app)
    app.config.update(
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The __Host- prefix needs Secure; browsers drop such a cookie over plain HTTP.
        SESSION_COOKIE_NAME="__Host-crm_session" if secure else "crm_session",
        PERMANENT_SESSION_LIFETIME=app.config["SESSION_ABSOLUTE_HOURS"] * 3600,
        PREFERRED_URL_SCHEME="https" if secure else "http",
        WTF_CSRF_TIME_LIMIT=app.config["SESSION_ABSOLUTE_HOURS"] * 3600,
        # Flask-WTF checks the Referer over HTTPS, which is stricter; keep it.
        WTF_CSRF_SSL_STRICT=True,
    )


def generate_encryption_key() -> str:
    """Return a new random field-encryption key (urlsafe base64 of 32 bytes)."""
    return base64.urlsafe_b64encode(os.urandom(FERNET_KEY_BYTES)).decode()


def generate_secret_key() -> str:
    """Return a new random secret key for signing sessions and links."""
    return secrets.token_urlsafe(48)


SECRETS_HELP = """\
The CRM refuses to start in production without its secrets.
Generate them once, keep them safe (losing CRM_ENCRYPTION_KEY loses the encrypted data), and set:

  export CRM_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
  export CRM_ENCRYPTION_KEY="$(python3 -c 'import base64, os; \
print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"

For local development, run `make run` (it sets CRM_ENV=development and generates both)."""


class ConfigurationError(RuntimeError):
    """Raised when the app cannot start safely with the configuration it was given."""


def check_production_secrets(app: Flask) -> None:
    """Refuse to start without a secret key and an encryption key, naming the fix."""
    missing = [name for name in ("SECRET_KEY", "ENCRYPTION_KEY") if not app.config.get(name)]
    if missing:
        names = ", ".join(f"CRM_{name}" for name in missing)
        raise ConfigurationError(f"Missing {names}.\n\n{SECRETS_HELP}")
    if app.config["ENV"] == "production" and len(str(app.config["SECRET_KEY"])) < 32:
        raise ConfigurationError(
            f"CRM_SECRET_KEY is too short (< 32 characters).\n\n{SECRETS_HELP}"
        )


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_production_base_url(app: Flask) -> None:
    """Refuse plain HTTP on a public address in production.

    Over ``http://`` session cookies lose ``Secure``, HSTS is off, and mail providers refuse
    RFC 8058 one-click unsubscribes (they require HTTPS). A loopback address stays allowed:
    a deployment tried out on the machine itself, or a benchmark.
    """
    url = urlsplit(str(app.config["BASE_URL"]))
    if app.config["ENV"] != "production" or url.scheme == "https":
        return
    if url.hostname not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"CRM_BASE_URL must start with https:// in production (it is {url.scheme}://"
            f"{url.hostname}): put the app behind a web server that terminates TLS "
            "(nginx or Caddy, see README) and set CRM_BASE_URL=https://your.domain."
        )


#: More hops than any deployment of this app has: a typo, not a setup.
MAX_TRUSTED_PROXIES = 5


def check_trusted_proxies(app: Flask) -> None:
    """Refuse a ``TRUSTED_PROXIES`` that is not a small whole number.

    Too high a value lets a client pick its own IP address with ``X-Forwarded-For`` (and so
    dodge every per-IP limit and forge the IP in consent records), so a wrong value stops the
    start instead of being guessed at.
    """
    value = app.config["TRUSTED_PROXIES"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"CRM_TRUSTED_PROXIES must be a whole number of proxy hops (0-{MAX_TRUSTED_PROXIES})."
        )
    if not 0 <= value <= MAX_TRUSTED_PROXIES:
        raise ConfigurationError(
            f"CRM_TRUSTED_PROXIES must be between 0 and {MAX_TRUSTED_PROXIES} (it is {value})."
        )


def ensure_development_secrets(app: Flask) -> None:
    """Generate and store development secrets in instance/config.py when none are configured.

    Stored, not regenerated per start, because a new encryption key would make every encrypted
    field written earlier unreadable.
    """
    missing = [name for name in ("SECRET_KEY", "ENCRYPTION_KEY") if not app.config.get(name)]
    if not missing:
        return
    from crm import fsutil

    path = fsutil.private_dir(app.instance_path) / "config.py"
    values = {"SECRET_KEY": generate_secret_key(), "ENCRYPTION_KEY": generate_encryption_key()}
    lines = [f"{name} = {values[name]!r}\n" for name in missing]
    fsutil.append_private(
        path,
        (
            "# Development secrets generated by the CRM; never use them in production.\n"
            + "".join(lines)
        ).encode(),
    )
    for name in missing:
        app.config[name] = values[name]
    print(
        f"Generated development secrets ({', '.join(missing)}) and stored them in {path}.",
        file=sys.stderr,
    )
