"""The error every service raises for something a user asked that cannot be done.

It says what went wrong and what to do (``message``), names the rule with a stable ``code`` that
clients may branch on, and carries facts (``details``: limits, field errors, a report). It knows
nothing of HTTP: each edge turns it into its own answer (the API's exception handler maps codes to
statuses, forms show the message next to ``field``, admin actions show it as a message).
"""

from __future__ import annotations

from typing import Any

# The message of a refusal whose ``details`` name each field at fault and why ({"field": [reasons]}).
SEE_DETAILS = "The request is not valid: see details."


class ApplicationError(Exception):
    """An expected failure: ``raise ApplicationError("...", code="quota_exceeded", details={...})``."""

    code = "validation_failed"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, field: str | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.field = field  # the form field at fault, when there is one


class NotFound(ApplicationError):
    """The object asked for does not exist (in this workspace)."""

    code = "not_found"


class Conflict(ApplicationError):
    """The request is valid but the object's current state does not allow it."""

    code = "conflict"


class StorageFull(ApplicationError):
    """The disk or volume that holds files is full: nothing was stored, and the request can be retried."""

    code = "storage_full"
