"""`manage.py tenant_user_add SLUG EMAIL --role owner|admin|member|viewer [--password P]`.

With a password the user can sign in at once. Without one, the user is invited: the command prints
the invitation link (and emails it), which sets the password and works once, for
SCALPEL_INVITATION_MAX_AGE_DAYS days. An existing user gets the role (and the password, if given).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from core.exceptions import ApplicationError
from tenants import selectors
from tenants.permissions import ROLES
from tenants.services.members import member_add, member_invite


class Command(BaseCommand):
    help = (
        "Add a user to a tenant's workspace with a role; without --password, print (and email) an invitation."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument(
            "--password", help="Sign-in password; omit it to send an invitation link instead."
        )

    def handle(self, *args, slug, email, role, password, **options):
        tenant = selectors.tenant_get(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant with the slug '{slug}'.")
        with schema_context(tenant.schema_name):
            existing = get_user_model().objects.filter(username=email.strip().lower()).first()
            try:
                if password or (existing is not None and existing.has_usable_password()):
                    user = member_add(email=email, role=role, password=password, actor="cli")
                    verb = "Updated" if existing else "Added"
                    self.stdout.write(f"{verb} {user.username} in '{slug}' as {role}.")
                    if not password:
                        self.stdout.write("Their password is unchanged.")
                    return
                base_url = settings.SCALPEL_TENANT_URL.format(slug=slug)
                invitation = member_invite(email=email, role=role, actor="cli", base_url=base_url)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"Invited {invitation.user.username} to '{slug}' as {role} (emailed to them).")
        self.stdout.write("The link sets their password; it works once, for "
                          f"{settings.SCALPEL_INVITATION_MAX_AGE_DAYS} days:")  # fmt: skip
        self.stdout.write(invitation.url)
