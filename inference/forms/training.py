"""Training fields the tenant admin and the dashboard both offer."""

from __future__ import annotations

from django import forms
from django.conf import settings

# The rows a job is judged on (the training service's ``evaluate_on``), as both forms offer them.
EVALUATE_ON_CHOICES = [
    ("auto", "Automatic: the test split, or a held-out part of the training rows"),
    ("test", "The dataset's test split"),
    ("carved", "A test set held out from the training rows"),
    ("validation", "The validation split (may look slightly better than it is)"),
]


class TimeBudgetFieldMixin:
    """The per-job time limit, in minutes, as the dashboard and the tenant admin offer it."""

    def add_time_budget_field(self) -> None:
        # The platform's ceiling is a setting, so the field is built per form rather than at import.
        most = max(1, settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS // 60)
        self.fields["time_budget_minutes"] = forms.IntegerField(
            label="Time limit (minutes)",
            required=False,
            min_value=1,
            max_value=most,
            help_text=f"The run stops, and counts as failed, if it takes longer. Empty: {_minutes(most)}, the most allowed.",
        )

    def time_budget_seconds(self) -> int | None:
        minutes = self.cleaned_data.get("time_budget_minutes")
        return minutes * 60 if minutes else None


def _minutes(minutes: int) -> str:
    return f"{minutes // 60} hours" if minutes % 60 == 0 and minutes >= 120 else f"{minutes} minutes"
