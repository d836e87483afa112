"""The WSGI entry point for gunicorn (``web.wsgi:app``): logging set up once for the process, then the app."""

from __future__ import annotations

from . import create_app, logs

logs.configure()
app = create_app()
