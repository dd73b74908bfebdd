"""The upload size limit, enforced before a request body is read.

Django streams an uploaded file to a temporary file before a view sees it, so checking the file's
size in the view comes too late: a 5 GB POST would already fill the disk. The views that accept
uploads call ``upload_limit_guard`` first: a declared ``Content-Length`` over the limit is refused
without reading anything, and an ``UploadLimitHandler`` stops reading once the file passes it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from .reports import DatasetUploadError, refused, size_text

# Room in a multipart body for the form fields and part headers beside the file.
FORM_OVERHEAD_BYTES = 1024 * 1024


def upload_limit() -> int:
    return settings.SCALPEL_UPLOAD_MAX_BYTES


def too_large(size: int | None = None) -> DatasetUploadError:
    """The refusal of a file over the limit, naming the limit (``details.max_bytes``)."""
    limit = upload_limit()
    what = f"The file is {size_text(size)}" if size else "The file is too large"
    error = refused(
        f"{what}; the largest file you can upload is {size_text(limit)}. "
        "Remove columns you do not need, or split the rows over several smaller files.",
        code="file_too_large",
    )
    error.report["max_bytes"] = limit
    return error


def refuse_if_too_large(size: int) -> None:
    if size > upload_limit():
        raise too_large(size)


class UploadLimitHandler(FileUploadHandler):
    """Stops reading the body once an uploaded file passes the limit; ``exceeded`` says it did."""

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = upload_limit() if limit is None else limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            # The rest of the body is skipped, not stored; the request's Content-Length (checked
            # first) bounds what is left to skip.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) builds the file


class UploadLimitGuard:
    """What ``upload_limit_guard`` found: a refusal now, or a handler to ask after the body is read."""

    def __init__(self, refusal: DatasetUploadError | None, handler: UploadLimitHandler | None):
        self._refusal, self.handler = refusal, handler

    def refusal(self) -> DatasetUploadError | None:
        if self._refusal is None and self.handler is not None and self.handler.exceeded:
            self._refusal = too_large()
        return self._refusal


def upload_limit_guard(request) -> UploadLimitGuard:
    """Call before anything reads ``request.POST``/``FILES`` (or DRF's ``request.data``)."""
    if request.method != "POST":
        return UploadLimitGuard(None, None)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > upload_limit() + FORM_OVERHEAD_BYTES:
        return UploadLimitGuard(too_large(declared), None)
    handler = UploadLimitHandler(request)
    request.upload_handlers.insert(0, handler)
    return UploadLimitGuard(None, handler)
