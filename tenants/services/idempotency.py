"""Idempotency keys of API POSTs: the first answer is kept 24 hours and replayed to a retry.

A key is claimed by inserting its row (``in_progress``) in a transaction of its own, so a
concurrent duplicate finds it and is told to retry shortly instead of doing the work twice. The
row then gets the answer (``done``); an answer that is an error releases the key instead, so a
corrected request can use it again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict

from ..models import ApiKey, IdempotencyRecord

KEEP = timedelta(hours=24)
# A claim whose request never answered (its process died) stops blocking the key after this long.
ABANDONED_AFTER = timedelta(minutes=15)
IN_USE_RETRY_SECONDS = 1


def idempotency_claim(*, api_key: ApiKey, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """The key's record and whether this request claimed it (do the work) or not (replay its answer).

    Refuses the key when it was used with another request (``idempotency_key_reused``) or while
    that request still runs (``idempotency_key_in_use``).
    """
    for _ in range(3):
        with transaction.atomic():
            record, created = IdempotencyRecord.objects.get_or_create(
                tenant_id=api_key.tenant_id, api_key=api_key, key=key, defaults={"fingerprint": fingerprint}
            )
        if created:
            return record, True
        now = timezone.now()
        abandoned = (
            record.state == IdempotencyRecord.State.IN_PROGRESS and record.created_at < now - ABANDONED_AFTER
        )
        if record.created_at < now - KEEP or abandoned:
            # Conditional on the row read, so that of two retries only one takes the key over.
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise ApplicationError(
                "This Idempotency-Key was already used with a different request (method, path or body) "
                "in the last 24 hours. Send a new key for a new request.",
                code="idempotency_key_reused",
            )
        if record.state == IdempotencyRecord.State.IN_PROGRESS:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed. Retry shortly to get its answer.",
                code="idempotency_key_in_use",
                details={"retry_after": IN_USE_RETRY_SECONDS},
            )
        return record, False
    raise Conflict(
        "A request with this Idempotency-Key is still being processed. Retry shortly to get its answer.",
        code="idempotency_key_in_use",
        details={"retry_after": IN_USE_RETRY_SECONDS},
    )


def idempotency_complete(*, record: IdempotencyRecord, status: int, body, headers: dict) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE,
        response_status=status,
        response_body=body,
        response_headers=headers,
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).delete()


def idempotency_purge(*, now=None) -> int:
    """Forget answers older than 24 hours (a beat task calls this hourly)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=(now or timezone.now()) - KEEP).delete()
    return deleted
