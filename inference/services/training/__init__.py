"""Training jobs, from the request to the registered version.

- ``start``: validate a request and queue the job (and cancel, retry); every interface calls these.
- ``queue``: hand a job to the training workers after commit (``training_job_enqueue``).
- ``claim``: a worker takes a queued job with a conditional update; ``owned`` is its row while the
  run still holds it.
- ``run``: train, evaluate, export and register a claimed job, writing progress as it goes.
- ``heartbeat``: keeps a running job's heartbeat fresh during long steps.
- ``sweep``: re-queue or end running jobs whose worker stopped heart-beating.

Imports go one way: ``inference.tasks`` → these modules; nothing here imports the tasks. The
worker's modules (``claim``, ``run``, ``sweep``) are imported by the tasks themselves, so a web
process that only starts jobs never loads the engine's training and export code.
"""

from .events import job_event
from .queue import training_job_enqueue
from .start import MODEL_NAME_HELP, training_job_cancel, training_job_retry, training_job_start

__all__ = [
    "MODEL_NAME_HELP", "job_event", "training_job_cancel", "training_job_enqueue", "training_job_retry",
    "training_job_start",
]  # fmt: skip
