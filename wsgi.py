"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``.

The app refuses to start without CRM_SECRET_KEY and CRM_ENCRYPTION_KEY (see README).
"""

from crm import create_app

app = create_app()
