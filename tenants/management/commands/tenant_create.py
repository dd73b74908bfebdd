"""`manage.py tenant_create SLUG [--name NAME] [--admin-email EMAIL --admin-password PASSWORD]`."""

from django.core.management.base import BaseCommand, CommandError

from tenants import services


class Command(BaseCommand):
    help = "Create a tenant: its schema, its domain <slug>.<base domain> and optionally its first admin user."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name")
        parser.add_argument("--admin-email")
        parser.add_argument("--admin-password")

    def handle(self, *args, slug, name, admin_email, admin_password, **options):
        try:
            tenant = services.tenant_create(
                slug=slug, name=name, admin_email=admin_email, admin_password=admin_password, actor="cli"
            )
        except services.TenantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant '{tenant.slug}' (schema {tenant.schema_name}).")
        )
        self.stdout.write(f"Workspace: http://{services.tenant_domain(tenant.slug)}:8000/admin/")
        if admin_email:
            self.stdout.write(f"Admin user: {admin_email}")
