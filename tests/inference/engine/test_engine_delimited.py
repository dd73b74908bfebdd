"""CSV and TSV as people really write them: stray quotes, Excel's "sep=" line, joined files."""

from __future__ import annotations

from inference.engine.formats import ParseOptions, parse


def run(text: str, task: str = "classification", **options):
    return parse(text.encode("utf-8"), ParseOptions(task=task, **options))


def rows(result) -> list[tuple[str, str, int]]:
    return [(e.text, e.label, e.line) for e in result.examples]


def messages(result) -> list[str]:
    return [e.message for e in result.errors]


# ---------------------------------------------------------------- TSV without quoting


def test_an_sst2_style_tsv_keeps_its_quotes_as_text_and_every_row():
    # SST-2 writes no quoting: a sentence may start with a quote that is never closed.
    result = run(
        'sentence\tlabel\n" the movie is great\t1\nit is bad\t0\nfine film\t1\n"quoted" start\t0\n',
        text_column="sentence",
    )
    assert result.errors == [] and result.warnings == []
    assert rows(result) == [
        ('" the movie is great', "1", 2),
        ("it is bad", "0", 3),
        ("fine film", "1", 4),
        ('"quoted" start', "0", 5),
    ]


def test_a_tsv_cell_that_is_one_whole_quoted_string_is_unquoted():
    result = run('"text"\t"label"\n"He said ""hi"""\tgreet\n"Hi" she said\tgreet\n')
    assert result.columns == ["text", "label"]
    assert rows(result) == [('He said "hi"', "greet", 2), ('"Hi" she said', "greet", 3)]


def test_a_tsv_whose_lines_do_not_all_split_evenly_is_read_with_quoting():
    # The quoted cell holds a line break, so its lines do not split into two fields each.
    result = run('text\tlabel\n"first line\nsecond line"\ta\nthird\tb\n')
    assert result.errors == []
    assert rows(result) == [("first line\nsecond line", "a", 2), ("third", "b", 4)]


def test_a_tsv_cell_quoted_because_it_holds_a_tab_keeps_the_tab():
    result = run('text\tlabel\tsplit\n"a\tb"\tx\t\n')
    assert result.errors == [] and rows(result) == [("a\tb", "x", 2)]


# ---------------------------------------------------------------- malformed quotes are row errors


def test_text_after_a_closing_quote_is_a_row_error_saying_how_to_quote_the_cell():
    result = run('text,label\n"Hi" she said,greet\nok,bye\n')
    assert messages(result) == [
        "Line 2: the cell '\"Hi\" she said' starts with a double quote but does not end with one, so it "
        "cannot be read as quoted text. If the quotes belong to the text, put the whole cell in double "
        'quotes and double each quote inside it: """Hi"" she said".'
    ]
    assert result.errors[0].code == "bad_quote"
    assert rows(result) == [("ok", "bye", 3)]


def test_a_quote_never_closed_is_a_row_error_and_the_rows_after_it_are_still_read():
    result = run('text,label\n"unclosed quote,a\nnext,b\nlast,c\n')
    assert messages(result) == [
        "Line 2: the double quote at the start of '\"unclosed quote' is never closed, so the rest of the "
        "file would be read as one cell. If the quote belongs to the text, put the whole cell in double "
        'quotes and double the quote inside it: """unclosed quote"; otherwise add the missing closing quote.'
    ]
    assert result.errors[0].code == "unclosed_quote"
    assert rows(result) == [("next", "b", 3), ("last", "c", 4)]


def test_a_quote_that_swallows_rows_until_a_later_quote_names_both_lines():
    result = run('text,label\n"He said hi,greet\nbye now,bye\n"ok" now,x\nmore,y\n')
    assert [(e.line, e.code) for e in result.errors] == [(2, "bad_quote"), (4, "bad_quote")]
    assert "opens a quoted cell that is closed only on line 4" in result.errors[0].message
    assert rows(result) == [("bye now", "bye", 3), ("more", "y", 5)]


def test_a_tsv_that_needs_quoting_reports_malformed_quotes_too():
    result = run('text\tlabel\n"a\tb"\tx\n"Hi" she\tgreet\tmore\n')
    assert [(e.line, e.code) for e in result.errors] == [(3, "bad_quote")]
    assert rows(result) == [("a\tb", "x", 2)]


def test_quotes_inside_an_unquoted_cell_stay_text():
    result = run('text,label\n5" screen is tiny,y\n"a""b",x\n')
    assert result.errors == [] and rows(result) == [('5" screen is tiny', "y", 2), ('a"b', "x", 3)]


# ---------------------------------------------------------------- quoted cells over several lines


def test_a_quoted_cell_over_lines_that_each_look_like_rows_is_warned_about():
    result = run('text,label\n"He said hi,greet\nbye now,bye\nok now",x\nmore,y\n')
    assert result.errors == []
    assert rows(result) == [("He said hi,greet\nbye now,bye\nok now", "x", 2), ("more", "y", 5)]
    assert result.warnings == [
        "Lines 2-4 were read as one row: a double quote on line 2 opens a cell that closes only on line 4, "
        "and each of these lines looks like a row of its own. If they are separate rows, the quotes on lines "
        "2 and 4 belong to the text: put each of those cells in double quotes and double the quote inside "
        "it. If the text really runs over those lines, all is well."
    ]


def test_a_text_with_line_breaks_is_not_warned_about():
    # banking77 has texts like these: prose with a comma, and a line break before the closing quote.
    result = run('text,label\n"line one\nline two, with comma",a\n"I think, maybe.\n",b\n')
    assert result.errors == [] and result.warnings == []
    assert rows(result) == [("line one\nline two, with comma", "a", 2), ("I think, maybe.", "b", 4)]


# ---------------------------------------------------------------- Excel, joined files, empty files


def test_excels_sep_line_sets_the_delimiter_and_keeps_line_numbers():
    result = run("sep=;\ntext;label\nhi, you;a\n;b\n")
    assert result.columns == ["text", "label"]
    assert rows(result) == [("hi, you", "a", 3)]
    assert [(e.line, e.code) for e in result.errors] == [(4, "empty_text")]
    assert rows(run("sep=,\ntext,label\nhi;you,a\n")) == [("hi;you", "a", 3)]
    assert rows(run("sep=\t\ntext\tlabel\nhi, you\ta\n")) == [("hi, you", "a", 3)]


def test_a_byte_order_mark_starting_a_later_line_is_dropped():
    # Two files saved by Excel and joined: the second one's BOM starts a line in the middle.
    result = run("text,label\nhello,a\n\ufefftext2,b\n")
    assert result.errors == [] and rows(result) == [("hello", "a", 2), ("text2", "b", 3)]


def test_a_header_without_rows_says_so_without_blaming_the_format():
    result = run("text,label\n")
    assert messages(result) == [
        "The file has a header but no data rows. Add one row per example below the header."
    ]


def test_field_counts_are_written_in_the_singular_for_one():
    result = run("text,label,split\nhello\n")
    assert messages(result) == [
        "Line 2: the row has 1 field but the header has 3 columns. Fill in the missing values."
    ]
