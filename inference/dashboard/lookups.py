"""Every object a URL names is found here, through selectors of the current tenant, or it is a 404.

Tenant data lives in the tenant's schema (so a name or id from another workspace finds nothing);
API keys live in the public schema and are always filtered by ``request.tenant``.
"""

from __future__ import annotations

from django.http import Http404

from inference.models import Dataset, DatasetVersion, Model, ModelVersion, TrainingJob
from inference.selectors.datasets import dataset_get, dataset_version_get
from inference.selectors.registry import model_get, model_version_get
from inference.selectors.training import training_job_get
from tenants.actors import Actor
from tenants.models import ApiKey
from tenants.request_actor import request_actor
from tenants.selectors import api_key_get


def _found(obj, what: str):
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def dataset_or_404(name: str) -> Dataset:
    return _found(dataset_get(name=name), "dataset")


def dataset_version_or_404(dataset: Dataset, number: int | None) -> DatasetVersion:
    return _found(dataset_version_get(dataset=dataset, number=number), "dataset version")


def model_or_404(name: str) -> Model:
    return _found(model_get(name=name), "model")


def model_version_or_404(model: Model, number: int) -> ModelVersion:
    return _found(model_version_get(model=model, number=number), "model version")


def job_or_404(job_id: int) -> TrainingJob:
    return _found(training_job_get(job_id=job_id), "training job")


def api_key_or_404(request, key_id: int) -> ApiKey:
    return _found(api_key_get(tenant=request.tenant, key_id=key_id), "API key")


def actor(request) -> Actor:
    """Who is acting, with their role: services check it and record it."""
    return request_actor(request)
