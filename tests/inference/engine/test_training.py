"""TrainingSession: plans, hyperparameter checks, progress, cancellation, every method on tiny slices."""

from __future__ import annotations

import time

import pytest

from inference.engine.basemodels import default_base_model_dir
from inference.engine.training import TrainingProgress, TrainingSession
from inference.engine.types import Example

from .conftest import WNUT_TYPES, trained_run

PROGRESS_KEYS = {
    "phase",
    "epoch",
    "epochs",
    "step",
    "total_steps",
    "loss",
    "val_metric",
    "val_metric_name",
    "examples_per_second",
    "eta_seconds",
    "message",
}
FAST = {"epochs": 1, "max_length": 32}


def classifier_session(examples, labels, *, method: str = "auto", hyperparameters=None) -> TrainingSession:
    """A classification session on the default base model."""
    return TrainingSession(
        examples,
        task="classification",
        labels=labels,
        base_model_dir=default_base_model_dir(),
        method=method,
        hyperparameters=hyperparameters,
    )


def run_all(session: TrainingSession) -> list[dict]:
    events = list(session.run())
    assert all(set(e) == PROGRESS_KEYS for e in events), "every progress dict has the same keys"
    return events


@pytest.mark.parametrize("method", ["full", "lora", "head", "fewshot"])
def test_each_method_trains_and_reports(bank, method):
    _, labels = bank
    session, events = trained_run(f"cls-{method}")
    assert session.plan.method == method
    assert all(set(e) == PROGRESS_KEYS for e in events), "every progress dict has the same keys"
    assert set(TrainingProgress.__annotations__) == PROGRESS_KEYS, "the documented shape is the yielded one"
    phases = [e["phase"] for e in events]
    assert phases[0] == "loading" and phases[-1] == "done" and "training" in phases
    training = [e for e in events if e["phase"] == "training"]
    assert training[-1]["step"] == training[-1]["total_steps"] or session.trained.train_info["stopped_early"]
    assert all(e["loss"] is not None and e["examples_per_second"] > 0 for e in training)
    assert events[-1]["val_metric"] is not None and events[-1]["val_metric_name"] == "accuracy"
    # The final progress still shows the training loss (the last epoch's), for users polling after it.
    assert events[-1]["loss"] == session.trained.train_info["history"][-1]["loss"] is not None
    model = session.trained
    assert model.method == method and model.labels == labels and model.max_length == 32
    info = model.train_info
    assert {"epochs_run", "best_epoch", "examples_per_second", "seconds"} <= set(info)
    if method == "lora":
        trainable = {n for n, p in model.model.named_parameters() if p.requires_grad}
        assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)


@pytest.mark.parametrize("method", ["full", "head"])
def test_extraction_trains(ner, method):
    if method == "full":
        session, events = trained_run("ner-full")
    else:
        session = TrainingSession(
            ner,
            task="extraction",
            labels=WNUT_TYPES,
            base_model_dir=default_base_model_dir(),
            method=method,
            hyperparameters={"epochs": 20},
        )
        events = run_all(session)
    assert events[-1]["phase"] == "done" and events[-1]["val_metric_name"] == "f1"
    assert session.trained.labels == WNUT_TYPES
    assert session.trained.model.head.out_features == 1 + 2 * len(WNUT_TYPES)


def test_extraction_defaults_scale_with_the_number_of_sentences():
    from inference.engine.training.plan import default_hyperparameters

    def plan(sentences):
        return default_hyperparameters("full", "extraction", sentences, [20] * sentences, 1.0)

    small, medium, large = plan(300), plan(1000), plan(3000)
    assert (small["batch_size"], small["learning_rate"], small["early_stopping_patience"]) == (8, 3e-4, 3)
    assert (medium["batch_size"], medium["learning_rate"]) == (16, 2e-4)
    assert (large["batch_size"], large["learning_rate"], large["epochs"]) == (32, 1e-4, 7)
    # About 600 optimiser steps: more epochs on fewer sentences, warm-up over the first tenth.
    assert small["epochs"] == 16 and medium["epochs"] == 10 and plan(100)["epochs"] == 20
    assert small["warmup_ratio"] == 0.1 and small["freeze_embeddings"] is True
    # Classification keeps its defaults whatever its size.
    assert default_hyperparameters("full", "classification", 300, [20] * 300, 1.0)["batch_size"] == 32


def test_extraction_epochs_that_find_no_entity_never_end_the_run_early(ner, monkeypatch):
    session = TrainingSession(
        ner,
        task="extraction",
        labels=WNUT_TYPES,
        base_model_dir=default_base_model_dir(),
        method="full",
        hyperparameters={"epochs": 5, "batch_size": 64, "max_length": 32, "early_stopping_patience": 1},
    )
    scores = iter([0.0, 0.0, 0.0, 0.3, 0.2])

    def validate(model, epoch_state):
        yield from ()
        return next(scores), None

    monkeypatch.setattr(session, "_validate", validate)
    list(session.run())
    info = session.trained.train_info
    # Three epochs without an entity used none of the patience of 1: epoch 4 found some and is kept.
    assert info["best_epoch"] == 4 and info["epochs_run"] == 5 and info["best_val_metric"] == 0.3


def test_extraction_accepts_bio_tag_labels(ner):
    tags = ["O"] + [f"{p}-{t}" for t in WNUT_TYPES for p in "BI"]
    session = TrainingSession(ner, task="extraction", labels=tags, base_model_dir=default_base_model_dir())
    assert session.labels == WNUT_TYPES


def test_closing_mid_training_stops_within_a_step(bank):
    examples, labels = bank
    session = classifier_session(
        examples, labels, method="full", hyperparameters={"epochs": 3, "max_length": 32, "batch_size": 8}
    )
    gen = session.run()
    steps = []
    for event in gen:
        if event["phase"] == "training":
            steps.append(time.monotonic())
            if event["step"] == 3:
                break
    step_seconds = steps[-1] - steps[-2]
    start = time.monotonic()
    gen.close()
    # Closing runs no more training: it is far quicker than one step (with slack for a busy machine).
    assert time.monotonic() - start < max(0.5, step_seconds)
    assert session.trained is None
    assert next(gen, None) is None


def _full_on_48(bank, **hyperparameters) -> TrainingSession:
    examples, labels = bank
    return classifier_session(
        examples[:48], labels, method="full", hyperparameters={"max_length": 32, **hyperparameters}
    )


def test_progress_arrives_every_step(bank):
    session = _full_on_48(bank, epochs=2, batch_size=8)
    events = list(session.run())
    training = [e for e in events if e["phase"] == "training"]
    assert [e["step"] for e in training] == list(range(1, training[-1]["total_steps"] + 1))
    assert all(e["eta_seconds"] is not None and e["eta_seconds"] >= 0 for e in training)
    validating = [e for e in events if e["phase"] == "validating"]
    assert validating and all(e["epoch"] >= 1 for e in validating)
    # Each epoch ends with a line a user can read: its loss, its validation score, the best so far.
    epoch_lines = [e["message"] for e in validating if (e["message"] or "").startswith("epoch ")]
    assert [line.split(":")[0] for line in epoch_lines] == ["epoch 1 of 2", "epoch 2 of 2"]
    assert "training loss" in epoch_lines[0] and "validation accuracy" in epoch_lines[0]
    # Every event after epoch 1's validation carries its score: the worker writes only some of them.
    first_score = session.trained.train_info["history"][0]["val_metric"]
    assert first_score is not None
    assert all(e["val_metric"] == first_score for e in training if e["epoch"] == 2)


def test_early_stopping_says_why_and_which_epoch_it_keeps(bank):
    # A learning rate this small cannot beat the first epoch: patience 1 stops after epoch 2.
    session = _full_on_48(
        bank, epochs=5, learning_rate=1e-7, head_learning_rate=1e-7, early_stopping_patience=1
    )
    events = list(session.run())
    info = session.trained.train_info
    assert info["stopped_early"] and info["epochs_run"] == 2 and info["best_epoch"] == 1
    messages = [e["message"] for e in events if e["message"]]
    assert any(
        m.startswith("Stopping early: validation accuracy has not improved for 1 epoch; keeping epoch 1")
        for m in messages
    ), messages


def test_auto_plan_explains_choice(bank):
    examples, labels = bank
    few = classifier_session(examples, labels)
    assert few.plan.method == "head" and "8 labels with 8 training examples each" in few.plan.reason
    assert "a linear head is trained on the frozen base model" in few.plan.reason
    fewshot = classifier_session(examples, labels, method="fewshot").plan
    assert fewshot.method == "fewshot" and "contrastive few-shot fine-tuning" in fewshot.reason
    assert fewshot.hyperparameters["pairs_per_example"] == 20 and fewshot.hyperparameters["epochs"] == 1
    many = [Example(text=f"{e.text} #{k}", label=e.label, split="train") for e in examples for k in range(3)]
    plan = classifier_session(many, labels).plan
    assert plan.method == "full" and "full fine-tuning" in plan.reason
    hp = plan.hyperparameters
    for key in (
        "learning_rate",
        "epochs",
        "batch_size",
        "max_length",
        "weight_decay",
        "warmup_ratio",
        "class_weighting",
        "early_stopping_patience",
        "seed",
        "freeze_embeddings",
    ):
        assert key in hp
    assert hp["max_length"] % 8 == 0 and 16 <= hp["max_length"] <= 256
    assert hp["freeze_embeddings"] is True and hp["class_weighting"] is False


def test_fewshot_pairs_each_example_with_its_own_label_and_others():
    from inference.engine.training.fewshot import contrastive_pairs

    labels = ["a"] * 3 + ["b"] * 3 + ["c"]  # "c" has no partner of its own label
    pairs = contrastive_pairs(labels, 4, seed=1)
    assert len(pairs) == 4 * len(labels) and pairs == contrastive_pairs(labels, 4, seed=1)
    for i, j, target in pairs:
        assert i != j and (labels[i] == labels[j]) == (target == 1.0)
    assert sum(t for i, _, t in pairs if labels[i] == "a") == 2 * 3  # half of each example's pairs
    assert all(t == 0.0 for i, _, t in pairs if labels[i] == "c")
    with pytest.raises(ValueError, match="at least two labels"):
        contrastive_pairs(["a", "a"], 4, seed=1)


def test_fewshot_is_for_classification_only(ner):
    with pytest.raises(ValueError, match="method fewshot trains classification only, not extraction"):
        TrainingSession(
            ner,
            task="extraction",
            labels=WNUT_TYPES,
            base_model_dir=default_base_model_dir(),
            method="fewshot",
        )


def _many(bank):
    """24 training examples per label (full fine-tuning under auto), validation and test kept."""
    examples, labels = bank
    train = [Example(text=f"{e.text} #{k}", label=e.label, split="train") for e in examples for k in range(3)]
    return train + [e for e in examples if e.split != "train"], labels


def test_auto_tries_learning_rates_on_small_data_and_keeps_the_best(bank, monkeypatch):
    examples, labels = _many(bank)
    session = classifier_session(examples, labels, hyperparameters={"max_length": 32})
    plan = session.plan
    assert plan.hyperparameters["learning_rate_trials"] == [1e-4, 5e-5, 2e-4]
    assert "tries learning rates 0.0001, 5e-05, 0.0002 on the validation split" in plan.reason
    assert "up to 3x the training time" in plan.reason
    # A learning rate chosen by the user, or a list of trials, is taken as it is.
    assert (
        "learning_rate_trials"
        not in classifier_session(
            examples, labels, hyperparameters={"learning_rate": 3e-5}
        ).plan.hyperparameters
    )

    scores = {1e-4: 0.70, 5e-5: 0.60, 2e-4: 0.80}

    def fake_training(model, rows):
        rate = session.plan.hyperparameters["learning_rate"]
        model.head.bias.data.fill_(rate)  # marks which trial's model is kept
        yield session._progress("training", step=1, total_steps=2, eta_seconds=1.0, loss=0.5)
        return {"best_val_metric": scores[rate], "best_epoch": 1, "epochs_run": 1, "history": [{"loss": 0.5}]}

    monkeypatch.setattr(session, "_train_gradient", fake_training)
    events = list(session.run())
    info = session.trained.train_info
    assert [t["learning_rate"] for t in info["learning_rate_trials"]] == [1e-4, 5e-5, 2e-4]
    assert [t["val_metric"] for t in info["learning_rate_trials"]] == [0.70, 0.60, 0.80]
    assert session.trained.hyperparameters["learning_rate"] == 2e-4
    assert float(session.trained.model.head.bias[0].detach()) == pytest.approx(2e-4)
    messages = [e["message"] for e in events if e["message"]]
    assert "learning-rate trial 3 of 3: 0.0002 reached validation accuracy 0.800" in messages
    assert any(
        m.startswith("keeping learning rate 0.0002 (validation accuracy 0.800) of 3 tried") for m in messages
    )
    # Steps count across the trials, so a progress bar never runs backwards.
    steps = [(e["step"], e["total_steps"]) for e in events if e["phase"] == "training" and e["total_steps"]]
    assert (1, 6) in steps and (5, 6) in steps


def test_learning_rate_trials_stop_when_the_time_budget_would_not_allow_another(bank, monkeypatch):
    examples, labels = _many(bank)
    session = TrainingSession(
        examples,
        task="classification",
        labels=labels,
        base_model_dir=default_base_model_dir(),
        hyperparameters={"max_length": 32},
        time_budget_seconds=1.0,
    )

    def slow_training(model, rows):
        time.sleep(0.5)
        yield from ()
        return {"best_val_metric": 0.5, "best_epoch": 1, "epochs_run": 1, "history": [{"loss": 0.5}]}

    monkeypatch.setattr(session, "_train_gradient", slow_training)
    events = list(session.run())
    assert len(session.trained.train_info["learning_rate_trials"]) == 1
    assert session.trained.hyperparameters["learning_rate"] == 1e-4
    assert any((e["message"] or "").startswith("learning-rate trials stopped after 1 of 3") for e in events)


def test_class_weighting_turns_on_for_imbalance(bank):
    examples, labels = bank
    skewed = [e for e in examples if e.label != labels[0] or e.split != "train"][:-1]
    skewed += [
        Example(text=f"{e.text} again {k}", label=e.label, split="train")
        for e in examples
        if e.label == labels[1] and e.split == "train"
        for k in range(4)
    ]
    session = classifier_session(skewed, labels, method="full")
    assert session.plan.hyperparameters["class_weighting"] is True


def test_unknown_and_invalid_hyperparameters(bank):
    examples, labels = bank
    with pytest.raises(ValueError, match="learnin_rate"):
        classifier_session(examples, labels, hyperparameters={"learnin_rate": 1e-4})
    with pytest.raises(ValueError, match="epochs"):
        classifier_session(examples, labels, hyperparameters={"epochs": 0})
    with pytest.raises(ValueError, match="class_weighting"):
        classifier_session(examples, labels, hyperparameters={"class_weighting": "yes"})


def test_bad_inputs_are_rejected(bank):
    examples, labels = bank
    with pytest.raises(ValueError, match="not in the label list"):
        classifier_session(examples, labels[:-1])
    with pytest.raises(ValueError, match="method"):
        classifier_session(examples, labels, method="magic")
    with pytest.raises(ValueError, match="no training examples"):
        classifier_session([e for e in examples if e.split == "test"], labels)


def test_hyperparameter_errors_name_each_field_and_keep_the_one_line_summary():
    from inference.engine.training.plan import HyperparameterError, validate_hyperparameters

    with pytest.raises(HyperparameterError) as refused:
        validate_hyperparameters({"lr": 1e-3, "learning_rate": 5, "epochs": 3})
    assert refused.value.as_details() == {
        "learning_rate": "must be a number between 1e-07 and 1",
        "unknown": ["lr"],
    }
    assert str(refused.value).startswith("unknown hyperparameter(s): lr (known: batch_size,")
    assert str(refused.value).endswith("; learning_rate=5 must be a number between 1e-07 and 1")
    assert isinstance(refused.value, ValueError)  # callers that catch ValueError still do


def test_lora_targets_are_checked_against_the_base_models_layers_without_loading_weights():
    from inference.engine.training.plan import base_layer_names, lora_target_problem

    layers = base_layer_names(default_base_model_dir())
    assert "encoder.layer.0.attention.self.query" in layers
    assert lora_target_problem(["query", "value"], layers) is None
    assert lora_target_problem(["attention.self.key"], layers) is None  # a dotted suffix, as peft matches
    problem = lora_target_problem(["query", "qkv"], layers)
    assert problem.startswith("no layer of the base model is named qkv; layers you can target: dense, key")


def test_frozen_lowest_layers_keep_their_weights_while_the_layers_above_learn(bank):
    examples, labels = bank
    finished = classifier_session(
        examples, labels, method="full", hyperparameters={**FAST, "freeze_layers": 2}
    )
    list(finished.run())
    from inference.engine.basemodels import load_encoder

    pretrained = dict(load_encoder(default_base_model_dir()).named_parameters())
    tuned = {n.removeprefix("encoder."): p for n, p in finished.trained.model.named_parameters()}
    changed = {n for n, p in pretrained.items() if not p.detach().equal(tuned[n].detach())}
    assert changed, "the upper layers learned"
    assert not any(n.startswith(("encoder.layer.0.", "encoder.layer.1.", "embeddings.")) for n in changed)
    assert any(n.startswith("encoder.layer.5.") for n in changed)


def test_freezing_every_layer_is_refused_with_the_method_to_use(bank):
    examples, labels = bank
    session = classifier_session(
        examples, labels, method="full", hyperparameters={**FAST, "freeze_layers": 6}
    )
    with pytest.raises(
        ValueError, match="freeze_layers=6 would freeze all 6 layers of the base model: use method head"
    ):
        list(session.run())


def test_knobs_the_requested_method_does_not_use_are_refused_field_by_field(bank):
    from inference.engine.training.plan import HyperparameterError, validate_hyperparameters

    examples, labels = bank
    with pytest.raises(HyperparameterError) as refused:
        classifier_session(
            examples, labels, method="head", hyperparameters={"lora_r": 64, "freeze_layers": 2, "epochs": 3}
        )
    assert refused.value.as_details() == {
        "lora_r": "applies to method lora only, not head",
        "freeze_layers": "applies to method full or fewshot only, not head",
    }
    assert "lora_r=64 applies to method lora only, not head" in str(refused.value)
    with pytest.raises(
        HyperparameterError, match="freeze_embeddings=False applies to method full or fewshot only"
    ):
        validate_hyperparameters({"freeze_embeddings": False}, method="lora")
    assert validate_hyperparameters({"lora_r": 4}, method="lora") == {"lora_r": 4}
    # Under auto the method is not known yet: the plan decides (see the next test).
    assert validate_hyperparameters({"lora_r": 4}, method="auto") == {"lora_r": 4}


def test_auto_leaves_out_knobs_its_method_does_not_use_and_says_so(ner):
    plan = TrainingSession(
        ner,
        task="extraction",
        labels=WNUT_TYPES,
        base_model_dir=default_base_model_dir(),
        hyperparameters={"lora_r": 64, "freeze_layers": 2, "warmup_ratio": 0.2},
    ).plan
    assert plan.method == "head"
    hp = plan.hyperparameters
    assert not {"lora_r", "lora_alpha", "freeze_layers", "freeze_embeddings"} & set(hp)
    assert hp["warmup_ratio"] == 0.2
    assert plan.ignored == {
        "lora_r": "applies to method lora only",
        "freeze_layers": "applies to method full or fewshot only",
    }
    assert "; ignored lora_r: applies to method lora only" in plan.reason
    assert "; ignored freeze_layers: applies to method full or fewshot only" in plan.reason
    assert plan.as_dict()["ignored"] == plan.ignored


def test_head_honours_its_learning_rate_warmup_and_gradient_clipping(bank, monkeypatch):
    import torch

    from inference.engine.training import head as head_training

    rates, clipped_to = [], []
    make_optimizer, clip = head_training.adamw, torch.nn.utils.clip_grad_norm_

    def recording_adamw(groups, lr):
        optimizer = make_optimizer(groups, lr)
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: rates.append(opt.param_groups[0]["lr"]))
        return optimizer

    def recording_clip(params, max_norm, *args, **kwargs):
        clipped_to.append(max_norm)
        return clip(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(head_training, "adamw", recording_adamw)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    examples, labels = bank
    session = classifier_session(
        examples,
        labels,
        method="head",
        hyperparameters={
            "max_length": 32,
            "epochs": 4,
            "batch_size": 16,
            "early_stopping_patience": 0,
            "learning_rate": 0.5,
            "head_learning_rate": 0.04,
            "warmup_ratio": 0.5,
            "max_grad_norm": 0.25,
        },
    )
    list(session.run())
    # 64 training examples in batches of 16: 4 steps an epoch, 16 in all, the first 8 warming up.
    assert len(rates) == 16
    assert rates[0] == pytest.approx(0.04 / 8) and rates[3] == pytest.approx(0.04 * 4 / 8)
    assert rates[7:] == pytest.approx([0.04] * 9)  # then constant at the head's own rate
    assert clipped_to == [0.25] * 16
