"""Django's development server (with static files), holding more waiting connections.

socketserver lets 10 connections wait to be accepted; a burst of concurrent clients (64 in the
tests) then met connection resets although each is answered in milliseconds. The listen queue here
is as long as gunicorn's default lets it be.
"""

from __future__ import annotations

from django.contrib.staticfiles.management.commands.runserver import Command as StaticFilesRunserver
from django.core.servers.basehttp import WSGIServer


class PatientWSGIServer(WSGIServer):
    request_queue_size = 1024


class Command(StaticFilesRunserver):
    server_cls = PatientWSGIServer
