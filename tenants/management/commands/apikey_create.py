"""`manage.py apikey_create SLUG [--name NAME] [--scopes SCOPE ...]`: prints the key alone on the last line."""

from django.core.management.base import BaseCommand, CommandError

from tenants import selectors, services
from tenants.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for a tenant. The key is shown once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="cli")
        parser.add_argument(
            "--scopes", nargs="+", choices=ApiKey.SCOPES, default=["predict", "data", "train", "read"]
        )

    def handle(self, *args, slug, name, scopes, **options):
        tenant = selectors.tenant_get(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant with the slug '{slug}'.")
        try:
            key, raw_key = services.api_key_create(tenant=tenant, name=name, scopes=scopes, actor="cli")
        except services.TenantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"API key '{key.name}' for tenant '{slug}' (prefix {key.prefix}, scopes {' '.join(key.scopes)})."
        )
        self.stdout.write("Store it now: it is not shown again.")
        self.stdout.write(raw_key)
