"""Privacy-first mini-CRM for small Swedish health, therapy and coaching practices."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: the only place one is made (CLI, gunicorn and tests all come here).

    :param test_config: settings applied last, over every other layer.
    :raises crm.config.ConfigurationError: secrets are missing outside development and tests.
    """
    from crm import fsutil

    # First, before anything writes a file: owner-only whatever the umask we were started with.
    fsutil.restrict_umask()
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(TEMPLATES),
        # Where the SQLite database, instance/config.py and (later) media live.
        instance_path=os.environ.get("CRM_INSTANCE_PATH") or None,
    )
    from crm import config

    config.load_config(app, test_config)
    # Repair what older versions (or a hand copy) left readable to others.
    try:
        fsutil.tighten_tree(fsutil.private_dir(app.instance_path))
    except OSError as err:  # a read-only instance path: whatever needs it will say so
        app.logger.warning("instance folder %s: %s", app.instance_path, err.strerror)

    # every model and every feature's entry in the person registry (export and erasure)
    import crm.models  # noqa: F401
    from crm import db
    from crm import features
    from crm import i18n
    from crm import web
    from crm.security import crypto

    crypto.init_app(app)
    db.init_app(app)
    i18n.init_app(app)
    web.init_app(app)
    features.init_app(app)  # after web: the login and role checks come first
    _register_blueprints(app)

    from crm import cli

    cli.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Import feature blueprints here, inside the factory, to keep imports acyclic."""
    from crm.auth import views as auth_views
    from crm.main import views as main_views
    from crm.newsletter import public as newsletter_public
    from crm.newsletter import views as newsletter_views
    from crm.people import views as people_views
    from crm.privacy import activity_views as privacy_activities
    from crm.privacy import public as privacy_public
    from crm.privacy import views as privacy_views
    from crm.representatives import views as representatives_views
    from crm.sync import views as sync_views
    from crm.testimonials import public as testimonials_public
    from crm.testimonials import views as testimonials_views

    # in this order: on a URL both would match, the first registered wins
    for module in (
        main_views,
        auth_views,
        people_views,
        newsletter_views,
        newsletter_public,
        testimonials_views,
        testimonials_public,
        sync_views,
        privacy_views,
        privacy_public,
        privacy_activities,
        representatives_views,
    ):
        app.register_blueprint(module.bp)
