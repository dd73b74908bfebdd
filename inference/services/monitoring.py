"""Monitoring of live models: per version and day, traffic, errors, latency, confidence and answers.

``stats_record`` runs on the predict path and only adds to an in-memory buffer (microseconds); a
background thread merges it into ``ModelStatsDay`` rows of the tenant's schema every
``SCALPEL_USAGE_FLUSH_SECONDS`` (at once when that is 0), and at process exit. ``model_health`` reads
them back: charts per day, the answers' label mix against the evaluation's, and the alerts.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import threading
import time
from collections import Counter
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from core.exceptions import ApplicationError
from inference.models import Model, ModelStatsDay, ModelVersion
from inference.models.monitoring import LATENCY_BUCKETS_MS
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check

logger = logging.getLogger("scalpel.monitoring")

ALERT_WINDOW_DAYS = 7
ALERT_MIN_TEXTS = 50  # fewer answers than this in the window say too little to alert on


def answer_summary(prediction: dict) -> tuple[float | None, list[str]]:
    """A text's confidence (its top score) and the labels it was answered with."""
    if "entities" in prediction:
        entities = prediction["entities"]
        scores = [e["score"] for e in entities if "score" in e]
        return (sum(scores) / len(scores) if scores else None), [e["label"] for e in entities]
    if "label" in prediction:
        return prediction.get("score"), [prediction["label"]]
    labels = prediction.get("labels") or []
    return (max((x["score"] for x in labels), default=None)), [x["label"] for x in labels]


class _Day:
    __slots__ = ("requests", "texts", "errors", "latency", "confidence_sum", "confidence_n", "labels")

    def __init__(self):
        self.requests = self.texts = self.errors = self.confidence_n = 0
        self.confidence_sum = 0.0
        self.latency = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        self.labels: Counter[str] = Counter()


class StatsBuffer:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, int, date], _Day] = {}
        self._thread: threading.Thread | None = None

    def add(self, *, schema, model, version, latency_ms, predictions=(), error=False) -> None:
        key = (schema, model, version, timezone.now().date())
        bucket = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
        with self._lock:
            day = self._pending.get(key) or self._pending.setdefault(key, _Day())
            day.requests += 1
            day.errors += int(error)
            day.latency[bucket] += 1
            for prediction in predictions:
                day.texts += 1
                confidence, labels = answer_summary(prediction)
                if confidence is not None:
                    day.confidence_sum += confidence
                    day.confidence_n += 1
                day.labels.update(labels)
            if settings.SCALPEL_USAGE_FLUSH_SECONDS > 0 and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="model-stats-flush", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _loop(self) -> None:
        while True:
            time.sleep(settings.SCALPEL_USAGE_FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - kept for the next flush; never kill the thread
                logger.exception("model stats flush failed")

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        by_schema: dict[str, list] = {}
        for key, day in pending.items():
            by_schema.setdefault(key[0], []).append((key, day))
        written = 0
        for schema, items in by_schema.items():
            try:
                with schema_context(schema), transaction.atomic():
                    for (_, model, version, on), day in items:
                        _merge(model, version, on, day)
                        written += 1
            except Exception:
                with self._lock:  # put them back: counted by the next flush
                    for key, day in items:
                        if key in self._pending:
                            _add(self._pending[key], day)
                        else:
                            self._pending[key] = day
                raise
        return written


def _add(into: _Day, day: _Day) -> None:
    into.requests += day.requests
    into.texts += day.texts
    into.errors += day.errors
    into.confidence_sum += day.confidence_sum
    into.confidence_n += day.confidence_n
    into.latency = [a + b for a, b in zip(into.latency, day.latency, strict=True)]
    into.labels.update(day.labels)


def _merge(model: str, version: int, on: date, day: _Day) -> None:
    row, _ = ModelStatsDay.objects.select_for_update().get_or_create(
        model_name=model, version=version, day=on, defaults={"latency_counts": [0] * len(day.latency)}
    )
    row.requests += day.requests
    row.texts += day.texts
    row.errors += day.errors
    row.confidence_sum += day.confidence_sum
    row.confidence_n += day.confidence_n
    counts = list(row.latency_counts) + [0] * (len(day.latency) - len(row.latency_counts))
    row.latency_counts = [a + b for a, b in zip(counts, day.latency, strict=True)]
    labels = Counter(row.label_counts)
    labels.update(day.labels)
    row.label_counts = dict(labels)
    row.save()


stats_buffer = StatsBuffer()


def stats_record(*, model: str, version: int, latency_ms: float, predictions=(), error: bool = False) -> None:
    """Count one answered (or failed) prediction request of a model version; never raises."""
    try:
        stats_buffer.add(
            schema=connection.schema_name, model=model, version=version, latency_ms=latency_ms,
            predictions=predictions, error=error,
        )  # fmt: skip
        if settings.SCALPEL_USAGE_FLUSH_SECONDS <= 0:
            stats_buffer.flush()
    except Exception:  # noqa: BLE001 - monitoring must never fail a prediction
        logger.exception("model stats not recorded")


def stats_flush() -> None:
    stats_buffer.flush()


# -- reading ----------------------------------------------------------------------------------------


def percentile(counts: list[int], q: float) -> int | None:
    """The latency bucket bound (ms) under which ``q`` of the requests fell; None without requests."""
    total = sum(counts)
    if not total:
        return None
    seen = 0
    for i, n in enumerate(counts):
        seen += n
        if seen >= q * total:
            return LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else LATENCY_BUCKETS_MS[-1] * 2
    return LATENCY_BUCKETS_MS[-1] * 2


def label_mix(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: n / total for label, n in counts.items()} if total else {}


def drift(a: dict[str, float], b: dict[str, float]) -> float:
    """Total variation distance between two label mixes: 0 the same, 1 nothing in common."""
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def evaluation_mix(version: ModelVersion | None) -> dict[str, float]:
    """The label mix of what the version answered on its test split when it was evaluated."""
    if version is None:
        return {}
    counts: Counter[str] = Counter()
    for prediction in (version.metrics or {}).get("predictions") or []:
        counts.update(answer_summary(prediction)[1])
    return label_mix(dict(counts))


def model_health(*, model: Model, days: int = 30, today: date | None = None) -> dict:
    """Per day (all versions): requests, texts, errors, p50/p95 latency, mean confidence; the label mix
    of the last week against the evaluation's; and the alerts it raises."""
    today = today or timezone.now().date()
    since = today - timedelta(days=days - 1)
    rows = list(ModelStatsDay.objects.filter(model_name=model.name, day__gte=since))
    per_day: dict[date, dict] = {}
    for row in rows:
        d = per_day.setdefault(
            row.day, {"requests": 0, "texts": 0, "errors": 0, "latency": [0] * (len(LATENCY_BUCKETS_MS) + 1),
                      "confidence_sum": 0.0, "confidence_n": 0})  # fmt: skip
        d["requests"] += row.requests
        d["texts"] += row.texts
        d["errors"] += row.errors
        d["latency"] = [a + b for a, b in zip(d["latency"], row.latency_counts, strict=False)]
        d["confidence_sum"] += row.confidence_sum
        d["confidence_n"] += row.confidence_n
    daily = []
    for day in sorted(per_day):
        d = per_day[day]
        daily.append({
            "day": day, "requests": d["requests"], "texts": d["texts"], "errors": d["errors"],
            "error_rate": d["errors"] / d["requests"] if d["requests"] else 0.0,
            "p50_ms": percentile(d["latency"], 0.5), "p95_ms": percentile(d["latency"], 0.95),
            "confidence": d["confidence_sum"] / d["confidence_n"] if d["confidence_n"] else None,
        })  # fmt: skip
    window = today - timedelta(days=ALERT_WINDOW_DAYS - 1)
    recent_counts: Counter[str] = Counter()
    confidence_sum = confidence_n = texts = 0
    for row in rows:
        if row.day >= window:
            recent_counts.update(row.label_counts)
            confidence_sum += row.confidence_sum
            confidence_n += row.confidence_n
            texts += row.texts
    production = (
        model.versions.filter(aliases__alias="production").first()
        or model.versions.order_by("-number").first()
    )
    expected = evaluation_mix(production)
    recent = label_mix(dict(recent_counts))
    moved = drift(recent, expected) if recent and expected else None
    mean_confidence = confidence_sum / confidence_n if confidence_n else None
    alerts = []
    if texts >= ALERT_MIN_TEXTS:
        if moved is not None and moved > model.drift_threshold:
            alerts.append(
                f"The answers' label mix moved {moved:.2f} from the evaluation's over the last {ALERT_WINDOW_DAYS} "
                f"days (your threshold: {model.drift_threshold:.2f}): the texts sent may no longer look like the "
                "training data. Review recent answers and add corrected examples."
            )
        if mean_confidence is not None and mean_confidence < model.confidence_floor:
            alerts.append(
                f"Mean confidence was {mean_confidence:.2f} over the last {ALERT_WINDOW_DAYS} days (your floor: "
                f"{model.confidence_floor:.2f}): the model is unsure of many answers."
            )
    labels = sorted(set(recent) | set(expected), key=lambda k: -max(recent.get(k, 0), expected.get(k, 0)))
    return {
        "daily": daily,
        "window_days": ALERT_WINDOW_DAYS,
        "window_texts": texts,
        "mix": [
            {"label": k, "recent": recent.get(k, 0.0), "evaluation": expected.get(k, 0.0)}
            for k in labels[:30]
        ],
        "drift": moved,
        "mean_confidence": mean_confidence,
        "evaluated_version": production.number if production else None,
        "alerts": alerts,
    }


def model_alert_settings_set(
    *, model: Model, drift_threshold: float, confidence_floor: float, actor: Actor | str = ""
) -> Model:
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.promote")
    for name, value in (("drift_threshold", drift_threshold), ("confidence_floor", confidence_floor)):
        if not 0 <= value <= 1:
            raise ApplicationError(f"{name} must be between 0 and 1.", code="validation_failed", field=name)
    model.drift_threshold, model.confidence_floor = drift_threshold, confidence_floor
    model.save(update_fields=["drift_threshold", "confidence_floor"])
    return model
