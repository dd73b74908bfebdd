"""Sending a task to the workers by name once the current transaction commits, in the tenant's schema.

A broker outage at that moment must not turn an answered request into an error after its rows were
committed: the send is logged as failed instead (training jobs have their own resend, see
``services/training/queue.py``).
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import connection, transaction
from django_tenants.utils import schema_context

from core import outages

logger = logging.getLogger("scalpel.messaging")


def send_after_commit(task: str, calls: list[list], *, what: str) -> None:
    """Send ``task`` once per argument list in ``calls`` after commit (at once outside a transaction)."""
    schema = connection.schema_name

    def send():
        for args in calls:
            try:
                # The schema header travels with the message (tenant-schemas-celery reads the connection).
                with schema_context(schema):
                    current_app.send_task(task, args=args)
            except (*outages.OUTAGE_ERRORS, OSError) as exc:
                logger.warning(
                    "%s %s could not be sent to the workers (%s: %s)", what, args, type(exc).__name__, exc
                )

    transaction.on_commit(send)
