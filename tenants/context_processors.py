"""What the signed-in workspace user may do, for templates that hide or disable what their role cannot."""

from __future__ import annotations

from django_tenants.utils import get_public_schema_name

from .permissions import PERMISSIONS, ROLE_LABELS, actor_may
from .request_actor import request_actor


def workspace_role(request) -> dict:
    """``role`` and ``may`` (``may.model_promote``: the action ``model.promote``) on a tenant's host."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if (
        tenant is None
        or tenant.schema_name == get_public_schema_name()
        or not user
        or not user.is_authenticated
    ):
        return {}
    actor = request_actor(request)
    return {
        "role": actor.role,
        "role_label": ROLE_LABELS.get(actor.role, "no role"),
        "may": {action.replace(".", "_"): actor_may(actor, action) for action in PERMISSIONS},
    }
