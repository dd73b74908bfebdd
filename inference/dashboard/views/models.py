"""Models and their versions: how good, where weak, compared, promoted and rolled back."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from core.exceptions import ApplicationError
from inference import insights
from inference.selectors.registry import (
    alias_history,
    model_aliases,
    model_list,
    model_version_interval,
    model_version_list,
    model_version_warnings,
)
from inference.services.registry import (
    model_rollback,
    model_rollback_plan,
    model_version_promote,
    model_versions_compare,
    promotion_figures,
    promotion_problems,
)

from .. import charts
from ..forms import PromoteForm
from ..lookups import actor, model_or_404, model_version_or_404

MISCLASSIFIED_SHOWN = 25


def model_list_view(request):
    cards = []
    for model in model_list():
        aliases = model_aliases(model=model)
        versions = model_version_list(model=model)
        cards.append(
            {
                "model": model,
                "latest": versions.first(),
                "production": versions.filter(number=aliases["production"]).first()
                if "production" in aliases
                else None,
                "version_count": versions.count(),
            }
        )
    return render(request, "dashboard/models/list.html", {"nav": "models", "cards": cards})


def model_detail(request, name: str):
    model = model_or_404(name)
    aliases = model_aliases(model=model)
    versions = list(model_version_list(model=model).select_related("dataset_version__dataset"))
    by_number: dict[int, list[str]] = {}
    for alias, number in aliases.items():
        by_number.setdefault(number, []).append(alias)
    return render(
        request,
        "dashboard/models/detail.html",
        {
            "nav": "models",
            "model": model,
            "rows": [(v, by_number.get(v.number, [])) for v in versions],
            "production": aliases.get("production"),
            "history": alias_history(model=model)[:20],
            "rollback_target": _rollback_target(model),
        },
    )


def version_detail(request, name: str, number: int):
    model = model_or_404(name)
    version = model_version_or_404(model, number)
    metrics = version.metrics or {}
    counts = insights.train_counts(version)
    label_filter = request.GET.get("label", "")
    if model.task == "multilabel":
        mistakes = insights.multilabel_mistakes(version)
        misclassified = [
            m for m in mistakes if not label_filter or any(t["label"] == label_filter for t in m["true"])
        ]
    else:
        misclassified = [
            m
            for m in metrics.get("misclassified") or []
            if not label_filter or m.get("label") == label_filter
        ]
    aliases = model_aliases(model=model)
    numbers = list(model_version_list(model=model).values_list("number", flat=True))
    return render(
        request,
        "dashboard/models/version.html",
        {
            "nav": "models",
            "model": model,
            "version": version,
            "m": metrics,
            "aliases": [a for a, n in aliases.items() if n == version.number],
            "production": aliases.get("production"),
            "f1_bars": charts.f1_bars(metrics, counts),
            "weak": insights.weak_labels(version),
            "untested": insights.untested_labels(metrics),
            "compare_with": _compare_partner(version.number, numbers, aliases.get("production")),
            "weak_f1": insights.WEAK_F1,
            "confusion": insights.confusion_focus(metrics),
            "misclassified": misclassified[:MISCLASSIFIED_SHOWN],
            "misclassified_total": len(misclassified),
            "label_filter": label_filter,
            "entity_examples": insights.extraction_examples(version) if model.task == "extraction" else [],
            "headline_bars": _headline_bars(version),
            "interval": model_version_interval(version=version),
            "score_warnings": model_version_warnings(version=version),
        },
    )


def version_compare(request, name: str):
    model = model_or_404(name)
    versions = list(model_version_list(model=model))
    if len(versions) < 2:
        messages.info(request, "Train a second version to compare it with the first.")
        return redirect("dashboard-model", model.name)
    aliases = model_aliases(model=model)
    default_a = aliases.get("production") or versions[1].number
    default_b = versions[0].number if versions[0].number != default_a else versions[1].number
    b = model_version_or_404(model, _int(request.GET.get("b"), default_b))
    a_number = _int(request.GET.get("a"), default_a)
    if a_number == b.number:
        # Comparing a version with itself says nothing: take its neighbour instead.
        a_number = _neighbour(b.number, [v.number for v in versions])
    a = model_version_or_404(model, a_number)
    try:
        comparison = model_versions_compare(a=a, b=b)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard-model", model.name)
    rows = sorted(comparison["per_label"], key=lambda r: (r["delta"] is None, r["delta"] or 0, r["label"]))
    return render(
        request,
        "dashboard/models/compare.html",
        {
            "nav": "models",
            "model": model,
            "versions": versions,
            "a": a,
            "b": b,
            "comparison": comparison,
            "rows": [
                {**r, "a_pct": round((r["a"] or 0) * 100, 1), "b_pct": round((r["b"] or 0) * 100, 1)}
                for r in rows
            ],
            "better": sum(1 for r in rows if (r["delta"] or 0) > 0.005),
            "worse": sum(1 for r in rows if (r["delta"] or 0) < -0.005),
        },
    )


def version_promote(request, name: str, number: int):
    """Confirm what changes, then promote; a refusal by the quality gate is shown with its figures
    and a field for the reason to override it."""
    model = model_or_404(name)
    version = model_version_or_404(model, number)
    current_number = model_aliases(model=model).get("production")
    current = model_version_or_404(model, current_number) if current_number else None
    gate = None
    if request.method == "POST":
        form = PromoteForm(request.POST)
        if form.is_valid():
            try:
                model_version_promote(
                    version=version,
                    actor=actor(request),
                    override_reason=form.cleaned_data["override_reason"],
                    note=form.cleaned_data["note"],
                )
            except ApplicationError as exc:
                if exc.code != "quality_gate_failed":
                    messages.error(request, exc.message)
                    return redirect("dashboard-model-version", model.name, version.number)
                gate = {"message": exc.message, **(exc.details or {})}
            else:
                messages.success(request, f"“{model.name}” v{version.number} is now in production.")
                return redirect("dashboard-model", model.name)
    else:
        form = PromoteForm()
        # Said before the click: the reason field is offered at once when the gate would refuse.
        figures = promotion_figures(version=version)
        problems = promotion_problems(version=version, figures=figures)
        if problems:
            gate = {"message": "", "problems": problems, **figures}
    return render(
        request,
        "dashboard/models/promote.html",
        {"nav": "models", "model": model, "version": version, "current": current, "form": form, "gate": gate},
        status=409 if gate and request.method == "POST" else 200,
    )


def model_rollback_view(request, name: str):
    model = model_or_404(name)
    plan = model_rollback_plan(model=model)  # what the POST below will do, and why not when it can't
    if request.method == "POST":
        try:
            alias = model_rollback(model=model, actor=actor(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Production of “{model.name}” is back on v{alias.version.number}.")
        return redirect("dashboard-model", model.name)
    return render(
        request,
        "dashboard/models/rollback.html",
        {
            "nav": "models",
            "model": model,
            "current": plan.current,
            "target": plan.target,
            "problem": plan.problem,
        },
    )


def _rollback_target(model):
    """The version a rollback would return to: the service's own plan, so page and action agree."""
    return model_rollback_plan(model=model).target


def _compare_partner(number: int, numbers: list[int], production: int | None) -> int | None:
    """What "Compare" on a version page sets it against: production, else the version before it."""
    if len(numbers) < 2:
        return None
    if production is not None and production != number and production in numbers:
        return production
    return _neighbour(number, numbers)


def _neighbour(number: int, numbers: list[int]) -> int:
    """The version before ``number``, or after it when it is the first."""
    earlier = [n for n in numbers if n < number]
    if earlier:
        return max(earlier)
    later = [n for n in numbers if n > number]
    return min(later) if later else number


def _headline_bars(version):
    items = []
    if version.headline_value is not None:
        items.append((f"This model (v{version.number})", version.headline_value))
    if version.baseline_value is not None:
        items.append(("Simple baseline", version.baseline_value))
    return charts.bars(items, maximum=1.0, fmt="{:.3f}")


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
