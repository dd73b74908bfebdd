"""`manage.py demo_reset`: put the demo workspace back as `manage.py dev` first made it.

Deletes the demo tenant with everything in it (data, models, keys, files), creates it again with
the same sign-in, and seeds it: the sample data, a model training on each, a new demo key. A
running `dev` promotes the new models and prints the new call; otherwise the next `dev` does.
Refused in production.
"""

from __future__ import annotations

from config import embedded
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Delete the demo workspace's data and seed it again (development only)."

    def handle(self, *args, **options):
        if settings.SCALPEL_ENV == "production":
            raise CommandError("demo_reset is for development only: production has no demo workspace.")
        from console import demo

        started = {}
        try:
            started = embedded.start()  # the embedded servers, unless `dev` already runs them
            creds = demo.demo_reset()
        except (ApplicationError, embedded.EmbeddedServiceError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            embedded.stop(only=started)
        self.stdout.write(
            f"The demo workspace is reset: sign in as {creds['demo']['email']} (password unchanged). Its "
            "models are training; `manage.py dev` promotes them and prints the call to try."
        )
