"""Hostile URLs get no 5xx: every URL pattern of the dashboard, the tenant admin and the operator
console, signed in as a user who may see it, with query strings a prober would send (NUL bytes,
10,000 characters, invalid regex and unknown lookups, negative orderings and pages, odd Unicode)."""

from __future__ import annotations

import logging
import re
import time

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver
from django_tenants.utils import schema_context, tenant_context

from inference.models import Dataset
from tenants.models import ApiKey
from tests.factories import key_of, raw_key, tenant_objects

HOST = "alpha.localhost"
# Sent to every page.
HOSTILE = [
    "q=%00",
    "%00=1",
    "x__regex=(",
    "o=-999",
    "p=-1",
    "page=-1",
    "page=99999999999999999999",
    "a=" + "x" * 10_000,
    "q=%F0%9F%92%A9%E2%80%AE%D8%A7%ED%A0%80",
    "q=%ff%fe",
]
# Sent to the admin's lists too: lookups on the fields they filter on.
LOOKUPS = ["{f}__regex=(", "{f}__iregex=[", "{f}__gt=abc", "{f}__in=", "{f}__nonsense=1", "{f}__isnull=maybe"]


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.name


def _concrete(route: str, values: dict) -> str | None:
    """The route with each parameter filled from ``values`` (None: a route we do not fuzz)."""
    if route.startswith("api/") or route.startswith("^api/"):
        return None  # the API has its own schema-driven fuzzing
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<app_label>([\w|]+)\)", lambda m: m.group(1).split("|")[0], route)
    route = route.replace("(?P<url>.*)", "no-such-page/")

    def fill(match):
        name = match.group(2)
        return str(values[name](route) if callable(values[name]) else values[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def _admin_object_id(schema: str):
    """The pk of an existing row of the admin page's model, or a dummy id."""

    def pick(route: str):
        parts = route.split("/")
        try:
            model = apps.get_model(parts[1], parts[2])
        except (LookupError, IndexError):
            return 1
        with schema_context(schema):
            row = model._default_manager.order_by("pk").first()
        return row.pk if row is not None else 1

    return pick


def _list_filter_fields(site, route: str) -> list[str]:
    parts = route.split("/")
    if len(parts) != 4 or parts[3] != "":
        return []
    for model, model_admin in site._registry.items():
        if (model._meta.app_label, model._meta.model_name) == (parts[1], parts[2]):
            names = [f for f in model_admin.list_filter if isinstance(f, str)]
            return names + list(model_admin.search_fields[:1])
    return []


def _fuzz(client: Client, urlconf: str, values: dict, site=None) -> list[str]:
    client.raise_request_exception = False  # a 500 is a finding to list, not an error of the test
    failures, sent = [], 0
    for route, _name in _routes(get_resolver(urlconf).url_patterns):
        path = _concrete(route, values)
        if path is None:
            continue
        queries = ["", *HOSTILE]
        if site is not None:
            queries += [
                q.format(f=f)
                for f in _list_filter_fields(site, route.removeprefix("admin/"))
                for q in LOOKUPS
            ]
        for query in queries:
            url = f"{path}?{query}" if query else path
            response = client.get(url)
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{response.status_code} GET {url[:120]}")
    assert sent > 100, f"only {sent} requests: the URL walk found too few pages"
    return failures


@pytest.fixture(autouse=True)
def _quiet_refusal_logs():
    """Django logs each 4xx with its traceback, which costs more than the request; 5xx still log."""
    quieted = {"django.request": logging.ERROR, "django.security": logging.CRITICAL}
    before = {name: logging.getLogger(name).level for name in quieted}
    for name, level in quieted.items():
        logging.getLogger(name).setLevel(level)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def alpha_pages(tenant_a):
    """Tenant A with one of everything, and the values that fill its URLs' parameters."""
    objects = tenant_objects(tenant_a, "fz")
    key = key_of(raw_key(tenant_a))
    with tenant_context(tenant_a):
        dataset = Dataset.objects.get(name=objects.dataset)
        user = get_user_model().objects.order_by("pk").first()
        content_type = ContentType.objects.get_for_model(Dataset)
    return {
        "name": lambda route: objects.dataset if route.startswith("datasets") else objects.model,
        "number": 1,
        "job_id": objects.job_id,
        "key_id": key.pk,
        "user_id": user.pk,
        "fmt": "csv",
        "token": "not-a-token",
        "uidb64": "MQ",
        "content_type_id": content_type.pk,
        "object_id": lambda route: (
            dataset.pk
            if route.startswith("admin/r/")
            else _admin_object_id(tenant_a.schema_name)(route.removeprefix("admin/"))
        ),
        "id": lambda route: user.pk,
        # Pages of rows this fixture does not make: a missing one is a 404, which is fine here.
        "batch_id": 1,
        "endpoint_id": 1,
        "log_id": 1,
        "feedback_id": objects.feedback_id,
    }


def test_no_dashboard_or_tenant_admin_page_answers_a_hostile_query_with_a_5xx(
    signed_in, alpha_pages, workspace_user
):
    from inference.admin import tenant_admin_site

    started = time.monotonic()
    dashboard = signed_in("owner")
    failures = _fuzz(dashboard, "config.urls_tenants", alpha_pages, site=tenant_admin_site)
    assert not failures, "\n".join(failures)
    assert time.monotonic() - started < 60


def test_no_console_page_answers_a_hostile_query_with_a_5xx(client, tenant_a, alpha_pages):
    from console.admin import operator_site

    with schema_context("public"):
        get_user_model().objects.create_superuser(
            username="fz-op", email="op@fz.example", password="pw-fz-4417"
        )
    client.login(username="fz-op", password="pw-fz-4417")
    values = {
        **alpha_pages,
        "object_id": lambda route: _admin_object_id("public")(route.removeprefix("admin/")),
        "id": lambda route: get_user_model().objects.get(username="fz-op").pk,
        "tenant": tenant_a.slug,
        "action": "cancel",
    }
    failures = _fuzz(client, "config.urls_public", values, site=operator_site)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "query", ["status__regex=(", "action__iregex=[", "day__gt=abc", "tenant__id__regex=("]
)
def test_a_filter_the_database_refuses_sends_the_console_to_its_error_page(client, tenant_a, query):
    with schema_context("public"):
        get_user_model().objects.create_superuser(
            username="fz-op", email="op@fz.example", password="pw-fz-4417"
        )
    client.login(username="fz-op", password="pw-fz-4417")
    model = {"s": "tenant", "a": "auditentry", "d": "usageday", "t": "apikey"}[query[0]]
    response = client.get(f"/admin/tenants/{model}/?{query}")
    assert response.status_code == 302 and response["Location"] == f"/admin/tenants/{model}/?e=1"
    page = client.get(response["Location"]).content.decode()
    if "regex" in query:  # refused by the database, not by Django's own lookup checks: say so
        assert "These filters could not be applied" in page


@pytest.mark.parametrize("path", ["/datasets/?q=%00", "/admin/inference/dataset/%00/change/", "/%00/"])
def test_a_nul_byte_in_the_address_is_refused_with_a_400_that_says_so(signed_in, path):
    response = signed_in("owner").get(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_byte_in_an_api_query_is_a_400_malformed_request(client, tenant_a):
    response = client.get("/api/v1/models?x=%00", HTTP_AUTHORIZATION=f"Bearer {raw_key(tenant_a)}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert ApiKey.objects.filter(tenant=tenant_a).exists()
