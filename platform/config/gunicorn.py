"""gunicorn settings of the Procfile's web process: ``gunicorn config.wsgi -c python:config.gunicorn``.

Every setting can be changed without editing this file: ``PORT``, ``WEB_CONCURRENCY`` (processes),
``GUNICORN_THREADS``, or any gunicorn flag in ``GUNICORN_CMD_ARGS`` (which wins over this file).
"""

import os
import tempfile
from pathlib import Path

from config.log_format import default_format, logging_config

# Metrics of all the worker processes are added up through files in one folder (core/metrics.py).
# prometheus-client chooses its mode when it is first imported, so the variable is set here, in the
# master, before any worker imports it; the folder is emptied at each start (old processes' files
# would count twice).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scalpel-metrics-")

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
# Behind a proxy on another machine: FORWARDED_ALLOW_IPS (gunicorn's own variable) names it.
# gunicorn's own lines (start, workers booting, timeouts) in the platform's format; Django's
# access log line per request replaces gunicorn's (SCALPEL_ACCESS_LOG).
logconfig_dict = logging_config(
    log_format=os.environ.get("LOG_FORMAT") or default_format(os.environ.get("SCALPEL_ENV", "development")),
    level=os.environ.get("LOG_LEVEL", "INFO"),
)
logconfig_dict["loggers"]["gunicorn.error"] = {"level": "INFO", "handlers": ["console"], "propagate": False}


def on_starting(server):
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    # Imported on use: gunicorn loads this file to read settings (`gunicorn --check-config` too),
    # where importing prometheus-client would only slow it down.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    # After the worker's last request (SIGTERM, SIGINT, a restart): write the usage and the models'
    # monitoring figures it still buffers.
    from inference.services.monitoring import stats_flush
    from tenants.services.usage import usage_flush

    try:
        usage_flush()
        stats_flush()
    except Exception:  # noqa: BLE001 - the database is away: say what is lost
        server.log.exception("usage counts of worker %s could not be written at exit", worker.pid)
