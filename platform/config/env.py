"""Where the platform's services and data live, read from the environment.

Kept apart from settings so the embedded-services launcher can use it without Django.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379
DEFAULT_DB_NAME = "scalpel"


def data_dir() -> Path:
    """Local folder for embedded servers' data, media and credentials."""
    return Path(os.environ.get("SCALPEL_DATA_DIR") or REPO_ROOT / ".scalpel").resolve()


def pg_port() -> int:
    return int(os.environ.get("SCALPEL_PG_PORT", DEFAULT_PG_PORT))


def redis_port() -> int:
    return int(os.environ.get("SCALPEL_REDIS_PORT", DEFAULT_REDIS_PORT))


def embedded_postgres() -> bool:
    """True when no DATABASE_URL is given: the platform runs its own PostgreSQL."""
    return not os.environ.get("DATABASE_URL")


def embedded_redis() -> bool:
    return not os.environ.get("REDIS_URL")


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:{pg_port()}/{DEFAULT_DB_NAME}"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{redis_port()}/0"
