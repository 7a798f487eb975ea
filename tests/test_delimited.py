"""The field separator of CSV files as spreadsheets write them."""

from __future__ import annotations

from spark_trainer.delimited import delimiter_for, excel_separator


def test_the_header_line_decides_the_separator() -> None:
    assert delimiter_for("text,label\r\n") == ","
    assert delimiter_for("text;label;note\n") == ";"  # Excel in a comma-decimal locale
    assert delimiter_for("text\tlabel\n") == "\t"
    assert delimiter_for('"price, in €";label\n') == ";"  # commas inside quotes do not count
    assert delimiter_for("text\n") == ","
    assert delimiter_for("a,b;c\n") == ","  # a tie keeps the comma
    assert delimiter_for("text,label", ".tsv") == "\t"


def test_an_excel_sep_line_names_the_separator() -> None:
    assert delimiter_for("sep=;\r\ntext;label\r\n") == ";"
    assert delimiter_for("sep=,\ntext;label\n") == ","
    assert excel_separator("sep=\t\n") == "\t" and excel_separator("text,sep=;\n") is None


def test_a_dict_reader_starts_past_the_sep_line_and_says_where_its_rows_start(tmp_path) -> None:
    import io

    from spark_trainer.delimited import dict_reader

    reader, first = dict_reader(io.StringIO("sep=;\r\ntext ; label\r\nhi;a\r\n", newline=""))
    assert (reader.fieldnames, first, list(reader)) == (["text", "label"], 3, [{"text": "hi", "label": "a"}])
    reader, first = dict_reader(io.StringIO("text,label\nhi,a\n", newline=""))
    assert (reader.fieldnames, first, list(reader)) == (["text", "label"], 2, [{"text": "hi", "label": "a"}])


def test_a_dict_reader_reads_a_cell_longer_than_csvs_default_limit() -> None:
    """Evaluation data and caption CSVs failed on a 200,000-character cell ("field larger than field
    limit") unless an ingestion had raised csv's process-wide limit earlier in the same process: a
    fresh process shows what a user's `eval` meets."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    probe = ("import io; from spark_trainer.delimited import dict_reader; "
             "reader, _ = dict_reader(io.StringIO('text,label\\n' + 'w' * 200_000 + ',a\\nshort,b\\n', newline='')); "
             "print([(len(r['text']), r['label']) for r in reader])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[(200000, 'a'), (5, 'b')]"
