import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()

# runserver (``manage.py dev``'s web process) writes buffered usage when stopped with SIGTERM too.
from tenants.services.usage import usage_flush_on_sigterm  # noqa: E402

usage_flush_on_sigterm()
