"""A tenant's labelled data: datasets, their immutable versions, the examples and upload attempts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

TASK_CHOICES = [
    ("classification", "Classification (one label per text)"),
    ("multilabel", "Multi-label classification (zero or more labels per text)"),
    ("extraction", "Extraction (labelled spans in a text)"),
]
SPLIT_CHOICES = [("train", "train"), ("validation", "validation"), ("test", "test")]


class ImmutableRecordError(Exception):
    """Raised when code tries to edit a dataset version or its rows in place."""


def _refuse_edit(model: type[models.Model], fields) -> None:
    editable = set(getattr(model, "EDITABLE_FIELDS", ()))
    changed = sorted(set(fields) - editable)
    if changed:
        raise ImmutableRecordError(
            f"{model.__name__} rows are immutable (tried to change {', '.join(changed)}): a dataset changes "
            "only by gaining a new version (dataset_upload or dataset_version_append)."
        )


class ImmutableQuerySet(models.QuerySet):
    """Refuses ``update()``/``bulk_update()`` of content fields; deletion stays possible."""

    def update(self, **kwargs):
        _refuse_edit(self.model, kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        _refuse_edit(self.model, fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)


class ImmutableModel(models.Model):
    """A row written once: ``save()`` of a stored row is refused unless it only touches EDITABLE_FIELDS.

    The base manager (used by deletion cascades and SET_NULL) stays a plain one, so deleting a
    dataset still works.
    """

    EDITABLE_FIELDS: tuple[str, ...] = ()

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None:
                fields = [f.name for f in self._meta.concrete_fields if not f.primary_key]
            _refuse_edit(type(self), fields)
        super().save(*args, **kwargs)


class Dataset(models.Model):
    name = models.SlugField(
        max_length=100, unique=True, help_text="Letters, digits, hyphens and underscores."
    )
    task = models.CharField(max_length=20, choices=TASK_CHOICES)
    label_set = models.JSONField(
        default=list,
        blank=True,
        help_text="Declared labels; uploads with other labels are refused. Empty: any.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest_version(self) -> DatasetVersion | None:
        return self.versions.order_by("-number").first()


class DatasetVersion(ImmutableModel):
    """An immutable snapshot of a dataset's examples, with its split and statistics."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    content_hash = models.CharField(max_length=64)
    source_file = models.CharField(max_length=500, blank=True, help_text="Storage path of the uploaded file.")
    source_filename = models.CharField(max_length=300, blank=True)
    source_kind = models.CharField(max_length=20, default="upload")  # upload | append | feedback
    format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    split_counts = models.JSONField(default=dict)
    label_counts = models.JSONField(default=dict)  # {split: {label: n}}
    labels = models.JSONField(default=list)  # every label (or entity type) present, sorted
    split_config = models.JSONField(default=dict)  # {"ratios": [...], "seed": n, "given": [official splits]}
    report = models.JSONField(default=dict)  # {"findings": [...], "warnings": [...], "errors": []}
    trainable = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class Example(ImmutableModel):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="examples")
    index = models.PositiveIntegerField()
    text = models.TextField()
    label = models.CharField(max_length=200, blank=True, db_index=True)
    labels = models.JSONField(null=True, blank=True)
    entities = models.JSONField(null=True, blank=True)  # [{"start", "end", "label"}]
    tokens = models.JSONField(null=True, blank=True)
    split = models.CharField(max_length=10, choices=SPLIT_CHOICES, db_index=True)
    line = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["version", "index"]
        constraints = [models.UniqueConstraint(fields=["version", "index"], name="example_unique_index")]

    def __str__(self) -> str:
        return self.text[:80]


class DatasetUpload(models.Model):
    """Every upload attempt, kept so a failed one's report stays visible."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="uploads"
    )
    dataset_name = models.CharField(max_length=100)
    filename = models.CharField(max_length=300)
    size_bytes = models.PositiveBigIntegerField(default=0)
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices)
    report = models.JSONField(default=dict)
    version = models.OneToOneField(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="upload"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} → {self.dataset_name} ({self.status})"
