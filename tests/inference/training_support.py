"""Small real datasets for training tests, cut from the shared datasets."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from tests.support import DATASETS


def banking77_slice(labels: int = 6, per_label: int = 20) -> bytes:
    """A CSV (header text,category) with the first ``per_label`` rows of the first ``labels`` intents."""
    rows: dict[str, list[str]] = defaultdict(list)
    with (DATASETS / "banking77" / "train.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            wanted = row["category"] in rows or len(rows) < labels
            if wanted and len(rows[row["category"]]) < per_label:
                rows[row["category"]].append(row["text"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "category"])
    for label, texts in rows.items():
        for text in texts:
            writer.writerow([text, label])
    return out.getvalue().encode()


def wnut17_slice(sentences: int = 80) -> bytes:
    """The first ``sentences`` sentences of the WNUT-17 training file, as CoNLL."""
    blocks, current = [], []
    # Sentence breaks in this file are empty lines or lines holding only a tab.
    for line in (DATASETS / "wnut17" / "wnut17train.conll").read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
            if len(blocks) == sentences:
                break
    return ("\n\n".join(blocks) + "\n").encode()
