"""``Idempotency-Key`` on every API POST: a retry within 24 hours gets the first answer again.

The key is scoped to the tenant and the API key that sent it. The request's fingerprint is a
SHA-256 of its method, path (with query) and body; a multipart body is hashed field by field and
file by file, in chunks, so an upload is never held in memory twice.
"""

from __future__ import annotations

import hashlib
import re

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils import json

from core.exceptions import ApplicationError
from tenants.services.idempotency import idempotency_claim, idempotency_complete, idempotency_release

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as UUIDs and random tokens are
KEPT_HEADERS = ("Location",)


class _Replay(Exception):
    def __init__(self, response: Response):
        self.response = response


def request_fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    if (request.content_type or "").startswith("multipart/"):
        for name in sorted(request.data.keys()):
            for value in request.data.getlist(name):
                digest.update(f"\n{name}=".encode())
                if hasattr(value, "chunks"):
                    digest.update(f"file:{value.name}:{value.size}:".encode())
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(str(value).encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


class IdempotentPostMixin:
    """For ``ApiView``: ``idempotency_begin`` after authentication, ``idempotency_end`` on the answer."""

    _idempotency_record = None

    def idempotency_begin(self, request) -> None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or key is None:
            return
        if not KEY_PATTERN.fullmatch(key):
            raise ApplicationError(
                "The Idempotency-Key header must be 1 to 255 visible ASCII characters, such as a UUID.",
                code="validation_failed",
                details={"header": IDEMPOTENCY_HEADER},
            )
        record, claimed = idempotency_claim(
            api_key=request.auth.key, key=key, fingerprint=request_fingerprint(request)
        )
        if claimed:
            self._idempotency_record = record
            return
        headers = {**record.response_headers, REPLAYED_HEADER: "true"}
        raise _Replay(Response(record.response_body, status=record.response_status, headers=headers))

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)

    def idempotency_end(self, response) -> None:
        record, self._idempotency_record = self._idempotency_record, None
        if record is None:
            return
        if 200 <= response.status_code < 300 and isinstance(response, Response):
            body = json.loads(JSONRenderer().render(response.data) or b"null")
            headers = {name: response[name] for name in KEPT_HEADERS if name in response}
            idempotency_complete(record=record, status=response.status_code, body=body, headers=headers)
        else:  # an error did no work (or not all of it): the key may be used again
            idempotency_release(record=record)
