"""Playground: try a model version on any text, through the same predict service the API uses."""

from __future__ import annotations

from django.shortcuts import render

from core.exceptions import ApplicationError
from inference import insights
from inference.models import ModelVersion
from inference.selectors.registry import model_aliases, model_list, model_version_list
from inference.services.serving import predict

from .. import charts
from ..forms import PlaygroundForm
from ..lookups import actor

TOP_K = 10


def playground(request):
    targets = _targets()
    result = None
    if request.method == "POST":
        form = PlaygroundForm(request.POST, targets=targets)
        if form.is_valid():
            name, _, ref = form.cleaned_data["target"].partition("@")
            try:
                answer = predict(
                    model_name=name,
                    inputs=[form.cleaned_data["text"]],
                    version=ref or None,
                    top_k=TOP_K,
                    actor=actor(request),
                )
            except ApplicationError as exc:
                form.add_error("target", exc.message)
            else:
                result = _present(answer, form.cleaned_data["text"])
    else:
        initial = request.GET.get("model")
        form = PlaygroundForm(targets=targets, initial={"target": f"{initial}@"} if initial else None)
    context = {"nav": "playground", "form": form, "result": result, "has_models": bool(targets)}
    if request.htmx and request.method == "POST":
        return render(request, "dashboard/playground/_result.html", context)
    return render(request, "dashboard/playground/page.html", context)


def _targets() -> list:
    """One choice per model ("production, else newest") plus each of its versions, grouped by model."""
    groups = []
    for model in model_list():
        versions = list(model_version_list(model=model).values_list("number", flat=True))
        if not versions:
            continue
        production = model_aliases(model=model).get("production")
        default = f"production (v{production})" if production else f"newest (v{versions[0]})"
        choices = [(f"{model.name}@", f"{model.name} — {default}")]
        choices += [(f"{model.name}@{n}", f"{model.name} v{n}") for n in versions]
        groups.append((model.name, choices))
    return groups


def _present(answer: dict, text: str) -> dict:
    prediction = answer["predictions"][0]
    out = {"model": answer["model"], "version": answer["version"], "task": answer["task"], "text": text}
    if answer["task"] == "classification":
        out["label"] = prediction["label"]
        out["score"] = prediction["score"]
        out["bars"] = charts.bars(
            [(x["label"], x["score"]) for x in prediction["labels"]], maximum=1.0, fmt="{:.0%}"
        )
        version = ModelVersion.objects.filter(model__name=answer["model"], number=answer["version"]).first()
        out["all_labels"] = list(version.labels) if version else [x["label"] for x in prediction["labels"]]
    elif answer["task"] == "multilabel":
        chosen = {x["label"] for x in prediction["labels"]}
        scores = sorted(prediction["scores"].items(), key=lambda kv: -kv[1])[:TOP_K]
        out["labels"] = sorted(chosen)
        out["bars"] = charts.bars(scores, maximum=1.0, fmt="{:.0%}")
        for bar in out["bars"]:
            bar.flagged = bar.label in chosen  # here "flagged" marks the labels the model gives
    else:
        entities = prediction["entities"]
        out["segments"] = insights.segments(text, entities, {})
        out["entities"] = entities
    return out
