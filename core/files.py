"""The local filesystem storage, made safe against a full disk and crashes mid-write.

Django's ``FileSystemStorage`` writes straight to the final name: a full disk (or a crash) left a
partial or empty file there, and the retry, finding the name taken, was stored under a mangled
one. Here each file is written under a temporary name in its own folder, synced, then renamed
(atomic on one filesystem); on a full disk the temporary file is deleted and ``StorageFull`` raised.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile

from django.core.files import File
from django.core.files.storage import FileSystemStorage

from .exceptions import StorageFull

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class _Staged(File):
    """A file already on disk: Django's storage moves it into place instead of copying it."""

    def __init__(self, path: str):
        super().__init__(None, name=path)
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name, content):
        directory = os.path.dirname(self.path(name))
        staged = None
        try:
            os.makedirs(directory, exist_ok=True)
            fd, staged = tempfile.mkstemp(prefix=".incoming-", dir=directory)
            with os.fdopen(fd, "wb") as fh:
                for chunk in content.chunks():
                    fh.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                fh.flush()
                os.fsync(fh.fileno())
            return super()._save(name, _Staged(staged))
        except OSError as exc:
            if exc.errno in _FULL:
                raise StorageFull(
                    "The platform's file storage is full, so the file was not saved (nothing partial was "
                    "kept). Try again later; if it keeps happening, tell your platform operator.",
                    details={"retry_after": 60},
                ) from exc
            raise
        finally:
            if staged is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged)
