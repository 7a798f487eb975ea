"""Evaluation data for image classification: a manifest, or a folder of class sub-folders (read as
dataset ingestion reads one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.evaluation.data import read_labelled, read_labelled_images
from tests.recipes.helpers import make_image_folders


def test_a_folder_of_class_folders_is_read_like_ingestion_reads_it(tmp_path: Path) -> None:
    root = make_image_folders(tmp_path / "held-out", per_class=2, size=16)
    (root / "red_square" / "000.txt").write_text("a caption beside an image, not an item")
    (root / ".thumbs").mkdir()
    (root / ".thumbs" / "x.png").write_bytes(b"hidden, as ingestion leaves it")
    items = read_labelled_images(root)
    assert sorted((Path(i.path).relative_to(root.resolve()).as_posix(), i.label) for i in items) == [
        ("blue_bars/000.png", "blue_bars"), ("blue_bars/001.png", "blue_bars"),
        ("green_disc/000.png", "green_disc"), ("green_disc/001.png", "green_disc"),
        ("red_square/000.png", "red_square"), ("red_square/001.png", "red_square")]
    assert {i.source for i in items} >= {"held-out/red_square/000.png"}  # named as ingestion names them


def test_a_folder_image_outside_a_class_folder_is_named(tmp_path: Path) -> None:
    root = make_image_folders(tmp_path / "held-out", per_class=1, size=16)
    (root / "red_square" / "000.png").rename(root / "stray.png")
    with pytest.raises(BadInput, match=r"evaluation data .*held-out: image stray.png is not in a class sub-folder"):
        read_labelled_images(root)
    (root / "stray.png").unlink()
    for folder in root.iterdir():
        for image in folder.iterdir():
            image.rename(folder / f"{image.stem}.bin")
    with pytest.raises(BadInput, match=r"evaluation data .*held-out has no images"):
        read_labelled_images(root)


def test_a_folder_given_to_a_file_task_is_called_a_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"^evaluation data .*: a folder; this task reads a CSV or JSONL file$"):
        read_labelled(tmp_path)
    with pytest.raises(BadInput, match=r"^evaluation data .*missing\.jsonl: no such file$"):
        read_labelled(tmp_path / "missing.jsonl")


def test_a_semicolon_csv_is_read_by_its_columns(tmp_path: Path) -> None:
    data = tmp_path / "held-out.csv"
    data.write_text("text;label\nrefund please;billing\napp crashes;bug\n")
    assert [(i.text, i.label) for i in read_labelled(data)] == [("refund please", "billing"), ("app crashes", "bug")]


def test_files_saved_with_a_bom_keep_their_first_column_name(tmp_path: Path) -> None:
    csv_file = tmp_path / "held-out.csv"
    csv_file.write_bytes(b"\xef\xbb\xbftext,label\r\nrefund please,billing\r\n")
    jsonl_file = tmp_path / "held-out.jsonl"
    jsonl_file.write_bytes(b'\xef\xbb\xbf{"text": "app crashes", "label": "bug"}\n')
    assert [(i.text, i.label) for i in read_labelled(csv_file)] == [("refund please", "billing")]
    assert [(i.text, i.label) for i in read_labelled(jsonl_file)] == [("app crashes", "bug")]


def test_a_hand_written_csv_header_with_spaces_names_its_columns(tmp_path: Path) -> None:
    data = tmp_path / "held-out.csv"
    data.write_text("text, label\nrefund please, billing\n")
    assert [(i.text, i.label) for i in read_labelled(data)] == [("refund please", "billing")]


def test_an_excel_sep_line_is_not_read_as_the_header(tmp_path: Path) -> None:
    data = tmp_path / "held-out.csv"
    data.write_text("sep=;\ntext;label\nrefund please;billing\napp crashes;\n")
    with pytest.raises(BadInput, match=r"line 4 has an empty 'label'"):  # counted from the file's first line
        read_labelled(data)
    data.write_text("sep=;\ntext;label\nrefund please;billing\n")
    assert [(i.text, i.label) for i in read_labelled(data)] == [("refund please", "billing")]


def test_a_csv_cell_over_the_reader_limit_is_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    """A 17 MB cell (a document pasted into one cell, or a quote left open) ended `eval` with csv's
    traceback ('field larger than field limit'), before any model was loaded."""
    from spark_trainer.delimited import CELL_CHARS
    from spark_trainer.evaluation.data import read_documents

    data = tmp_path / "held-out.csv"
    data.write_text("text,label\nrefund please,billing\n" + "x" * (CELL_CHARS + 1) + ",bug\n")
    with pytest.raises(BadInput, match=r"held-out\.csv: line 3: a cell is over 16777216 characters"):
        read_labelled(data)
    with pytest.raises(BadInput, match=r"held-out\.csv: line 3: a cell is over"):
        read_documents(data)


def test_an_ingested_dataset_folder_or_its_manifest_gives_its_held_out_rows_as_training_reads_them(tmp_path: Path) -> None:
    """`eval --data datasets/<id>/manifest.jsonl` said "has no 'text' column; columns are: split,
    sha256, source, record": the manifest's rows are the training loader's records, its held-out ones."""
    import json

    from spark_trainer.cli.main import main
    from spark_trainer.evaluation.data import read_documents
    from spark_trainer.store import datasets
    from spark_trainer.store.store import Store

    rows = [{"text": f"ticket {i}", "label": ["bug", "praise"][i % 2]} for i in range(10)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    images = make_image_folders(tmp_path / "shapes", per_class=2, size=32)
    home = tmp_path / "home"
    assert main(["--home", str(home), "project", "create", "p"]) == 0
    for source in (tmp_path / "t.jsonl", images):
        assert main(["--home", str(home), "dataset", "ingest", str(source), "--project", "p"]) == 0
    with Store.open(home) as store:
        text, image = (Path(d.path) for d in sorted(datasets.list_all(store), key=lambda d: d.id))
    # Only the rows ingestion held out are evaluated: a run on this dataset trained on the others.
    held = [json.loads(line)["record"] for line in (text / "manifest.jsonl").read_text().splitlines()
            if json.loads(line)["split"] == "val"]
    assert 0 < len(held) < len(rows)
    for data in (text, text / "manifest.jsonl"):
        assert sorted((i.text, i.label) for i in read_labelled(data)) == sorted((r["text"], r["label"]) for r in held)
        assert sorted(d["text"] for d in read_documents(data)) == sorted(r["text"] for r in held)
    held_images = [json.loads(line)["label"] for line in (image / "manifest.jsonl").read_text().splitlines()
                   if json.loads(line)["split"] == "val"]
    for data in (image, image / "manifest.jsonl"):
        found = read_labelled_images(data)
        assert sorted(i.label for i in found) == sorted(held_images or ["blue_bars", "green_disc", "red_square"] * 2)
        assert all(Path(i.path).is_file() and Path(i.path).is_relative_to(image) for i in found)


def test_eval_and_ingest_say_the_same_about_an_unclosed_quote_and_a_latin1_line(store, tmp_path: Path) -> None:
    """An unclosed quote: ingest said "row has 1 fields; the header has 2", eval "line 2 has an empty
    'label'", neither that a quote is open. A latin-1 CSV: eval named the file, not the line."""
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects

    projects.create(store, "p")
    quote = tmp_path / "quote.csv"
    quote.write_text('text,label\n"an open quote,bug\nmore text,praise\n', encoding="utf-8")
    said = "line 2: a quote opened on this line is never closed (the rest of the file became one cell)"
    with pytest.raises(BadInput) as caught:
        read_labelled(quote)
    assert str(caught.value) == f"{quote}: {said}"
    with pytest.raises(BadInput) as caught:
        ingest_paths(store, [quote], project="p")
    assert said.removeprefix("line 2: ") in str(caught.value) and "quote.csv:2" in str(caught.value)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\nfine,bug\ncaf\u00e9,praise\n".encode("latin-1"))
    with pytest.raises(BadInput, match=r"latin\.csv: not valid UTF-8 at line 3 "):
        read_labelled(latin)
