"""The Celery app. Tasks carry the schema of the tenant that sent them (tenant-schemas-celery)."""

import os

from tenant_schemas_celery.app import CeleryApp

from . import celery_signals  # noqa: F401 - task logging, the request id, the worker heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = CeleryApp("scalpel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
