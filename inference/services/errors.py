"""The error every service raises for something a user asked that cannot be done."""

from __future__ import annotations


class ServiceError(Exception):
    """An expected failure with a stable ``code`` and a message that says what to do."""

    code = "validation_failed"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class Conflict(ServiceError):
    code = "conflict"
    status = 409
