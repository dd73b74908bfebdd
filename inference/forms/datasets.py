"""The dataset upload options, one form for the tenant admin and the dashboard.

Help texts and parsing come from ``inference.services.datasets.options``, which the API serializer
shares, so the three interfaces offer the same options with the same words.
"""

from __future__ import annotations

from django import forms

from core.exceptions import ApplicationError
from inference.engine.formats import FORMATS
from inference.engine.types import SPLITS
from inference.services.datasets.options import (
    DEFAULT_SPLIT_COLUMN,
    HELP,
    labels_parse,
    split_ratios_parse,
    upload_kwargs,
)
from inference.services.datasets.rules import DEFAULT_SEED


class DatasetUploadOptionsForm(forms.Form):
    """The upload options every form offers (the admin's too); help texts and parsing come from
    ``inference.services.datasets.options``, which the API serializer shares."""

    text_column = forms.CharField(
        label="Column with the text", initial="text", max_length=200, help_text=HELP["text_column"]
    )
    label_column = forms.CharField(
        label="Column with the label", required=False, max_length=200, help_text=HELP["label_column"]
    )
    format = forms.ChoiceField(
        label="File format",
        choices=[("auto", "Detect from the file"), *[(f, f.upper()) for f in FORMATS]],
        initial="auto",
        help_text=HELP["format"],
    )
    split_column = forms.CharField(
        label="Column with the split",
        required=False,
        max_length=200,
        initial=DEFAULT_SPLIT_COLUMN,
        help_text=HELP["split_column"],
    )
    split = forms.ChoiceField(
        label="Put every row in",
        required=False,
        choices=[
            ("", "No single split: use the split column, or let Scalpel split"),
            *((s, s) for s in SPLITS),
        ],
        help_text=HELP["split"],
    )
    split_ratios = forms.CharField(
        label="Split ratios (train/validation/test)",
        required=False,
        max_length=100,
        initial="80/10/10",
        help_text=HELP["split_ratios"],
    )
    split_seed = forms.IntegerField(
        label="Split seed", required=False, min_value=0, max_value=2**31 - 1, initial=DEFAULT_SEED,
        help_text=HELP["split_seed"],
    )  # fmt: skip
    repair_bio = forms.BooleanField(label="Repair entity tags", required=False, help_text=HELP["repair_bio"])
    labels = forms.CharField(
        label="Allowed labels",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=HELP["labels"],
    )

    def clean_split_ratios(self) -> list[float]:
        return _parsed(split_ratios_parse, self.cleaned_data["split_ratios"])

    def clean_labels(self) -> list[str]:
        return labels_parse(self.cleaned_data["labels"])

    def upload_kwargs(self) -> dict:
        """The options as ``dataset_upload`` keyword arguments."""
        return upload_kwargs(self.cleaned_data)


def _parsed(parse, value):
    try:
        return parse(value)
    except ApplicationError as exc:
        raise forms.ValidationError(exc.message) from exc
