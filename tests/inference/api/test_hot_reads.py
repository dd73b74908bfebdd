"""Keys and served versions kept in each web process's memory never outlive a change to them."""

from __future__ import annotations

import time

from django_tenants.utils import schema_context

from inference.models import Model
from inference.services import serving
from inference.services.registry import model_version_promote
from tenants import generations, services
from tenants.models import ApiKey
from tests.factories import key_of, raw_key, tenant_objects
from tests.support import ApiClient


def test_a_key_revoked_after_use_is_refused_on_its_next_request(client, tenant_a):
    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200  # the key is now held in this process's memory
    services.api_key_revoke(key=key_of(api.key))
    response = api.get("models")
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_a_change_made_by_another_process_is_seen_through_the_counter(client, tenant_a):
    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200
    # Another node revokes the key: its row changes and it bumps the shared counter; no signal
    # reaches this process.
    ApiKey.objects.filter(pk=key_of(api.key).pk).update(scopes=["predict"])
    assert api.get("models").status_code == 200  # the counter has not moved yet: memory answers
    generations._bump(generations.API_KEYS)
    assert api.get("models").json()["error"]["code"] == "insufficient_scope"


def test_suspending_a_tenant_refuses_its_cached_keys_at_once(client, tenant_a):
    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200
    services.tenant_suspend(tenant=tenant_a, reason="unpaid")
    assert api.get("models").json()["error"]["code"] == "tenant_suspended"
    services.tenant_reactivate(tenant=tenant_a)
    assert api.get("models").status_code == 200


def test_a_promotion_changes_the_served_version_on_the_next_request(tenant_a):
    objects = tenant_objects(tenant_a, "hot")
    with schema_context(tenant_a.schema_name):
        assert serving._version_for_serving(objects.model, None).number == 2  # production
        assert serving._version_for_serving(objects.model, "production").number == 2
        model = Model.objects.get(name=objects.model)
        model_version_promote(version=model.versions.get(number=1), alias="production")
        assert serving._version_for_serving(objects.model, None).number == 1
        assert serving._version_for_serving(objects.model, "production").number == 1
        assert serving._version_for_serving(objects.model, 2).number == 2


def test_resolved_versions_are_kept_per_tenant(tenant_a, tenant_b):
    a, b = tenant_objects(tenant_a, "same"), tenant_objects(tenant_b, "same")
    assert a.model == b.model
    with schema_context(tenant_b.schema_name):
        model = Model.objects.get(name=b.model)
        model_version_promote(version=model.versions.get(number=1), alias="production")
    for _ in range(2):  # the second round answers from memory
        with schema_context(tenant_a.schema_name):
            mine = serving._version_for_serving(a.model, "production")
        with schema_context(tenant_b.schema_name):
            theirs = serving._version_for_serving(b.model, "production")
        assert (mine.number, theirs.number) == (2, 1)
        with schema_context(tenant_a.schema_name):
            assert Model.objects.get(name=a.model).versions.filter(pk=mine.pk).exists()


def test_without_redis_every_read_goes_to_the_database(client, tenant_a, monkeypatch):
    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200
    from django.conf import settings

    from tenants import redis_client

    monkeypatch.setattr(settings, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setattr(redis_client, "_client", None)
    ApiKey.objects.filter(pk=key_of(api.key).pk).update(scopes=["predict"])  # no counter bump at all
    assert api.get("models").json()["error"]["code"] == "insufficient_scope"


def test_without_redis_the_api_still_answers_unlimited(client, tenant_a, monkeypatch):
    from django.conf import settings

    from tenants import redis_client

    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200
    monkeypatch.setattr(settings, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setattr(redis_client, "_client", None)
    started = time.monotonic()
    response = api.get("models")
    assert response.status_code == 200, response.content
    assert time.monotonic() - started < 2, "an unreachable Redis costs milliseconds, not retries"


def test_a_known_key_costs_one_redis_round_trip_and_no_key_query(client, tenant_a, monkeypatch):
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200  # the first request reads the key from the database
    trips = []
    for cls, name in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
        original = getattr(cls, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if _name == "execute" or not isinstance(self, redis.client.Pipeline):
                trips.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    with CaptureQueriesContext(connection) as queries:
        assert api.get("models").status_code == 200
    assert trips == ["execute"], trips  # keys counter, registry counter and rate counts together
    assert not [q for q in queries.captured_queries if "tenants_apikey" in q["sql"]]
