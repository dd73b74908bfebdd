"""Settings for the test suite: the same real PostgreSQL and Redis, faster hashing."""

import os
from pathlib import Path

os.environ.setdefault("SCALPEL_ENV", "test")

from .base import *  # noqa: E402,F403
from .base import DATA_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS = 20
WHITENOISE_AUTOREFRESH = True
# Tests and the worker processes they start share one media folder, apart from dev data.
MEDIA_ROOT = DATA_DIR / "test-media"
# A web process started by a test may be given its own cache (a second node that fetches artifacts).
SCALPEL_ARTIFACT_CACHE_DIR = Path(
    os.environ.get("SCALPEL_ARTIFACT_CACHE_DIR") or DATA_DIR / "test-artifact-cache"
)
# Usage rows are written with each request, inside the test's transaction (the buffered writer has
# its own test against committed data).
SCALPEL_USAGE_FLUSH_SECONDS = 0
