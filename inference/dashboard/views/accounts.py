"""Pages before sign-in: accept an invitation (choose a password), and reset a forgotten password."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from core.exceptions import ApplicationError
from tenants.actors import USER, Actor
from tenants.request_actor import client_ip
from tenants.services.audit import audit_record
from tenants.services.members import invitation_accept, invitation_user


class ChoosePasswordForm(forms.Form):
    password = forms.CharField(label="Choose a password", widget=forms.PasswordInput, strip=False)
    confirm = forms.CharField(label="Type it again", widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("confirm"):
            self.add_error("confirm", "The two passwords differ: type the same password twice.")
        return data


def invitation(request, token: str):
    try:
        invitee = invitation_user(token=token)
    except ApplicationError as exc:
        return render(request, "registration/invitation.html", {"refusal": exc.message}, status=400)
    form = ChoosePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_accept(token=token, password=form.cleaned_data["password"], ip=client_ip(request))
        except ApplicationError as exc:
            form.add_error("password" if exc.field == "password" else None, exc.message)
        else:
            messages.success(request, "Your password is set: sign in with your email and that password.")
            return redirect("login")
    return render(
        request,
        "registration/invitation.html",
        {"form": form, "invitee": invitee},
        status=400 if form.errors else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by email, on the workspace's host; every request is recorded, found or not."""

    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        audit_record(
            action="auth.password_reset_requested",
            actor=Actor(kind=USER, name=email[:150], ip=client_ip(self.request)),
            obj=email,
            details={"known": any(True for _ in form.get_users(email))},
        )
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            action="auth.password_set",
            actor=Actor(kind=USER, name=form.user.get_username(), ip=client_ip(self.request)),
            obj=form.user.get_username(),
            details={"through": "reset link"},
        )
        return response
