"""Bring a database to a usable platform: schemas migrated, public tenant, base model, operator.

``platform_setup`` is the production bootstrap (``manage.py platform_setup``), run on every release;
``bootstrap`` is ``manage.py dev``'s: the same, plus a generated operator and the demo tenant.
Both are idempotent.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django_tenants.utils import schema_context

from core.exceptions import ApplicationError
from tenants import services
from tenants.selectors import tenant_get
from tenants.services.members import member_add

from .services import base_model_ensure_default

DEMO_SLUG = "demo"


def _credentials_file():
    path = settings.DATA_DIR / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def credentials_load() -> dict:
    path = _credentials_file()
    return json.loads(path.read_text()) if path.exists() else {}


def credentials_save(creds: dict) -> None:
    path = _credentials_file()
    path.write_text(json.dumps(creds, indent=2))
    path.chmod(0o600)


def migrate(verbosity: int = 0) -> None:
    call_command("migrate_schemas", interactive=False, verbosity=verbosity)


@dataclass
class SetupReport:
    public_hosts: list[str] = field(default_factory=list)
    base_model: str = ""
    operator: str = ""  # "created", "exists" (left as it is), or "" (none asked for)
    operators: int = 0  # operator accounts in the public schema afterwards


def operator_check(*, email: str, password: str) -> None:
    """What ``operator_ensure`` refuses, checked before anything is written."""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(f"'{email}' is not an email address.", field="email") from exc
    user = get_user_model()(username=email, email=email)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(
            "Choose a stronger operator password: " + " ".join(exc.messages), field="password"
        ) from exc


def operator_ensure(*, email: str, password: str) -> str:
    """An operator (a superuser of the public schema) named by ``email``; an existing one is kept
    as it is, password included (change it with ``manage.py changepassword``)."""
    user_model = get_user_model()
    with schema_context("public"):
        if user_model.objects.filter(username=email).exists():
            return "exists"
        operator_check(email=email, password=password)
        user_model.objects.create_superuser(username=email, email=email, password=password)
    return "created"


def operator_count() -> int:
    with schema_context("public"):
        return get_user_model().objects.filter(is_superuser=True, is_active=True).count()


def platform_setup(
    *, operator_email: str | None = None, operator_password: str | None = None, migrate_schemas: bool = True
) -> SetupReport:
    """Idempotent: every schema migrated, the public tenant with one domain per public host, the
    bundled base model registered, and the operator when one is named."""
    if bool(operator_email) != bool(operator_password):
        raise ApplicationError("Give both the operator's email and password, or neither.")
    if operator_email:
        # Refused before the migrations run, so that a weak password changes nothing.
        operator_check(email=operator_email, password=operator_password)
    if migrate_schemas:
        migrate()
    report = SetupReport()
    services.ensure_public_tenant()
    report.public_hosts = list(settings.SCALPEL_PUBLIC_HOSTS)
    report.base_model = base_model_ensure_default().id
    if operator_email:
        report.operator = operator_ensure(email=operator_email, password=operator_password)
    report.operators = operator_count()
    return report


def bootstrap(*, demo: bool = True) -> dict:
    """``manage.py dev``'s start: ``platform_setup``, a generated operator and the demo tenant.

    Idempotent: safe on every start. Returns the credentials to print."""
    platform_setup()
    creds = credentials_load()

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
    credentials_save(creds)
    return creds
