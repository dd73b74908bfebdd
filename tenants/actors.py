"""Who is acting: the one description of a caller that services check permissions on and audit.

Every interface builds an ``Actor`` at its edge (a dashboard or tenant-admin user with their role, an
API key with its scopes, an operator in the console, or the system: a command, a worker, a test) and
hands it to the services, which decide what it may do (``tenants.permissions``) and record what it
did (``tenants.services.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass

USER = "user"
API_KEY = "api_key"
OPERATOR = "operator"
SYSTEM = "system"
KINDS = (USER, API_KEY, OPERATOR, SYSTEM)


@dataclass(frozen=True)
class Actor:
    kind: str
    name: str  # a user's username (their email), a key's prefix, an operator's username, a system name
    role: str | None = None  # a tenant user's role; None for every other kind
    scopes: tuple[str, ...] = ()  # an API key's scopes
    ip: str | None = None  # the address the request came from, when there was one

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}")

    def __str__(self) -> str:
        """How the actor is written in ``created_by`` fields and job logs."""
        if self.kind == API_KEY:
            return f"api-key:{self.name}"
        if self.kind == OPERATOR:
            return f"operator:{self.name}"
        return self.name

    @property
    def is_trusted(self) -> bool:
        """Operators and the system act outside a tenant's roles: nothing of a tenant is refused to them."""
        return self.kind in (OPERATOR, SYSTEM)


def system_actor(name: str = "system") -> Actor:
    return Actor(kind=SYSTEM, name=name or "system")


def as_actor(actor: Actor | str | None) -> Actor:
    """An ``Actor`` for a service's ``actor`` argument.

    Interfaces pass an ``Actor``; a plain name comes only from code the platform runs itself
    (commands, workers, bootstrap), which acts as the system.
    """
    if isinstance(actor, Actor):
        return actor
    return system_actor(str(actor or "system"))
