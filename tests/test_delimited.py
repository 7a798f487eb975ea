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
