"""Write banking77_sample.csv, the demo's classification data, from banking77's train.csv.

    python console/demo_data/make_banking77_sample.py PATH/TO/banking77/train.csv

Eight intents whose meanings do not overlap, 45 questions each: a seeded sample of that intent's
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
    "lost_or_stolen_card",
    "exchange_rate",
    "declined_card_payment",
    "pin_blocked",
    "cash_withdrawal_charge",
    "transfer_not_received_by_recipient",
    "top_up_failed",
]
PER_LABEL = 45
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
