"""`manage.py services start|stop|status`: the embedded PostgreSQL and Redis alone."""

from config import embedded, env
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL and Redis (used when DATABASE_URL / REDIS_URL are unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args, action, **options):
        try:
            if action == "start":
                started = embedded.start()
                if not started:
                    self.stdout.write("DATABASE_URL and REDIS_URL are set: nothing embedded to start.")
                for name, now in started.items():
                    self.stdout.write(f"{name}: {'started' if now else 'already running'}")
            elif action == "stop":
                embedded.stop()
                self.stdout.write("Embedded services stopped.")
            for line in embedded.status():
                self.stdout.write(line.line())
            if action == "status":
                self.stdout.write(f"data folder: {env.data_dir()}")
        except embedded.EmbeddedServiceError as exc:
            raise CommandError(str(exc)) from exc
