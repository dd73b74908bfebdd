"""`manage.py platform_setup [--noinput] [--skip-migrate]`: bring a database to a working platform.

Run it on every release, from one machine, before starting the new processes (docs/operations.md).
It migrates every schema, creates the public tenant with one domain per
SCALPEL_PUBLIC_HOSTS entry, registers the bundled base model, and creates the operator named by
DJANGO_SUPERUSER_EMAIL / DJANGO_SUPERUSER_PASSWORD (or asked for, without --noinput, when no
operator exists yet). Running it again changes nothing that is already there.
"""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from console import bootstrap
from core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Migrate, create the public tenant and its domains, register the base model and the operator."

    def add_arguments(self, parser):
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt: the operator comes from DJANGO_SUPERUSER_EMAIL/DJANGO_SUPERUSER_PASSWORD or is skipped.",
        )
        parser.add_argument(
            "--skip-migrate",
            action="store_true",
            help="Do not run the migrations (they were run separately).",
        )

    def handle(self, *args, interactive: bool, skip_migrate: bool, verbosity: int = 1, **options):
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or None
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or None
        try:
            if not skip_migrate:
                self.stdout.write("Migrating every schema…")
            report = bootstrap.platform_setup(
                operator_email=email, operator_password=password, migrate_schemas=not skip_migrate
            )
            if not email and not report.operators and interactive:
                email, password = self._ask_operator()
                report.operator = bootstrap.operator_ensure(email=email, password=password)
                report.operators = bootstrap.operator_count()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Public hosts: {', '.join(report.public_hosts)}")
        self.stdout.write(f"Default base model: {report.base_model}")
        if report.operator == "created":
            self.stdout.write(f"Operator {email} created.")
        elif report.operator == "exists":
            self.stdout.write(f"Operator {email} exists already (left unchanged).")
        if not report.operators:
            self.stdout.write(
                self.style.WARNING(
                    "No operator account yet: set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD "
                    "and run platform_setup again, or run createsuperuser."
                )
            )
        self.stdout.write(self.style.SUCCESS("The platform is set up."))

    def _ask_operator(self) -> tuple[str, str]:
        self.stdout.write(
            "No operator account exists yet: create one (it signs in to /admin/ on the public hosts)."
        )
        for _ in range(3):
            email = input("Operator email: ").strip()
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The passwords differ; try again.")
                continue
            try:
                bootstrap.operator_check(email=email, password=password)
            except ApplicationError as exc:
                self.stderr.write(exc.message)
                continue
            return email, password
        raise CommandError(
            "No operator created: run platform_setup again, or set DJANGO_SUPERUSER_EMAIL/PASSWORD."
        )
