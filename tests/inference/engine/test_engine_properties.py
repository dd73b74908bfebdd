"""Property-based tests: parse never raises, and generated CSV files round-trip."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.engine.formats import FORMATS, ParseOptions, parse
from inference.engine.splits import assign_splits
from inference.engine.types import TASKS

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look a little like each format, so the readers get past their first checks.
_fragments = st.sampled_from(
    [
        b"text,label\n",
        b"text\tlabels\n",
        b'{"text": "a", "label": "x"}\n',
        b'{"tokens": ["a"], "tags": ["I-x"]}\n',
        b"Ada\tB-person\n",
        b"\n",
        b'"',
        b",",
        b"|",
        b"[",
        b"{",
        b"\xef\xbb\xbf",
        b"\xe9",
        b"-DOCSTART-\n",
        b"\r\n",
        b'{"text": "ab", "entities": [{"start": 0, "end": 5, "label": "p"}]}\n',
    ]
)
_data = st.one_of(
    st.binary(max_size=400), st.lists(st.one_of(_fragments, st.binary(max_size=8)), max_size=30).map(b"".join)
)


@FAST
@given(data=_data, task=st.sampled_from(TASKS), fmt=st.sampled_from((None, *FORMATS)), repair=st.booleans())
def test_parse_never_raises(data, task, fmt, repair):
    result = parse(data, ParseOptions(task=task, format=fmt, repair_bio=repair, max_rows=50))
    assert result.examples or result.errors
    assert result.format in FORMATS
    assert result.encoding in (
        "utf-8",
        "utf-8-sig",
        "windows-1252",
        "latin-1",
        "utf-8/windows-1252",
        "utf-8/latin-1",
        "utf-16",
        "binary",
    )
    assert len(result.errors) <= 1002  # 1000 listed, the count of the rest, too many rows
    for error in result.errors:
        assert error.message and (error.line is None or error.line >= 1)
    for ex in result.examples:
        assert ex.text.strip()
        for span in ex.entities or []:
            assert 0 <= span.start < span.end <= len(ex.text)
    assert result.format in FORMATS


# Control characters are left out of texts: a file full of them is rightly rejected as binary. So is
# U+FEFF: at the start of a line it is read as the byte order mark of a file concatenated onto another.
_text = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs"), include_characters="\n\t", exclude_characters="\ufeff"
    ),
    min_size=1,
    max_size=60,
).filter(lambda t: t.strip() == t and t.strip())
_label = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=12
).filter(lambda t: t.strip() == t and "|" not in t and not t.startswith("["))


@FAST
@given(
    rows=st.lists(
        st.tuples(_text, _label, st.sampled_from(["train", "validation", "test", ""])),
        min_size=1,
        max_size=20,
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_generated_csv_round_trips(rows, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["text", "label", "split"])
    writer.writerows(rows)
    result = parse(buffer.getvalue().encode(), ParseOptions(task="classification"))
    assert result.errors == []
    assert [(e.text, e.label, e.split or "") for e in result.examples] == list(rows)


@FAST
@given(rows=st.lists(st.tuples(_text, st.lists(_label, max_size=4, unique=True)), min_size=1, max_size=15))
def test_generated_multilabel_csv_and_jsonl_round_trip(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "labels"])
    writer.writerows([(text, "|".join(labels)) for text, labels in rows])
    from_csv = parse(buffer.getvalue().encode(), ParseOptions(task="multilabel"))
    lines = "\n".join(json.dumps({"text": t, "labels": labels}, ensure_ascii=False) for t, labels in rows)
    from_jsonl = parse(lines.encode(), ParseOptions(task="multilabel"))
    for result in (from_csv, from_jsonl):
        assert result.errors == []
        assert [(e.text, e.labels) for e in result.examples] == rows


@FAST
@given(labels=st.lists(st.sampled_from("abcde"), min_size=1, max_size=80), seed=st.integers(0, 10))
def test_assign_splits_keeps_every_label_with_two_examples_in_train(labels, seed):
    from inference.engine.types import Example

    examples = [Example(text=f"t{i}", label=label) for i, label in enumerate(labels)]
    result = assign_splits(examples, seed=seed)
    assert all(e.split in ("train", "validation", "test") for e in result)
    assert result == assign_splits(examples, seed=seed)
    for label in set(labels):
        assert any(e.split == "train" and e.label == label for e in result)
