"""Reading a stored progress row: what the progress bar and the admin's progress column are built from."""

from __future__ import annotations

import pytest

from inference.engine.training import ends_an_epoch, read_progress
from inference.engine.training.gradient import early_stop_message, epoch_message

MID_TRAINING = {
    "phase": "training", "epoch": 1, "epochs": 3, "step": 40, "total_steps": 120, "loss": 0.8123,
    "val_metric": 0.9125, "val_metric_name": "accuracy", "examples_per_second": 71.4, "eta_seconds": 95,
}  # fmt: skip


def test_a_row_stored_mid_training_reads_as_one_line_and_a_fraction_of_the_steps():
    progress = read_progress(MID_TRAINING)

    assert progress.line() == (
        "training · epoch 1/3 · step 40/120 · loss 0.812 · val accuracy 0.912 · 71 ex/s · 95 s left"
    )
    assert progress.training_fraction == pytest.approx(40 / 120)


@pytest.mark.parametrize("stored", [None, {}, {"phase": "queued"}, {"phase": "starting"}])
def test_a_row_written_before_training_has_no_figures(stored):
    progress = read_progress(stored)

    assert (progress.epoch, progress.epochs, progress.step, progress.total_steps) == (0, 0, 0, 0)
    assert progress.loss is progress.val_metric is progress.eta_seconds is None
    assert progress.training_fraction == 0.0
    assert progress.line() == ((stored or {}).get("phase") or "")


def test_without_steps_the_fraction_counts_epochs_and_never_passes_one():
    assert read_progress({"phase": "training", "epoch": 2, "epochs": 4}).training_fraction == 0.5
    assert read_progress({"epoch": 5, "epochs": 4}).training_fraction == 1.0
    assert read_progress({"step": 130, "total_steps": 120}).training_fraction == 1.0


def test_figures_that_are_not_numbers_are_left_out_rather_than_failing_the_page():
    progress = read_progress({"phase": "training", "loss": "n/a", "eta_seconds": True, "epochs": None})

    assert progress.loss is None and progress.eta_seconds is None and progress.epochs == 0
    assert progress.line() == "training"


def test_the_messages_that_close_an_epoch_are_recognised_and_others_are_not():
    summary = epoch_message("classification", 2, 5, {"loss": 0.4, "val_metric": 0.9}, best_epoch=2)

    assert ends_an_epoch({"message": summary})
    assert ends_an_epoch({"message": early_stop_message("classification", 2, 1, 0.9)})
    assert not ends_an_epoch({"message": "embedding with the frozen base model 64/128"})
    assert not ends_an_epoch({"message": None}) and not ends_an_epoch({})
