"""Row-level rules of formats.parse: each problem is reported with its line and how to fix it."""

from __future__ import annotations

import json

import pytest

from inference.engine.formats import ParseOptions, parse
from inference.engine.types import Span


def run(text: str | bytes, task: str = "classification", **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse(data, ParseOptions(task=task, **options))


def only_error(result):
    assert len(result.errors) == 1, [e.message for e in result.errors]
    return result.errors[0]


def jsonl(*rows) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"


# ---------------------------------------------------------------- detection and encodings


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"text,label\nhi,a\n", "csv"),
        (b"text;label\nhi;a\n", "csv"),
        (b"text\tlabel\nhi\ta\n", "tsv"),
        (b'{"text": "hi", "label": "a"}\n', "jsonl"),
        (b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", "conll"),
        (b"Paris\tB-location\nis\tO\n\nnice\tO\n", "conll"),
        (b"", "csv"),
    ],
)
def test_the_format_is_detected_from_the_content(content, expected):
    assert run(content).format == expected


def test_semicolon_csv_and_tsv_parse():
    assert [e.label for e in run("text;label\nhello, there;a\n").examples] == ["a"]
    result = run("text\tlabel\nhello, there\ta\n")
    assert result.format == "tsv" and result.examples[0].text == "hello, there"


def test_utf8_bom_is_detected():
    result = run("text,label\nhé,a\n".encode("utf-8-sig"))
    assert result.encoding == "utf-8-sig"
    assert result.columns == ["text", "label"]
    assert result.examples[0].text == "hé"


def test_latin1_fallback_is_reported():
    result = run("text,label\ncafé,a\n".encode("latin-1"))
    assert result.encoding == "latin-1"
    assert result.examples[0].text == "café"
    assert any("Latin-1" in w for w in result.warnings)


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03" * 50, "text,label\n".encode("utf-16")])
def test_binary_file_is_one_clear_error(data):
    error = only_error(run(data))
    assert "UTF-8" in error.message or "not look like a text file" in error.message


def test_empty_file():
    assert "empty" in only_error(run(b"  \n")).message


def test_header_only_file_has_no_rows():
    assert "no data rows" in only_error(run("text,label\n")).message


# ---------------------------------------------------------------- CSV rules


def test_quoted_field_spanning_lines_and_line_numbers():
    result = run('text,label\n"first\nsecond",a\nthird,b\n')
    assert [(e.text, e.label, e.line) for e in result.examples] == [
        ("first\nsecond", "a", 2),
        ("third", "b", 4),
    ]


def test_columns_map_to_any_names_ignoring_case():
    result = run("Utterance,Intent\nhi,greet\n", text_column="utterance", label_column="intent")
    assert [(e.text, e.label) for e in result.examples] == [("hi", "greet")]


def test_missing_text_column_is_one_error_naming_columns():
    error = only_error(run("body,label\nhi,a\nyo,b\n"))
    assert error.line is None
    assert "'text'" in error.message and "'body', 'label'" in error.message and "text_column" in error.message


def test_missing_text_and_label_columns_are_still_one_error():
    error = only_error(run("body,intent\nhi,a\n"))
    assert error.code == "missing_column"
    assert "no 'text' column" in error.message and "no 'label' column" in error.message
    assert "'body', 'intent'" in error.message and "text_column and label_column" in error.message


def test_empty_text():
    result = run("text,label\nhello,a\n  ,b\n")
    error = only_error(result)
    assert error.code == "empty_text" and error.line == 3
    assert error.message.startswith("Line 3:") and "text is empty" in error.message
    assert len(result.examples) == 1


def test_missing_label():
    error = only_error(run("text,label\nhello,\n"))
    assert error.code == "missing_label" and "Line 2" in error.message and "'label'" in error.message


def test_too_many_fields_suggests_quotes():
    error = only_error(run("text,label\nhello, world,a\n"))
    assert error.line == 2 and "double quotes" in error.message


def test_trailing_empty_fields_are_fine():
    assert run("text,label\nhello,a,,\n").errors == []


def test_too_few_fields():
    error = only_error(run("text,label,split\nhello\n"))
    assert error.code == "too_few_fields" and "Line 2" in error.message


def test_text_too_long_names_the_limit():
    error = only_error(run("text,label\n" + "x" * 51 + ",a\n", max_text_length=50))
    assert error.code == "text_too_long"
    assert "51 characters" in error.message and "limit is 50" in error.message


def test_huge_csv_field_is_too_long_not_a_crash():
    result = run('text,label\n"' + "y" * 200_000 + '",a\n')
    assert only_error(result).code == "text_too_long"


def test_unclosed_quote_hint():
    result = run('text,label\n"oops,a\n' + "more,b\n" * 20, max_text_length=50)
    assert "double quote" in only_error(result).message


def test_splits_with_aliases_and_unknown_value():
    result = run("text,label,split\na,x,train\nb,x,dev\nc,x,VAL\nd,x,valid\ne,x,test\nf,x,\ng,x,holdout\n")
    assert [e.split for e in result.examples] == [
        "train",
        "validation",
        "validation",
        "validation",
        "test",
        None,
    ]
    error = only_error(result)
    assert error.line == 8 and "'holdout'" in error.message and "train, validation" in error.message


def test_extraction_from_csv_is_refused_with_accepted_formats():
    error = only_error(run("text,entities\nhi,\n", task="extraction"))
    assert "JSON Lines" in error.message and "CoNLL" in error.message


def test_max_rows_single_error_and_stop():
    result = run("text,label\n" + "".join(f"t{i},a\n" for i in range(10)), max_rows=3)
    assert len(result.examples) == 3
    error = only_error(result)
    assert error.code == "too_many_rows" and "3" in error.message


def test_errors_are_capped_at_1000():
    result = run("text,label\n" + ",a\n" * 1500)
    assert len(result.errors) == 1001
    assert "500 more problems" in result.errors[-1].message
    capped = run("text,label\n" + ",a\n" * 1500, max_rows=1200)
    assert [e.code for e in capped.errors[-2:]] == ["too_many_errors", "too_many_rows"]
    assert "200 more problems" in capped.errors[-2].message
    one_more = run("text,label\n" + ",a\n" * 1001)
    assert one_more.errors[-1].message.startswith("1 more problem was found but is not listed.")


# ---------------------------------------------------------------- multilabel


def test_multilabel_pipes_json_list_and_empty():
    result = run('text,labels\na,x|y\nb,"[""y"", ""z""]"\nc,\nd, x | x \n', task="multilabel")
    assert result.errors == []
    assert [e.labels for e in result.examples] == [["x", "y"], ["y", "z"], [], ["x"]]


def test_multilabel_bad_json_list():
    error = only_error(run('text,labels\na,"[""x"","\n', task="multilabel"))
    assert error.line == 2 and "not valid JSON" in error.message


# ---------------------------------------------------------------- JSON Lines


def test_jsonl_classification_and_multilabel():
    result = run(jsonl({"text": "a", "label": "x", "split": "test"}, {"text": "b", "label": 3}))
    assert [(e.text, e.label, e.split, e.line) for e in result.examples] == [
        ("a", "x", "test", 1),
        ("b", "3", None, 2),
    ]
    result = run(jsonl({"text": "a", "labels": ["x", "y"]}, {"text": "b", "labels": []}), task="multilabel")
    assert [e.labels for e in result.examples] == [["x", "y"], []]


def test_malformed_json():
    result = run(jsonl({"text": "a", "label": "x"}, '{"text": "b", "label": }'))
    error = only_error(result)
    assert error.code == "bad_json" and error.line == 2 and "not valid JSON" in error.message


def test_json_row_not_an_object():
    error = only_error(run(jsonl({"text": "a", "label": "x"}, '["b", "x"]')))
    assert error.message == 'Line 2: each line must be a JSON object like {"text": ...}, not a list.'


def test_jsonl_errors_come_in_line_order_whichever_check_found_them():
    result = run(
        jsonl({"text": "", "label": "x"}, {"text": "b"}, '{"text": ', ["c"], {"text": "d", "label": "y"})
    )
    assert [(e.line, e.code) for e in result.errors] == [
        (1, "empty_text"),
        (2, "missing_label"),
        (3, "bad_json"),
        (4, "not_object"),
    ]
    # A missing key is about the whole file, so it comes after the lines' own problems.
    missing = run(jsonl({"body": "a", "label": "x"}, "{", {"body": "b", "label": "y"}))
    assert [(e.line, e.code) for e in missing.errors] == [(2, "bad_json"), (None, "missing_column")]


def test_a_fractional_number_as_label_is_refused_saying_how_to_write_it():
    result = run(jsonl({"text": "a", "label": 3}, {"text": "b", "label": 2.0}, {"text": "c", "label": 1.5}))
    assert [(e.text, e.label) for e in result.examples] == [("a", "3"), ("b", "2")]
    assert only_error(result).message == (
        "Line 3: the label is the number 1.5, but a label must be a name (whole numbers such as 3 are read "
        'as names). If 1.5 is the name of a label, write it in quotes: "1.5".'
    )


def test_json_array_file():
    error = only_error(run('[{"text": "a", "label": "x"}]'))
    assert "JSON Lines" in error.message


def test_jsonl_missing_field_is_one_error():
    error = only_error(run(jsonl({"body": "a", "label": "x"}, {"body": "b", "label": "y"})))
    assert "'text'" in error.message and "'body'" in error.message and "text_column" in error.message


def test_jsonl_entities():
    row = {
        "text": "Ada lives in Paris",
        "entities": [{"start": 13, "end": 18, "label": "location"}, [0, 3, "person"]],
    }
    result = run(jsonl(row), task="extraction")
    assert result.errors == []
    assert result.examples[0].entities == [Span(0, 3, "person"), Span(13, 18, "location")]


@pytest.mark.parametrize(
    ("entity", "fragment"),
    [
        ({"start": "0", "end": 3, "label": "p"}, "whole numbers"),
        ({"start": 0.5, "end": 3, "label": "p"}, "whole numbers"),
        ({"start": 0, "end": 99, "label": "p"}, "outside the text"),
        ({"start": -1, "end": 2, "label": "p"}, "outside the text"),
        ({"start": 3, "end": 3, "label": "p"}, "must be greater than 'start'"),
        ({"start": 0, "end": 3}, "no 'label'"),
    ],
)
def test_bad_entities(entity, fragment):
    error = only_error(
        run(jsonl({"text": "Ada lives"}, {"text": "Ada lives", "entities": [entity]}), task="extraction")
    )
    assert error.line == 2 and fragment in error.message


def test_overlapping_entities():
    row = {
        "text": "New York City",
        "entities": [{"start": 0, "end": 8, "label": "loc"}, {"start": 4, "end": 13, "label": "loc"}],
    }
    error = only_error(run(jsonl(row), task="extraction"))
    assert (
        error.code == "overlapping_entities" and "'New York'" in error.message and "overlap" in error.message
    )


def test_jsonl_tokens_and_tags():
    row = {"tokens": ["Ada", "Lovelace", "wrote"], "tags": ["B-person", "I-person", "O"]}
    ex = run(jsonl(row), task="extraction").examples[0]
    assert ex.text == "Ada Lovelace wrote" and ex.tokens == row["tokens"]
    assert ex.entities == [Span(0, 12, "person")]


def test_tokens_tags_length_mismatch():
    error = only_error(run(jsonl({"tokens": ["a", "b"], "tags": ["O"]}), task="extraction"))
    assert error.code == "tokens_tags_mismatch"
    assert error.message == "Line 1: the row has 2 tokens but 1 tag; every token needs exactly one tag."


def test_invalid_bio_is_reported_or_repaired():
    # The file is IOB2 (line 1 opens an entity with B- after O), so line 2's stray I- is a mistake.
    rows = jsonl(
        {"tokens": ["I", "met", "Grace"], "tags": ["O", "O", "B-person"]},
        {"tokens": ["Ada", "Lovelace", "wrote"], "tags": ["O", "I-person", "O"]},
    )
    error = only_error(run(rows, task="extraction"))
    assert (
        error.code == "invalid_bio" and "Line 2" in error.message and "should be 'B-person'" in error.message
    )
    assert "BIO repair" in error.message
    repaired = run(rows, task="extraction", repair_bio=True)
    assert repaired.errors == [] and repaired.examples[1].entities == [Span(4, 12, "person")]
    assert "1 BIO tag sequence was repaired." in repaired.warnings
    assert not any("IOB1" in w for w in repaired.warnings)


def test_unknown_tag_scheme_is_invalid_even_with_repair():
    error = only_error(run(jsonl({"tokens": ["Ada"], "tags": ["PER"]}), task="extraction", repair_bio=True))
    assert "'PER'" in error.message


# ---------------------------------------------------------------- CoNLL


CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_2003_style_space_separated_last_column():
    result = run(CONLL_2003, task="extraction")
    assert result.format == "conll" and result.errors == []
    assert [(e.text, e.line) for e in result.examples] == [
        ("EU rejects German call", 3),
        ("Peter Blackburn", 8),
    ]
    assert result.examples[1].entities == [Span(0, 15, "PER")]


def test_conll_bad_line_skips_the_sentence():
    result = run("Ada\tB-person\nLovelace\n\nParis\tB-location\n", task="extraction")
    error = only_error(result)
    assert error.line == 2 and "word and its tag" in error.message
    assert [e.text for e in result.examples] == ["Paris"]


def test_conll_for_classification_is_refused():
    assert "extraction" in only_error(run("Ada\tB-person\n", format="conll")).message


def test_conll_invalid_bio_line_is_sentence_start():
    result = run("x\tB-person\n\nAda\tO\nLovelace\tI-person\n", task="extraction")
    error = only_error(result)
    assert error.line == 3 and "token 2" in error.message


def test_unknown_option_values_raise():
    with pytest.raises(ValueError, match="task"):
        parse(b"", ParseOptions(task="regression"))
    with pytest.raises(ValueError, match="format"):
        parse(b"", ParseOptions(task="classification", format="xlsx"))
