"""Bring a database to a usable platform: schemas migrated, public tenant, operator, demo tenant."""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_tenants.utils import schema_context

from tenants import services
from tenants.selectors import tenant_get
from tenants.services.members import member_add

from .services import base_model_ensure_default

DEMO_SLUG = "demo"


def _credentials_file():
    path = settings.DATA_DIR / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _load_credentials() -> dict:
    path = _credentials_file()
    return json.loads(path.read_text()) if path.exists() else {}


def _save_credentials(creds: dict) -> None:
    path = _credentials_file()
    path.write_text(json.dumps(creds, indent=2))
    path.chmod(0o600)


def migrate(verbosity: int = 0) -> None:
    call_command("migrate_schemas", interactive=False, verbosity=verbosity)


def bootstrap(*, demo: bool = True) -> dict:
    """Idempotent: safe on every start. Returns the credentials to print."""
    services.ensure_public_tenant()
    base_model_ensure_default()
    creds = _load_credentials()

    user_model = get_user_model()
    operator = creds.get("operator") or {"username": "operator", "password": secrets.token_urlsafe(12)}
    if not user_model.objects.filter(username=operator["username"]).exists():
        user_model.objects.create_superuser(
            username=operator["username"], email="", password=operator["password"]
        )
    creds["operator"] = operator

    if demo:
        demo_creds = creds.get("demo") or {
            "email": f"admin@{DEMO_SLUG}.example",
            "password": secrets.token_urlsafe(12),
        }
        tenant = tenant_get(slug=DEMO_SLUG)
        if tenant is None:
            tenant = services.tenant_create(
                slug=DEMO_SLUG,
                name="Demo workspace",
                admin_email=demo_creds["email"],
                admin_password=demo_creds["password"],
                actor="bootstrap",
            )
        else:
            with schema_context(tenant.schema_name):
                if not user_model.objects.filter(username=demo_creds["email"]).exists():
                    member_add(
                        email=demo_creds["email"],
                        role="owner",
                        password=demo_creds["password"],
                        actor="bootstrap",
                    )
        creds["demo"] = demo_creds
    _save_credentials(creds)
    return creds
