"""Property: the platform's split keeps the requested ratios overall, whatever the strata look like."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inference.engine.splits import assign_splits, split_counts
from inference.engine.types import Example


@settings(max_examples=150, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    held=st.tuples(st.integers(0, 45), st.integers(0, 45)),
    seed=st.integers(0, 1000),
)
def test_overall_split_counts_stay_within_one_row_of_the_ratios(sizes, held, seed):
    # Given strata of any sizes (distinct texts) and any ratios
    r_val, r_test = held[0] / 100, held[1] / 100
    ratios = (1 - r_val - r_test, r_val, r_test)
    examples = [Example(text=f"{s}-{i}", label=f"l{s}") for s, n in enumerate(sizes) for i in range(n)]
    total = len(examples)
    # ... where the rule that each label keeps a train row leaves room for the held-out rows
    assume(total - len(sizes) >= round(total * r_val + 0.5 - 1e-9) + round(total * r_test + 0.5 - 1e-9))

    counts = split_counts(assign_splits(examples, ratios=ratios, seed=seed))

    # Then every split is within one row of total x ratio, and every label keeps a train row
    for split, ratio in zip(("train", "validation", "test"), ratios, strict=True):
        assert abs(counts[split] - total * ratio) <= 1 + 1e-9, (split, counts, total * ratio)
    trained = {ex.label for ex in assign_splits(examples, ratios=ratios, seed=seed) if ex.split == "train"}
    assert trained == {ex.label for ex in examples}
