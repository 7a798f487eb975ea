"""The recipes' rules for which datasets and base models they can use, from cheap facts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.recipes.fit import DataFacts, dataset_facts
from spark_trainer.recipes.registry import get_recipe
from spark_trainer.store import dataset_counts, datasets, projects


def test_facts_count_every_row_at_ingestion(store, tmp_path: Path) -> None:
    projects.create(store, "p")
    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n' * 3)
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    (tmp_path / "shots").mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (90 * i, 60, 60)).save(tmp_path / "pets" / "cat" / f"{i}.png")
        Image.new("RGB", (40, 40), (60, 90 * i, 60)).save(tmp_path / "shots" / f"{i}.png")
        (tmp_path / "shots" / f"{i}.txt").write_text("a picture")
    text = ingest_paths(store, [tmp_path / "train.jsonl"], project="p").dataset
    pets = ingest_paths(store, [tmp_path / "pets"], project="p").dataset
    shots = ingest_paths(store, [tmp_path / "shots"], project="p").dataset
    assert dataset_facts(store, text) == DataFacts.counted("text", 1, {"completion": 1, "prompt": 1})  # 2 duplicates left out
    assert dataset_facts(store, pets) == DataFacts.counted("image", 2, {"label": 2}, sides={40: 2})
    assert dataset_facts(store, shots) == DataFacts.counted("image", 2, {"caption": 2}, sides={40: 2})
    assert shots.meta["fields"]["filled"] == {"caption": 2}  # stored with the dataset: no manifest read
    assert shots.meta["fields"]["sides"] == {"40": 2}  # the images' shorter sides, from the rows' sizes
    _forget_counts(store, shots.id)
    assert dataset_facts(store, datasets.get(store, shots.id)) == dataset_facts(store, shots)  # a count finds the same
    (Path(text.path) / "manifest.jsonl").unlink()
    unknown = dataset_facts(store, text)
    assert unknown == DataFacts("text") and not unknown.read  # the full data check says why


def _every_row(kind: str, *fields: str) -> DataFacts:
    """10 rows counted, each filling `fields`."""
    return DataFacts.counted(kind, 10, dict.fromkeys(fields, 10))


PROMPTS = _every_row("text", "completion", "prompt")
TABLE = _every_row("text", "label", "text")
MANIFEST = _every_row("text", "label", "path")
FOLDERS = _every_row("image", "label")
CAPTIONED = _every_row("image", "caption")
BARE = _every_row("image")


@pytest.mark.parametrize("recipe, facts, settings, why", [
    ("image-classification", PROMPTS, {}, "its records have no 'path' field (recipe_config.image_column); "
                                          "fields: completion, prompt"),
    ("image-classification", MANIFEST, {}, None),
    ("image-classification", FOLDERS, {}, None),
    ("image-classification", CAPTIONED, {}, "none of its 10 images has a label; put each class's images in a sub-folder"),
    ("image-classification", _every_row("text", "file", "label"), {"image_column": "file"}, None),
    ("text-classification", TABLE, {}, None),
    ("text-classification", PROMPTS, {}, "its records have no 'text' field (recipe_config.text_column)"),
    ("text-classification", _every_row("text", "label", "review"), {"text_column": "review"}, None),
    ("text-classification", FOLDERS, {}, "it is an image dataset; text-classification trains on text datasets"),
    ("causal-lm", PROMPTS, {}, None),
    ("causal-lm", TABLE, {}, None),
    ("causal-lm", _every_row("text", "messages"), {}, None),
    ("causal-lm", MANIFEST, {}, "its records match no causal-LM format (text; prompt-completion (prompt, "
                                "completion); messages; sharegpt (conversations); alpaca (instruction, optional input, "
                                "output); dolly (instruction, optional context, response); question-answer (question, "
                                "answer); prompt-response (prompt, response)); fields: label, path"),
    ("diffusion-lora", CAPTIONED, {}, None),
    ("diffusion-lora", BARE, {}, "none of its 10 images has a caption; diffusion-lora needs a caption for every "
                                 "image: add a name.txt caption beside each image (or a metadata.jsonl)"),
    ("diffusion-lora", BARE, {"missing_captions": "empty"}, None),
    ("diffusion-lora", PROMPTS, {}, "its records have no 'path' field (recipe_config.image_column)"),
    # Counted over every row: a field only some rows fill.
    ("diffusion-lora", DataFacts.counted("image", 500, {"caption": 1}), {},
     "only 1 of 500 images has a caption; diffusion-lora needs a caption for every image: add a name.txt caption "
     "beside each image (or a metadata.jsonl), or set recipe_config.missing_captions to empty or skip"),
    ("diffusion-lora", DataFacts.counted("image", 500, {"caption": 1}, lacking={"caption": ["b.png", "c.png"]}), {},
     "only 1 of 500 images has a caption (missing on b.png, c.png and 497 more); diffusion-lora needs"),
    ("diffusion-lora", DataFacts.counted("image", 500, {"caption": 1}), {"missing_captions": "skip"}, None),
    ("diffusion-lora", DataFacts.counted("image", 500, {}), {"missing_captions": "skip"},
     "none of its 500 images has a caption, so missing_captions: skip leaves nothing to train on"),
    ("diffusion-lora", DataFacts.counted("image", 500, {}), {"missing_captions": "empty"}, None),
    ("diffusion-lora", DataFacts.counted("image", 5000, {"caption": 4999}), {},
     "only 4,999 of 5,000 images have a caption"),
    ("diffusion-lora", DataFacts.counted("image", 500, {"caption": 500}), {}, None),
    ("image-classification", DataFacts.counted("image", 40, {"label": 39}), {},
     "only 39 of 40 images have a label; put each class's images in a sub-folder"),
    ("image-classification", DataFacts.counted("text", 40, {"path": 40, "label": 1}), {},
     "only 1 of 40 records has a 'label' value; image-classification needs a label on every row "
     "(recipe_config.label_column)"),
    ("text-classification", DataFacts.counted("text", 10, {"text": 10, "label": 7}), {},
     "only 7 of 10 records have a 'label' value; text-classification needs a label on every row "
     "(recipe_config.label_column)"),
    ("text-classification", DataFacts.counted("text", 10, {"text": 3, "label": 10}), {}, None),  # empty texts train
    # diffusion-lora on text rows of image paths and captions.
    ("diffusion-lora", DataFacts.counted("text", 10, {"path": 10, "caption": 10}), {}, None),
    ("diffusion-lora", DataFacts.counted("text", 10, {"image": 10, "caption": 10}), {},
     "its records have no 'path' field (recipe_config.image_column); fields: caption, image"),
    ("diffusion-lora", DataFacts.counted("text", 10, {"image": 10, "caption": 10}), {"image_column": "image"}, None),
    ("diffusion-lora", DataFacts.counted("text", 10, {"path": 10, "text": 10}), {},
     "its records have no 'caption' field (recipe_config.caption_column); fields: path, text"),
    ("diffusion-lora", DataFacts.counted("text", 10, {"path": 10, "text": 10}), {"caption_column": "text"}, None),
    ("diffusion-lora", DataFacts.counted("text", 10, {"path": 10, "caption": 4}), {},
     "only 4 of 10 records have a caption in 'caption'; diffusion-lora needs a caption for every image: fill in "
     "'caption' on every row, or set recipe_config.missing_captions to empty or skip"),
    ("diffusion-lora", DataFacts.counted("text", 10, {"path": 10}), {"missing_captions": "empty"}, None),
    ("diffusion-lora", FOLDERS, {}, "none of its 10 images has a caption"),
])
def test_each_recipe_says_which_datasets_it_trains_on(recipe, facts, settings, why) -> None:
    found = get_recipe(recipe).data_problem(facts, settings)
    assert (found is None) if why is None else (found or "").startswith(why), found


def _model(tmp_path: Path, name: str, *files: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        (folder / file).write_text(json.dumps({}))
    return folder


def test_each_recipe_says_which_base_models_it_starts_from(tmp_path: Path) -> None:
    gpt = _model(tmp_path, "gpt", "config.json", "tokenizer_config.json")
    vit = _model(tmp_path, "vit", "config.json", "preprocessor_config.json")
    sd = _model(tmp_path, "sd", "model_index.json")
    bare = _model(tmp_path, "bare", "config.json")
    fits = {(r, m.name): get_recipe(r).model_problem(m) is None
            for r in ("causal-lm", "text-classification", "image-classification", "diffusion-lora")
            for m in (gpt, vit, sd, bare)}
    assert [key for key, ok in fits.items() if ok] == [
        ("causal-lm", "gpt"), ("text-classification", "gpt"), ("image-classification", "vit"), ("diffusion-lora", "sd")]
    assert get_recipe("causal-lm").model_problem(sd).startswith("it is a diffusers pipeline")
    assert get_recipe("causal-lm").model_problem(bare).startswith("it has no tokenizer")
    assert get_recipe("diffusion-lora").model_problem(gpt).startswith("it is not a diffusers pipeline")


def test_a_dataset_whose_manifest_cannot_be_read_is_left_to_the_full_data_check(store, tmp_path) -> None:
    # A dataset row whose folder has no manifest (yet, or any more) was refused for "no 'text' field;
    # fields: none", as if its rows had been read; its fields are unknown, so no fit rule decides.
    import dataclasses

    projects.create(store, "p")
    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    dataset = ingest_paths(store, [tmp_path / "train.jsonl"], project="p").dataset
    (Path(dataset.path) / "manifest.jsonl").unlink()
    facts = dataset_facts(store, dataset)
    assert not facts.read
    for name in ("causal-lm", "text-classification", "image-classification"):
        assert get_recipe(name).data_problem(facts) is None
    assert get_recipe("causal-lm").data_problem(dataclasses.replace(facts, kind="image")) is not None  # kind still counts


def _images(folder: Path, n: int, captioned: int) -> Path:
    """`n` small images, the first `captioned` of them (by name) with a caption beside them."""
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (36, 36), (i * 5 % 256, 40, 200 - i)).save(folder / f"{i:03d}.png")
        if i < captioned:
            (folder / f"{i:03d}.txt").write_text(f"picture {i}")
    return folder


def test_images_whose_later_rows_lack_captions_are_refused_with_counts_at_submit(store, tmp_path: Path) -> None:
    """500 images with a caption on the first only were offered for diffusion-lora: the facts were the
    first row's. Now the counts of every row say so, and submit refuses in the setup form's words."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.errors import BadInput, ConfigError
    from spark_trainer.jobs.submit import check_trainable
    from spark_trainer.recipes.diffusion_data import read_pairs

    projects.create(store, "p")
    bare = ingest_paths(store, [_images(tmp_path / "bare", 60, 1)], project="p").dataset
    why = get_recipe("diffusion-lora").data_problem(dataset_facts(store, bare))
    assert why is not None and why.startswith(  # the first images without one are named, so they can be fixed
        "only 1 of 60 images has a caption (missing on bare/001.png, bare/002.png, bare/003.png, bare/004.png, "
        "bare/005.png and 54 more); diffusion-lora needs a caption for every image"), why
    cfg = ExperimentConfig.model_validate({"name": "t", "recipe": "diffusion-lora", "base_model": str(tmp_path),
                                           "dataset": "bare", "gpus": "cpu"})
    with pytest.raises(ConfigError) as refused:
        check_trainable(store, cfg, bare, str(tmp_path))
    assert str(refused.value) == f"dataset: recipe diffusion-lora cannot train on dataset 'bare': {why}"
    with pytest.raises(BadInput, match="59 of 60 images have no caption"):  # the full check agrees
        read_pairs(Path(bare.path), "error")


def _forget_counts(store, dataset_id: int) -> None:
    """The dataset's row as a home from before the counts were stored has it."""
    from spark_trainer.store.models import DatasetRow

    with store.write() as session:
        row = session.get(DatasetRow, dataset_id)
        row.meta = {k: v for k, v in row.meta.items() if k != "fields"}


def _counting(monkeypatch) -> list[Path]:
    """The manifests `dataset_facts` counts, in order."""
    from spark_trainer.store import dataset_counts

    counted: list[Path] = []
    real = dataset_counts.count_manifest
    monkeypatch.setattr(dataset_counts, "count_manifest", lambda manifest: counted.append(manifest) or real(manifest))
    return counted


def test_an_old_dataset_is_counted_once_and_its_counts_stored_with_it(store, tmp_path, monkeypatch) -> None:
    """A dataset ingested before the counts were stored was scanned (1 MiB of its manifest) at every
    look, on the GUI thread too, and nothing kept the result. Now its manifest is counted once, the
    counts stored in its row as ingestion stores them, and later looks read only the row."""
    projects.create(store, "p")
    full = ingest_paths(store, [_images(tmp_path / "full", 12, 11)], project="p").dataset
    _forget_counts(store, full.id)
    old = datasets.get(store, full.id)
    assert "fields" not in old.meta
    counted = _counting(monkeypatch)
    facts = dataset_facts(store, old)
    assert facts == dataset_facts(store, full) and facts.rows == 12 and facts.count("caption") == 11
    assert datasets.get(store, full.id).meta["fields"] == full.meta["fields"]  # as ingestion stored them
    assert dataset_facts(store, old) == facts  # the entity read before they were stored: the row has them
    assert dataset_facts(store, datasets.get(store, full.id)) == facts
    assert counted == [Path(full.path) / "manifest.jsonl"]  # counted once
    assert get_recipe("diffusion-lora").data_problem(facts).startswith("only 11 of 12 images have a caption")

    manifest = Path(full.path) / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[0]["caption"] = None  # edited after ingestion: the stored counts no longer describe it
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 10
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 10
    assert len(counted) == 2  # counted again once, and stored again
    assert datasets.get(store, full.id).meta["fields"]["manifest_bytes"] == manifest.stat().st_size


def test_counts_stored_before_images_sides_were_counted_are_counted_again_once(store, tmp_path, monkeypatch) -> None:
    """diffusion-lora's resolution warning reads the images' shorter sides from the stored facts; a
    dataset whose counts were stored before the sides were counted gets them at its next look, once."""
    from spark_trainer.store.models import DatasetRow

    projects.create(store, "p")
    full = ingest_paths(store, [_images(tmp_path / "full", 6, 6)], project="p").dataset
    with store.write() as session:
        row = session.get(DatasetRow, full.id)
        row.meta = {**row.meta, "fields": {k: v for k, v in row.meta["fields"].items() if k != "sides"}}
    counted = _counting(monkeypatch)
    facts = dataset_facts(store, datasets.get(store, full.id))
    assert facts.sides == ((32, 6),) and facts.typical_side() == 32 and facts.count("caption") == 6  # 36 px, to 8
    assert dataset_facts(store, datasets.get(store, full.id)) == facts
    assert len(counted) == 1 and "sides" in datasets.get(store, full.id).meta["fields"]


def test_counts_that_cannot_be_stored_still_answer_the_check(store, tmp_path, monkeypatch) -> None:
    """Storing the counts is a by-product of a read: a full disk or a read-only database failed the
    check (the form's facts task lost every answer) with "database write failed"."""
    from spark_trainer.errors import StoreDiskFull

    projects.create(store, "p")
    full = ingest_paths(store, [_images(tmp_path / "full", 6, 5)], project="p").dataset
    _forget_counts(store, full.id)

    def full_disk(*_args, **_kwargs):
        raise StoreDiskFull("disk full at the home: 0 B free; the database could not be written")

    monkeypatch.setattr(dataset_counts, "store_count", full_disk)
    facts = dataset_facts(store, datasets.get(store, full.id))
    assert facts.rows == 6 and facts.count("caption") == 5
    assert "fields" not in datasets.get(store, full.id).meta  # not stored: counted again next time


def test_a_big_old_dataset_is_counted_to_its_last_row(store, tmp_path, monkeypatch) -> None:
    """The bounded scan of an old dataset read its first 1,000 rows and offered a table whose later
    labels were missing; its counts now cover every row, as ingestion's do."""
    projects.create(store, "p")
    n = 2500
    table = tmp_path / "tickets.csv"
    table.write_text("text,label\n" + "".join(f"ticket {i},{'' if i == n - 1 else i % 3}\n" for i in range(n)))
    tickets = ingest_paths(store, [table], project="p").dataset
    facts = dataset_facts(store, tickets)  # the stored counts: every row, the last one's empty label included
    assert (facts.rows, facts.count("label")) == (n, n - 1)
    why = (f"only {n - 1:,} of {n:,} records have a 'label' value (missing on tickets.csv:{n + 1}); "
           "text-classification needs a label on every row (recipe_config.label_column)")
    assert get_recipe("text-classification").data_problem(facts).startswith(why)
    _forget_counts(store, tickets.id)
    counted = _counting(monkeypatch)
    old = dataset_facts(store, datasets.get(store, tickets.id))
    assert old == facts and len(counted) == 1
    assert get_recipe("text-classification").data_problem(old).startswith(why)


def test_a_manifest_with_a_row_that_is_not_an_object_is_read_once(store, tmp_path, monkeypatch) -> None:
    """A manifest row that is not a JSON object gives no counts, and nothing was stored: every look,
    check and submit of the setup form read the whole manifest again. A marker (with the manifest's
    size) is stored instead, so it is read once, and again only after the manifest is edited."""
    projects.create(store, "p")
    full = ingest_paths(store, [_images(tmp_path / "full", 6, 6)], project="p").dataset
    manifest = Path(full.path) / "manifest.jsonl"
    good = manifest.read_text()
    manifest.write_text(good + "[1, 2]\n")
    counted = _counting(monkeypatch)
    for _ in range(3):
        facts = dataset_facts(store, datasets.get(store, full.id))
        assert facts == DataFacts("image") and not facts.read  # the full data check names the row
    assert counted == [manifest]  # read once
    assert datasets.get(store, full.id).meta["fields"]["manifest_bytes"] == manifest.stat().st_size

    manifest.write_text(good)  # mended: the marker no longer describes it
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 6
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 6
    assert counted == [manifest, manifest]


def test_a_hand_edit_that_keeps_the_manifests_size_is_counted_again(store, tmp_path, monkeypatch) -> None:
    """The stored counts were matched to the manifest by its size alone: blanking a caption with as
    many spaces left the counts saying every image had one, and diffusion-lora was offered the data."""
    projects.create(store, "p")
    full = ingest_paths(store, [_images(tmp_path / "full", 4, 4)], project="p").dataset
    assert dataset_facts(store, full).count("caption") == 4
    manifest = Path(full.path) / "manifest.jsonl"
    before = manifest.stat()
    text = manifest.read_text()
    edited = text.replace('"caption": "picture 0"', '"caption": "         "', 1)
    assert edited != text and len(edited) == len(text)
    time.sleep(0.05)  # past the file system clock's tick (a few ms), as any hand edit is
    manifest.write_text(edited)
    assert manifest.stat().st_size == before.st_size
    counted = _counting(monkeypatch)
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 3
    assert dataset_facts(store, datasets.get(store, full.id)).count("caption") == 3
    assert counted == [manifest]  # counted again once, and stored again
