"""The local file storage on a full disk: nothing partial is kept, the error says so, the retry keeps its name."""

from __future__ import annotations

import errno

import pytest
from django.core.files.base import ContentFile

from core.exceptions import StorageFull
from core.files import AtomicFileSystemStorage


class _FullAfter:
    """os.fdopen's file whose writes fail with ENOSPC once ``limit`` bytes are written (a disk filling up)."""

    def __init__(self, limit: int):
        self.limit, self.written = limit, 0

    def wrap(self, real_fdopen):
        def fdopen(fd, *args, **kwargs):
            fh = real_fdopen(fd, *args, **kwargs)
            real_write = fh.write

            def write(chunk):
                if self.written + len(chunk) > self.limit:
                    real_write(chunk[: self.limit - self.written])  # part of it landed, as on a real disk
                    fh.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
                self.written += len(chunk)
                return real_write(chunk)

            fh.write = write
            return fh

        return fdopen


def test_a_full_disk_leaves_no_file_and_the_retry_keeps_its_name(tmp_path, monkeypatch):
    import core.files

    storage = AtomicFileSystemStorage(location=tmp_path)
    data = b"x" * (3 * 64 * 1024)
    real_fdopen = core.files.os.fdopen
    monkeypatch.setattr(core.files.os, "fdopen", _FullAfter(100_000).wrap(real_fdopen))
    with pytest.raises(StorageFull) as refused:
        storage.save("tenants/1/datasets/d/v1/data.csv", ContentFile(data))
    assert refused.value.code == "storage_full" and "full" in refused.value.message
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    monkeypatch.setattr(core.files.os, "fdopen", real_fdopen)  # space freed
    name = storage.save("tenants/1/datasets/d/v1/data.csv", ContentFile(data))
    assert name == "tenants/1/datasets/d/v1/data.csv"
    assert (tmp_path / name).read_bytes() == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["data.csv"]


def test_a_taken_name_still_gets_a_new_one_and_nothing_is_overwritten(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    first = storage.save("a/data.csv", ContentFile(b"one"))
    second = storage.save("a/data.csv", ContentFile(b"two"))
    assert (
        first != second
        and (tmp_path / first).read_bytes() == b"one"
        and (tmp_path / second).read_bytes() == b"two"
    )
