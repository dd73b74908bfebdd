"""Scalpel's Django project package (settings, URLs, Celery app, WSGI/ASGI)."""

from .celery_app import app as celery_app

__all__ = ["celery_app"]
