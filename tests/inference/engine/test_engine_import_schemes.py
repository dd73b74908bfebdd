"""Files as other tools write them: IOB1 (CoNLL-2003), BIOES, tokens beside text, Windows-1252."""

from __future__ import annotations

import json

from inference.engine.formats import ParseOptions, parse
from inference.engine.types import Span
from inference.engine.words import is_iob1


def run(text: str | bytes, task: str = "extraction", **options):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse(data, ParseOptions(task=task, **options))


def jsonl(*rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# The start of CoNLL-2003's eng.train as shipped: IOB1, four columns, -DOCSTART- lines. "S.African"
# and "Sweden" below are adjacent entities of one type, the only place IOB1 writes B-.
CONLL_2003_IOB1 = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
to TO B-VP O
boycott VB I-VP O
British JJ B-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP B-NP I-LOC
1996-08-22 CD I-NP O

Talks NNS B-NP O
with IN B-PP O
S.African NNP B-NP I-MISC
Sweden NNP I-NP B-MISC
. . O O
"""


def entities(example) -> list[tuple[str, str]]:
    return [(example.text[s.start : s.end], s.label) for s in example.entities]


# ---------------------------------------------------------------- IOB1


def test_a_conll_2003_iob1_file_imports_as_it_is_with_a_note_saying_it_was_converted():
    result = run(CONLL_2003_IOB1)

    assert result.format == "conll" and result.errors == []
    assert [entities(ex) for ex in result.examples] == [
        [("EU", "ORG"), ("German", "MISC"), ("British", "MISC")],
        [("Peter Blackburn", "PER")],
        [("BRUSSELS", "LOC")],
        [("S.African", "MISC"), ("Sweden", "MISC")],
    ]
    [note] = [w for w in result.warnings if "IOB1" in w]
    assert "4 tag sequences were converted to IOB2" in note and "every entity was kept" in note
    assert not any("repaired" in w for w in result.warnings)


def test_iob1_is_decided_per_file_so_an_iob2_file_with_a_stray_i_is_still_reported():
    iob2 = "Ada\tB-person\nLovelace\tI-person\n\nthen\tO\nGrace\tI-person\n"
    result = run(iob2)
    assert [e.code for e in result.errors] == ["invalid_bio"]
    assert "Line 4" in result.errors[0].message and "should be 'B-person'" in result.errors[0].message
    # Repair stays the user's choice for a file that is really broken.
    repaired = run(iob2, repair_bio=True)
    assert repaired.errors == [] and "1 BIO tag sequence was repaired." in repaired.warnings


def test_iob1_in_json_lines_tokens_is_converted_too():
    rows = jsonl({"tokens": ["Peter", "Blackburn", "spoke"], "tags": ["I-PER", "I-PER", "O"]})
    result = run(rows)
    assert result.errors == [] and entities(result.examples[0]) == [("Peter Blackburn", "PER")]
    assert any("IOB1" in w for w in result.warnings)


def test_iob1_detection():
    assert is_iob1([["I-PER", "I-PER", "O"], ["I-LOC", "B-LOC"]])
    assert not is_iob1([["B-PER", "I-PER"], ["O", "I-LOC"]])  # B- after O: IOB2 with a mistake
    assert not is_iob1([["B-PER", "O"]])  # valid IOB2: nothing to convert
    assert not is_iob1([["I-PER", "B-LOC"]])  # B- of another type never happens in IOB1


# ---------------------------------------------------------------- CoNLL detection


def test_bioes_and_lowercase_conll_files_are_read_as_conll_and_their_tags_explained():
    bioes = run("Paris\tS-LOC\nis\tO\n\nnice\tO\n")
    assert bioes.format == "conll"
    assert bioes.errors[0].code == "invalid_bio" and "BIOES" in bioes.errors[0].message
    lower = run("Paris b-loc\nis o\n")
    assert lower.format == "conll" and "'B-loc'" in lower.errors[0].message
    assert run("Paris\tS-LOC\nis\tO\n", task="classification").format != "conll"  # a header-less TSV


def test_a_file_level_error_names_the_format_it_was_read_as_and_how_to_override_it():
    error = run("text,entities\nhello,[]\n").errors[0]
    assert error.code == "format_not_supported"
    assert "read as CSV, detected from its content" in error.message
    assert "set the format option to tsv, jsonl or conll" in error.message
    forced = run('{"text": "hi"}\n', task="classification", format="jsonl").errors[0]
    assert forced.code == "missing_column" and "because the format option is 'jsonl'" in forced.message


# ---------------------------------------------------------------- JSON Lines tokens beside text


def test_jsonl_row_with_text_and_tokens_tags_keeps_its_entities():
    rows = jsonl({"text": "John lives", "tokens": ["John", "lives"], "tags": ["B-PER", "O"]})
    result = run(rows)
    assert result.errors == []
    [ex] = result.examples
    assert ex.text == "John lives" and ex.entities == [Span(0, 4, "PER")] and ex.tokens == ["John", "lives"]


def test_tokens_that_spell_out_the_text_with_other_spacing_keep_the_text_as_written():
    rows = jsonl({"text": "John  lives in Paris.", "tokens": ["John", "lives", "in", "Paris", "."],
                  "tags": ["B-PER", "O", "O", "B-LOC", "O"]})  # fmt: skip
    [ex] = run(rows).examples
    assert ex.text == "John  lives in Paris." and ex.tokens is None
    assert entities(ex) == [("John", "PER"), ("Paris", "LOC")]


def test_tokens_that_do_not_match_the_text_are_a_row_error():
    rows = jsonl({"text": "John lives", "tokens": ["Jon", "lives"], "tags": ["B-PER", "O"]})
    [error] = run(rows).errors
    assert error.code == "tokens_text_mismatch" and error.line == 1
    assert "token 1 'Jon'" in error.message and "leave 'text' out" in error.message


def test_no_row_with_an_entities_key_is_a_missing_column_naming_the_keys_found():
    rows = jsonl({"text": "John lives", "spans": [[0, 4, "PER"]]}, {"text": "Mary too", "spans": []})
    [error] = run(rows).errors
    assert error.code == "missing_column"
    assert "no 'entities' key" in error.message and "'text', 'spans'" in error.message
    assert "label_column" in error.message
    assert run(rows, label_column="spans").errors == []


# ---------------------------------------------------------------- spans and encodings


def test_entity_spans_with_spaces_around_them_are_trimmed_and_counted():
    rows = jsonl({"text": "Hi Bob and Ann", "entities": [{"start": 2, "end": 7, "label": "p"},
                                                          {"start": 11, "end": 14, "label": "p"}]})  # fmt: skip
    result = run(rows)
    assert entities(result.examples[0]) == [("Bob", "p"), ("Ann", "p")]
    assert "1 entity span started or ended with spaces; it was trimmed" in result.warnings[0]
    blank = run(jsonl({"text": "a  b", "entities": [{"start": 1, "end": 3, "label": "p"}]}))
    assert blank.errors[0].code == "blank_entity"


def test_windows_1252_is_decoded_as_such_and_reported():
    result = run("text,label\n“hi” – 5 €,a\n".encode("cp1252"), task="classification")
    assert result.encoding == "windows-1252"
    assert result.examples[0].text == "“hi” – 5 €"
    assert any("Windows-1252" in w for w in result.warnings)
    # Without bytes 0x80-0x9F the file is Latin-1 as before.
    assert run("text,label\ncafé,a\n".encode("latin-1"), task="classification").encoding == "latin-1"


def test_a_mostly_utf8_file_keeps_its_utf8_lines_and_names_the_lines_that_were_not():
    data = "text,label\ncafé,a\n".encode() + "café “x”,b\n".encode("cp1252") + "naïve,c\n".encode()
    result = run(data, task="classification")
    assert [ex.text for ex in result.examples] == ["café", "café “x”", "naïve"]
    assert result.encoding == "utf-8/windows-1252"
    assert result.warnings == [
        "Line 3 is not valid UTF-8, so it was decoded as Windows-1252; the rest of the file is UTF-8 and "
        "was read as such. If characters on that line look wrong, correct them and save the file as UTF-8."
    ]


def test_many_lines_that_are_not_utf8_are_named_by_the_first_few_and_counted():
    data = "text,label\nnaïve,a\n".encode() + "".join(f"café {i},b\n" for i in range(7)).encode("latin-1")
    result = run(data, task="classification")
    assert result.encoding == "utf-8/latin-1" and result.examples[2].text == "café 1"
    assert result.warnings[0].startswith("7 lines (3, 4, 5, 6, 7 and 2 more) are not valid UTF-8")


# ---------------------------------------------------------------- line endings, trailing tabs, joined files


def test_old_mac_line_endings_split_lines_in_conll_and_json_lines():
    conll = run("John B-PER\rSmith I-PER\r\rParis B-LOC\r")
    assert [(entities(ex), ex.line) for ex in conll.examples] == [
        ([("John Smith", "PER")], 1),
        ([("Paris", "LOC")], 4),
    ]
    lines = run('{"text": "a", "label": "x"}\r{"text": "b", "label": "y"}\r', task="classification")
    assert lines.errors == [] and [(ex.text, ex.label, ex.line) for ex in lines.examples] == [
        ("a", "x", 1),
        ("b", "y", 2),
    ]


def test_a_trailing_tab_after_the_tag_is_ignored():
    result = run("John\tB-PER\t\r\nSmith\tI-PER\t\r\n\r\nParis\tB-LOC\t\r\n")
    assert result.errors == []
    assert [entities(ex) for ex in result.examples] == [[("John Smith", "PER")], [("Paris", "LOC")]]


def test_a_byte_order_mark_in_the_middle_of_json_lines_is_dropped():
    # Two JSON Lines files saved with a BOM and concatenated.
    result = run('{"text": "a", "label": "x"}\n\ufeff{"text": "b", "label": "y"}\n', task="classification")
    assert result.errors == [] and [ex.text for ex in result.examples] == ["a", "b"]


def test_hugging_face_tag_ids_are_refused_with_how_to_name_them():
    result = run(jsonl({"id": "0", "tokens": ["EU", "rejects", "German"], "ner_tags": [3, 0, 7]}))
    [error] = result.errors
    assert error.code == "tag_ids"
    assert error.message == (
        "Line 1: 'ner_tags' holds tag ids (numbers such as 3), but tags must be tag names like B-PER, "
        "I-PER or O. Replace each id with its name (a Hugging Face dataset lists them in "
        "features['ner_tags'].feature.names) and upload the file again."
    )
    mixed = run(jsonl({"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", 0]})).errors[0]
    assert mixed.message == "Line 1: 'ner_tags' must be a list of tag strings such as O, B-person, I-person."
