"""Write banking77_sample.csv, the demo's classification data, from banking77's train.csv.

    python console/demo_data/make_banking77_sample.py PATH/TO/banking77/train.csv

Eight intents in pairs close in meaning (a new card's arrival and its delivery estimate, a lost card
and one that does not work, the exchange rate and its charge, a failed and a pending top-up), so
that a fine-tuned model shows what it reads beyond the words a word-count baseline sees; 60
questions each: a seeded sample of that intent's
questions of at most 120 characters (short questions read well in the playground). The same input
always gives the same file.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

LABELS = [
    "card_arrival",
    "card_delivery_estimate",
    "lost_or_stolen_card",
    "card_not_working",
    "exchange_rate",
    "exchange_charge",
    "top_up_failed",
    "pending_top_up",
]
PER_LABEL = 60
MAX_CHARS = 120
SEED = 77
OUT = Path(__file__).resolve().parent / "banking77_sample.csv"


def main(source: Path) -> None:
    by_label: dict[str, list[str]] = {label: [] for label in LABELS}
    with source.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(row["text"].split())
            if (
                row["category"] in by_label
                and len(text) <= MAX_CHARS
                and text not in by_label[row["category"]]
            ):
                by_label[row["category"]].append(text)
    rng = random.Random(SEED)
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "label"])
        for label in LABELS:
            for text in rng.sample(by_label[label], PER_LABEL):
                writer.writerow([text, label])
    print(f"wrote {OUT} ({len(LABELS) * PER_LABEL} rows)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
