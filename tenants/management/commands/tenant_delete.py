"""`manage.py tenant_delete SLUG [--yes]`: delete a tenant and everything of it, for good."""

import sys

from django.core.management.base import BaseCommand, CommandError

from tenants import services
from tenants.selectors import tenant_get


def summary_lines(summary: dict) -> list[str]:
    """What will go, one line per kind, in the words an operator reads."""
    names = lambda key: f": {', '.join(summary[key])}" if summary.get(key) else ""  # noqa: E731
    return [
        f"- {len(summary.get('datasets', []))} dataset(s){names('datasets')}, "
        f"{summary.get('dataset_versions', 0)} version(s)",
        f"- {len(summary.get('models', []))} model(s){names('models')}, "
        f"{summary.get('model_versions', 0)} version(s)",
        f"- {summary.get('training_jobs', 0)} training job(s), {summary.get('feedback', 0)} feedback row(s), "
        f"{summary.get('prediction_logs', 0)} logged prediction(s), {summary.get('users', 0)} user(s)",
        f"- {summary['files']} stored file(s), {summary['file_bytes']:,} bytes, and this node's cached copies",
        f"- {summary['api_keys']} API key(s), {summary['usage_rows']} usage row(s), "
        f"{summary['audit_entries']} audit entr(y/ies), domain(s){names('domains')}",
        "- its database schema and its Redis keys",
    ]


class Command(BaseCommand):
    help = "Delete a tenant: its schema, stored and cached files, Redis keys and platform rows. Irreversible."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--yes", action="store_true", help="Delete without asking.")

    def handle(self, *args, slug, yes, **options):
        tenant = tenant_get(slug=slug)
        if tenant is None or tenant.schema_name == "public":
            raise CommandError(f"There is no tenant '{slug}'.")
        self.stdout.write(f"Deleting tenant '{slug}' removes, for good:")
        for line in summary_lines(services.tenant_deletion_summary(tenant=tenant)):
            self.stdout.write(line)
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("Nothing was deleted. Add --yes to delete this tenant.")
            if input(f"Type the tenant's slug ({slug}) to delete it: ").strip() != slug:
                raise CommandError("Nothing was deleted.")
        services.tenant_delete(tenant=tenant, actor="cli")
        self.stdout.write(self.style.SUCCESS(f"Deleted tenant '{slug}'."))
