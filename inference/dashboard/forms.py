"""Dashboard forms: they only shape input; every rule is checked by the service they feed."""

from __future__ import annotations

from django import forms

from core.exceptions import ApplicationError
from inference.engine.training.plan import METHODS
from inference.forms import EVALUATE_ON_CHOICES, DatasetUploadOptionsForm, TimeBudgetFieldMixin
from inference.models.datasets import TASK_CHOICES
from inference.selectors.datasets import dataset_list
from inference.services.training import MODEL_NAME_HELP
from tenants.models import ApiKey, BaseModel

METHOD_CHOICES = [
    ("auto", "Automatic (recommended)"),
    *[
        (
            m,
            {
                "full": "Full fine-tuning",
                "lora": "LoRA adapter",
                "head": "Classifier head only (fastest)",
                "fewshot": "Few-shot (pairs fine-tuning, then a head; small classification sets)",
            }.get(m, m),
        )
        for m in METHODS
    ],
]


class DatasetUploadForm(DatasetUploadOptionsForm):
    file = forms.FileField(
        label="File", help_text="CSV, TSV, JSON Lines or CoNLL. The first line of a CSV names its columns."
    )
    name = forms.SlugField(
        label="Dataset name",
        max_length=100,
        widget=forms.TextInput(attrs={"list": "existing-datasets", "autocomplete": "off"}),
        help_text="An existing name adds a new version; a new name starts a new dataset.",
    )
    task = forms.ChoiceField(
        label="What should the model do?",
        choices=TASK_CHOICES,
        initial="classification",
        help_text="For a new dataset; a new version of an existing dataset keeps that dataset's task.",
    )
    field_order = ["file", "name", "task"]

    def __init__(self, *args, dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if dataset is not None:
            # A new version of an existing dataset: its task is the dataset's, whatever was sent.
            self.fields["task"].initial = dataset.task


def _dataset_choices():
    return [(d.name, d.name) for d in dataset_list()]


class TrainingStartForm(TimeBudgetFieldMixin, forms.Form):
    dataset = forms.ChoiceField(label="Train on dataset", choices=())
    model_name = forms.SlugField(
        label="Model name", max_length=100, required=False, help_text="Empty: the dataset's name."
    )
    # Advanced settings: empty means "let Scalpel choose", which is right for nearly everyone.
    method = forms.ChoiceField(label="Method", choices=METHOD_CHOICES, initial="auto")
    epochs = forms.IntegerField(label="Epochs", required=False, min_value=1, max_value=500)
    learning_rate = forms.FloatField(label="Learning rate", required=False, min_value=1e-7, max_value=1.0)
    batch_size = forms.IntegerField(label="Batch size", required=False, min_value=1, max_value=1024)
    max_length = forms.IntegerField(label="Max length (tokens)", required=False, min_value=8, max_value=512)
    base_model = forms.ChoiceField(label="Base model", choices=())
    evaluate_on = forms.ChoiceField(
        label="Judge the model on",
        choices=EVALUATE_ON_CHOICES,
        initial="auto",
        required=False,  # empty: automatic
        help_text="Without test rows, part of the training rows is held out as the test set.",
    )

    HYPERPARAMETERS = ("epochs", "learning_rate", "batch_size", "max_length")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = _dataset_choices()
        self.fields["base_model"].choices = [
            (b.id, f"{b.name} ({b.id})") for b in BaseModel.objects.filter(is_active=True)
        ]
        self.fields["base_model"].initial = "minilm-l6"
        self.add_time_budget_field()

    def hyperparameters(self) -> dict:
        return {k: self.cleaned_data[k] for k in self.HYPERPARAMETERS if self.cleaned_data.get(k) is not None}

    def add_service_error(self, exc: ApplicationError) -> None:
        """Put the service's refusal next to the field it is about; the rest goes above the form."""
        details = exc.details if isinstance(exc.details, dict) else {}
        per_field = {
            name: message
            for name, message in (details.get("hyperparameters") or {}).items()
            if name in self.HYPERPARAMETERS
        }
        if per_field:
            for name, message in per_field.items():
                self.add_error(name, f"{message[:1].upper()}{message[1:]}.")
            return
        self.add_error(_service_error_field(exc), exc.message)


def _service_error_field(exc: ApplicationError) -> str | None:
    # The training service names no field, so its refusals are matched by code, then by the rule
    # they state (the model-name rule's text is the service's own constant).
    by_code = {"dataset_not_trainable": "dataset", "not_found": "dataset", "unknown_base_model": "base_model"}
    if exc.code in by_code:
        return by_code[exc.code]
    if exc.field in ("evaluate_on", "method", "base_model"):
        return exc.field
    message = exc.message
    if MODEL_NAME_HELP in message or "choose another model name" in message:
        return "model_name"
    if "time budget" in message:
        return "time_budget_minutes"
    return None


class PromoteForm(forms.Form):
    override_reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why promote it anyway?",
        help_text="Needed to override the quality check; kept in the promotion history and the audit log.",
    )
    note = forms.CharField(required=False, max_length=500, label="Note for the history")


class PlaygroundForm(forms.Form):
    target = forms.ChoiceField(label="Model version", choices=())
    text = forms.CharField(
        label="Text to try",
        max_length=10_000,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "Type or paste a message your customers might send…"}
        ),
    )

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = targets


SCOPE_HELP = {
    "predict": "send texts to models",
    "read": "see models, datasets and jobs",
    "data": "upload datasets and send corrections",
    "train": "start and cancel training",
    "admin": "promote and roll back models",
}


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Key name", max_length=100, help_text="Where it is used, e.g. “helpdesk integration”."
    )
    scopes = forms.MultipleChoiceField(
        label="What may it do?",
        choices=[(scope, f"{scope} — {SCOPE_HELP.get(scope, '')}") for scope in ApiKey.SCOPES],
        initial=["predict", "read"],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, scopes=None, **kwargs):
        super().__init__(*args, **kwargs)
        if scopes is not None:  # offer only these (the scopes the user's role may give a key)
            self.fields["scopes"].choices = [c for c in self.fields["scopes"].choices if c[0] in scopes]


class FeedbackApplyForm(forms.Form):
    feedback = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Corrections"
    )
    dataset = forms.ChoiceField(label="Add them to dataset", choices=())
    retrain = forms.BooleanField(required=False, initial=True, label="Retrain the model on the new version")
    model_name = forms.SlugField(required=False, max_length=100, label="Model to retrain")

    def __init__(self, *args, pending=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feedback"].queryset = pending
        self.fields["dataset"].choices = _dataset_choices()


class BatchPredictionForm(forms.Form):
    file = forms.FileField(
        label="File of texts",
        help_text="CSV or TSV with a header row, or JSON Lines; UTF-8. One text per row.",
    )
    text_column = forms.CharField(
        label="Column with the texts", initial="text", max_length=200, help_text="Or the JSON field."
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=500, assume_scheme="https")
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )  # fmt: skip

    def __init__(self, *args, events: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(name, f"{name} — {says}") for name, says in events.items()]
