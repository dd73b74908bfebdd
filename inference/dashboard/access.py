"""Who may open the dashboard at all: a signed-in user with a role in this workspace.

What each role may *do* is decided by the services (``tenants.permissions``); pages only hide what
a role cannot do.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from tenants.permissions import PermissionDenied
from tenants.selectors import user_role


def workspace_member_required(view):
    @wraps(view)
    def check(request, *args, **kwargs):
        if user_role(request.user) is None:
            return render(request, "dashboard/no_role.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:  # a refusal the page did not turn into a message of its own
            return render(request, "dashboard/refused.html", {"message": exc.message}, status=403)

    return login_required(check)
