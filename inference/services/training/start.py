"""Start, cancel and retry training jobs: every rule a request must pass is checked before it is queued."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict, NotFound
from inference.engine.holdout import EVALUATE_ON, EvaluationSplitError, evaluation_split
from inference.engine.training.plan import (
    METHODS,
    HyperparameterError,
    base_layer_count,
    base_layer_names,
    choose_method,
    freeze_layers_problem,
    lora_target_problem,
    validate_hyperparameters,
)
from inference.models import Dataset, Model, TrainingJob
from inference.selectors.base_models import base_model_dir
from inference.selectors.datasets import dataset_version_to_examples
from inference.selectors.quotas import (
    training_daily_slot_frees_at,
    training_jobs_active,
    training_jobs_counted_today,
)
from inference.services.datasets.rules import DEFAULT_SEED
from tenants.actors import Actor, as_actor
from tenants.models import Tenant
from tenants.permissions import permission_check
from tenants.selectors import base_model_get
from tenants.services.audit import audit_record

from .events import job_event
from .queue import training_job_enqueue

logger = logging.getLogger("scalpel.training")

MODEL_NAME_HELP = "Model names use lowercase letters, digits, hyphens and underscores (1–100 characters)."
# Retry-After of the concurrent-jobs quota: jobs end at no predictable time; a minute is a polite poll.
CONCURRENT_QUOTA_RETRY_SECONDS = 60


def _check_model_name(name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", name):
        raise ApplicationError(f"'{name}' is not a valid model name. {MODEL_NAME_HELP}")


def training_job_start(
    *,
    dataset: str | Dataset,
    model_name: str,
    dataset_version: int | None = None,
    base_model_id: str = "minilm-l6",
    method: str = "auto",
    hyperparameters: dict | None = None,
    time_budget_seconds: int | None = None,
    evaluate_on: str = "auto",
    actor: Actor | str = "",
) -> TrainingJob:
    """Validate a training request, create the job `queued` and enqueue it after commit.

    Every refusal the worker could otherwise meet after training (no rows to evaluate on, a method
    the data cannot take, a base model whose files are gone) is made here, before anything is queued.
    """
    actor = as_actor(actor)
    permission_check(actor=actor, action="training.start")
    if isinstance(dataset, str):
        dataset_obj = Dataset.objects.filter(name=dataset).first()
        if dataset_obj is None:
            raise NotFound(f"There is no dataset named '{dataset}'. Upload data to it first.")
    else:
        dataset_obj = dataset
    versions = dataset_obj.versions.all()
    version = (
        versions.order_by("-number").first()
        if dataset_version is None
        else versions.filter(number=dataset_version).first()
    )
    if version is None:
        which = "any version" if dataset_version is None else f"version {dataset_version}"
        raise NotFound(f"The dataset '{dataset_obj.name}' has no {which}.")
    if not version.trainable:
        blocking = [f["message"] for f in version.report.get("findings", []) if f.get("severity") == "error"]
        raise ApplicationError(
            f"Version {version.number} of '{dataset_obj.name}' cannot be trained on: " + " ".join(blocking),
            code="dataset_not_trainable",
            details={"findings": blocking},
        )
    _check_model_name(model_name)
    existing = Model.objects.filter(name=model_name).first()
    if existing is not None and existing.task != dataset_obj.task:
        raise ApplicationError(
            f"The model '{model_name}' is a {existing.task} model and '{dataset_obj.name}' is a {dataset_obj.task} "
            "dataset: choose another model name."
        )
    base = base_model_get(model_id=base_model_id)
    if base is None:
        raise ApplicationError(
            f"There is no active base model '{base_model_id}'. Ask your operator, or use the default 'minilm-l6'.",
            code="unknown_base_model",
        )
    if method not in ("auto", *METHODS):
        raise ApplicationError(f"Unknown training method '{method}': choose auto, {', '.join(METHODS)}.")
    try:
        validate_hyperparameters(hyperparameters or {}, method=method)
    except HyperparameterError as exc:
        raise ApplicationError(
            f"Invalid hyperparameters: {exc}", details={"hyperparameters": exc.as_details()}
        ) from exc
    _check_against_base(hyperparameters or {}, base)
    _check_base_files(base)

    budget = time_budget_seconds or settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS
    if budget <= 0 or budget > settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS:
        raise ApplicationError(
            f"The time budget must be between 1 and {settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS} seconds."
        )
    # The quotas first, unlocked (a refusal spares the reading below); they are checked again, and
    # taken, under the tenant's row lock when the job is created.
    _check_training_quotas(connection.tenant)
    # Last: it reads every row of the version, which the cheaper refusals above can spare.
    plan = _evaluation_plan(version, method=method, evaluate_on=evaluate_on)

    with transaction.atomic():
        # The tenant's row, locked until commit, serialises job creations of one tenant: the counts
        # below cannot be read by two requests at once, so concurrent requests never exceed a quota.
        tenant = Tenant.objects.select_for_update().get(pk=connection.tenant.pk)
        _check_training_quotas(tenant)
        job = TrainingJob.objects.create(
            dataset_version=version,
            model_name=model_name,
            base_model_id=base.id,
            method=method,
            hyperparameters=hyperparameters or {},
            evaluate_on=evaluate_on,
            evaluation_plan=plan,
            time_budget_seconds=budget,
            created_by=str(actor),
        )
        job_event(job, f"Queued by {actor}: {dataset_obj.name} v{version.number} → model '{model_name}'.")
        job_event(job, plan["statement"])
        audit_record(
            action="training.started", actor=actor, obj=job,
            details={"dataset": dataset_obj.name, "dataset_version": version.number, "model": model_name},
        )  # fmt: skip
        training_job_enqueue(job=job)
    return job


def _check_training_quotas(tenant: Tenant) -> None:
    """Refuse a job the tenant's quotas do not allow (counted while its row is locked)."""
    concurrent, daily = tenant.max_concurrent_training_jobs, tenant.max_training_jobs_per_day
    for name, limit in (("concurrent_jobs", concurrent), ("jobs_per_day", daily)):
        if limit == 0:
            raise ApplicationError(
                "Your plan allows no training jobs"
                + (" at a time" if name == "concurrent_jobs" else " per day")
                + " (the quota is 0). Ask your platform operator to raise it.",
                code="quota_exceeded",
                details={"quota": name, "limit": 0},
            )
    active = training_jobs_active().count()
    if active >= concurrent:
        raise ApplicationError(
            f"You already have {active} training job(s) queued or running, the most your plan allows. "
            "Wait for one to finish or cancel it.",
            code="quota_exceeded",
            details={"quota": "concurrent_jobs", "retry_after": CONCURRENT_QUOTA_RETRY_SECONDS},
        )
    now = timezone.now()
    today = training_jobs_counted_today(now=now).count()
    if today >= daily:
        message = (
            f"You have {today} training jobs started in the last 24 hours or waiting to start, "
            "the most your plan allows."
        )
        frees_at = training_daily_slot_frees_at(limit=daily, now=now)
        if frees_at is None:  # only queued jobs fill the window: one must start and age, or be cancelled
            raise ApplicationError(
                message + " Cancel a queued job, or try again once they have run.",
                code="quota_exceeded",
                details={"quota": "jobs_per_day", "retry_after": CONCURRENT_QUOTA_RETRY_SECONDS},
            )
        wait = max(1, math.ceil((frees_at - now).total_seconds()))
        raise ApplicationError(
            message + f" The next one can start in {_duration(wait)}.",
            code="quota_exceeded",
            details={"quota": "jobs_per_day", "retry_after": wait},
        )


def _evaluation_plan(version, *, method: str, evaluate_on: str) -> dict:
    """The test set the job will be judged on (the worker resolves the same one: the version's rows
    never change and the hold-out is seeded by the version's split seed), refused when there is none."""
    if evaluate_on not in EVALUATE_ON:
        raise ApplicationError(
            f"Unknown evaluate_on '{evaluate_on}': choose {', '.join(EVALUATE_ON)}.",
            details={"evaluate_on": list(EVALUATE_ON)},
            field="evaluate_on",
        )
    task = version.dataset.task
    seed = int((version.split_config or {}).get("seed", DEFAULT_SEED))
    try:
        split = evaluation_split(
            dataset_version_to_examples(version), task=task, evaluate_on=evaluate_on, seed=seed
        )
    except EvaluationSplitError as exc:
        raise ApplicationError(exc.message, code=exc.code, details=exc.details, field="evaluate_on") from exc
    train = [ex for ex in split.examples if (ex.split or "train") == "train"]
    try:
        choose_method(method, train, task, list(version.labels))
    except ValueError as exc:
        raise ApplicationError(
            f"The method '{method}' cannot train this {task} dataset: {exc}",
            code="method_not_applicable",
            field="method",
        ) from exc
    return split.summary()


def _check_base_files(base) -> None:
    """A registered base model whose files are missing would fail the job once it starts."""
    try:
        directory = Path(base_model_dir(base))
    except (OSError, ValueError, ImportError):
        directory = None
    if directory is None or not (directory / "config.json").is_file():
        raise ApplicationError(
            f"The base model '{base.id}' cannot be loaded on this platform right now (its files are "
            "missing). Ask your operator, or use another base model.",
            code="base_model_unavailable",
            field="base_model",
        )


def _check_against_base(hyperparameters: dict, base) -> None:
    """Refuse knobs the base model cannot honour (LoRA targets it lacks, more frozen layers than it
    has) now, not minutes later in the worker."""
    targets, frozen = hyperparameters.get("lora_target_modules"), hyperparameters.get("freeze_layers")
    if not (targets or frozen):
        return
    try:
        directory = base_model_dir(base)
        problems = {
            "lora_target_modules": targets
            and lora_target_problem(list(targets), base_layer_names(directory)),
            "freeze_layers": frozen and freeze_layers_problem(frozen, base_layer_count(directory)),
        }
    except (OSError, ValueError):  # an unreadable base is reported by the worker, with its own reason
        logger.warning("cannot read the layers of base model %s", base.id, exc_info=True)
        return
    problems = {name: problem for name, problem in problems.items() if problem}
    if problems:
        raise ApplicationError(
            "Invalid hyperparameters: " + "; ".join(f"{n}: {p}" for n, p in problems.items()) + ".",
            details={"hyperparameters": problems},
        )


def _duration(seconds: int) -> str:
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{max(minutes, 1)} min"


def training_job_cancel(*, job: TrainingJob, actor: Actor | str = "") -> TrainingJob:
    """A queued job is cancelled at once; a running one stops at its next step (within seconds)."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="training.cancel")
    if not job.is_active:
        raise Conflict(f"Job {job.pk} is already {job.status}: there is nothing to cancel.")
    now = timezone.now()
    if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error="Cancelled before it started.",
    ):
        job_event(job, f"Cancelled by {actor} before it started.")
        stage = "queued"
    else:
        TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        job_event(job, f"Cancellation requested by {actor}; the worker stops at its next step.")
        stage = "running"
    job.refresh_from_db()
    audit_record(action="training.cancelled", actor=actor, obj=job, details={"was": stage})
    return job


def training_jobs_stop_all(*, reason: str, code: str) -> tuple[int, int]:
    """Cancel every queued job and ask every running one to stop (at its next progress check), e.g.
    when the workspace is suspended. Returns (cancelled, asked to stop)."""
    now = timezone.now()
    queued = list(TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED))
    cancelled = TrainingJob.objects.filter(
        pk__in=[j.pk for j in queued], status=TrainingJob.Status.QUEUED
    ).update(
        status=TrainingJob.Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error=reason,
        error_code=code,
    )
    for job in queued:
        job_event(job, reason, level="warning")
    running = list(TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING, cancel_requested=False))
    TrainingJob.objects.filter(pk__in=[j.pk for j in running]).update(cancel_requested=True)
    for job in running:
        job_event(job, reason + " The worker stops at its next step.", level="warning")
    return cancelled, len(running)


def training_job_retry(*, job: TrainingJob, actor: Actor | str = "") -> TrainingJob:
    """Start a new job with the same request as a failed or cancelled one."""
    if job.status not in (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED):
        raise Conflict(f"Only failed or cancelled jobs can be retried; job {job.pk} is {job.status}.")
    return training_job_start(
        dataset=job.dataset_version.dataset,
        dataset_version=job.dataset_version.number,
        model_name=job.model_name,
        base_model_id=job.base_model_id,
        method=job.method,
        hyperparameters=job.hyperparameters,
        time_budget_seconds=job.time_budget_seconds,
        evaluate_on=job.evaluate_on,
        actor=actor,
    )
