"""An export's model card and loss curve, made from the store (run, metrics, evaluations, dataset name);
written with the export, and written again when a reused export's card no longer says what the store
does (an evaluation added, the dataset renamed, the run finished): the weights are not rewritten.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.export import card, integrity
from spark_trainer.export.registry import ExportInfo
from spark_trainer.store import datasets, experiments, exports, metrics
from spark_trainer.store.exports import Export
from spark_trainer.store.store import Store

CARD_NAME = integrity.CARD_NAME
# What a card is made of besides the store: the exporter's description of the folder (not its files).
INFO_KEY = "card_info"


@dataclass(frozen=True)
class Card:
    text: str
    curves: dict[str, list[tuple[int, float]]]
    title: str


def write(store: Store, run: Any, config: Any, step: int, info: ExportInfo, folder: Path) -> None:
    """Write the card and its loss curve into a new export's (staging) folder."""
    from spark_trainer.export.plot import draw_curves

    made = compose(store, run, config, step, info)
    draw_curves(made.curves, folder / card.LOSS_CURVE, title=made.title)
    (folder / CARD_NAME).write_text(made.text, encoding="utf-8", newline="\n")  # as compared by refresh


def recorded_info(info: ExportInfo) -> dict[str, Any]:
    """The exporter's description, kept in the export's record so its card can be made again."""
    return {k: v for k, v in dataclasses.asdict(info).items() if k != "files"}


def refresh(store: Store, run: Any, export: Export) -> tuple[Export, str | None]:
    """Bring a reused export's card up to date: written again (with its loss curve) when the store now
    makes another card than the one written; a license the user chose in it is kept. A card the user
    edited beyond its license is kept as it is (it was replaced, and the edits lost, unsaid), with a line
    saying so. An export recorded before its description was kept is left as it is."""
    from spark_trainer.export.plot import draw_curves
    from spark_trainer.jobs.submit import frozen_config

    kept = export.options.get(INFO_KEY)
    written = (export.options.get("manifest") or {}).get(CARD_NAME)
    if not isinstance(kept, dict) or not written:
        return export, None
    folder = Path(export.path)
    made = compose(store, run, frozen_config(Path(run.run_dir)), export.step, ExportInfo(**kept, files=[]))
    if integrity.fingerprint_of(made.text.encode("utf-8")) == list(written):
        return export, None  # what it says is still so (a card the user edited, its license, is kept)
    current = (folder / CARD_NAME).read_text(encoding="utf-8", errors="replace")
    if integrity.fingerprint_of(_unlicensed(current).encode("utf-8")) != list(written):
        return export, (f"its model card {folder / CARD_NAME} was edited, so it is kept as it is and does not "
                        "say what changed since (an evaluation, a dataset's name); move it aside and export "
                        "again to have it written anew")
    text = _with_license(made.text, current)
    tag = uuid.uuid4().hex[:8]
    curve, card_file = folder / f".{tag}-{card.LOSS_CURVE}", folder / f".{tag}-{CARD_NAME}"
    try:
        draw_curves(made.curves, curve, title=made.title)
        card_file.write_text(text, encoding="utf-8", newline="\n")
        os.replace(curve, folder / card.LOSS_CURVE)
        os.replace(card_file, folder / CARD_NAME)
    except OSError as exc:
        raise BadInput(f"export {export.id} at {folder}: cannot bring its model card up to date "
                       f"({exc.strerror or exc})") from None
    finally:
        for left in (curve, card_file):
            left.unlink(missing_ok=True)
    manifest = {**export.options["manifest"], CARD_NAME: integrity.fingerprint_of(made.text.encode("utf-8")),
                card.LOSS_CURVE: integrity.fingerprint(folder / card.LOSS_CURVE)}
    return exports.set_options(store, export.id, {**export.options, "manifest": manifest}), None


def _unlicensed(text: str) -> str:
    """`text` (a card in an export folder) with its `license:` line as the card was written: what it says
    beyond a license the user chose (`_with_license`)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("---") and i:
            break  # the front matter's end: the license is in it
        if line.startswith("license: "):
            lines[i] = card.LICENSE_LINE
            break
    return "\n".join(lines)


def _with_license(text: str, current: str) -> str:
    """`text` with the `license:` line of the card in the folder, when the user chose one there."""
    ours = next((line for line in text.splitlines() if line.startswith("license: ")), None)
    theirs = next((line for line in current.split("\n---", 1)[0].splitlines() if line.startswith("license: ")), None)
    if ours is None or theirs is None or theirs.split("#")[0].strip() == "license: unknown":
        return text
    return text.replace(ours + "\n", theirs.rstrip("\r") + "\n", 1)


def compose(store: Store, run: Any, config: Any, step: int, info: ExportInfo) -> Card:
    """The card of `run`'s checkpoint at `step` as the store has it now."""
    from spark_trainer.export.plot import downsample
    from spark_trainer.store import evaluations

    experiment = experiments.get(store, run.experiment_id)
    dataset_name, summary, deleted = _dataset_card(store, config)
    # The card describes the exported checkpoint: every series up to its step, values as of that step.
    wanted = [k for k in metrics.keys(store, run.id) if k.startswith(card.CARD_METRIC_PREFIXES)
              and not k.startswith("evals/")]
    series: dict[str, list[tuple[int, float]]] = {}
    for point in metrics.read(store, run.id, keys=wanted) if wanted else []:
        if point.step <= step:
            series.setdefault(point.key, []).append((point.step, point.value))
    curves = {k: downsample(series[k]) for k in ("loss", "eval_loss") if k in series}
    last = {k: max(series[k]) for k in sorted(series)}  # (step, value): a run stopped between evaluations
    final = {k: value for k, (_, value) in last.items()}  # has its last one at an earlier step
    # Only evaluations of exactly these weights: another checkpoint's results are not this export's.
    done = [e for e in evaluations.list_for(store, run.id)
            if e.status == "completed" and not e.base and e.step == step]
    data_names = evaluations.data_names(store, done, dataset_word="")
    evals = [card.EvalResult(task=e.task, dataset=data_names[e.data_path],
                             metrics={k: float(v) for k, v in (e.result or {}).get("metrics", {}).items()})
             for e in done]
    rc = config.recipe_config
    method = rc.get("method")
    hyper = {f"train.{k}": v for k, v in config.train.model_dump(mode="json").items() if v is not None}
    hyper.update({f"recipe_config.{k}": v for k, v in rc.items() if v is not None})
    from spark_trainer.export.common import base_is_local, base_reference

    data = card.CardData(
        model_name=experiment.name, run_id=run.id, recipe=config.recipe, base_model=base_reference(config),
        base_is_local=base_is_local(config),
        step=step, info=info, dataset_name=dataset_name, dataset_summary=summary, dataset_deleted=deleted,
        hyperparameters=hyper,
        final_metrics=final, evaluations=[e for e in evals if e.metrics], stopped=_stopped(run, config),
        metric_steps={k: at for k, (at, _) in last.items() if at != step},
        tags=list(dict.fromkeys(t for t in ("spark-trainer", config.recipe, method, "lora" if method in
                                            ("lora", "qlora", "dora") else None, info.kind) if t)))
    return Card(card.render(data), curves, f"{experiment.name}: loss by step")


def _stopped(run: Any, config: Any) -> str:
    """A sentence when the run did not reach its max steps: a cancelled, failed, interrupted or
    still-training run's checkpoint is not the model its config asked for."""
    from spark_trainer.store.entities import RunStatus

    total = run.total_steps or config.train.max_steps
    if run.status == RunStatus.COMPLETED or not total:
        return ""
    how = {RunStatus.CANCELLED: "was cancelled", RunStatus.FAILED: "failed",
           RunStatus.INTERRUPTED: "was interrupted", RunStatus.PAUSED: "was paused"}.get(run.status, "was still training")
    return f"The run {how} at step {run.step} of its {total} max steps."


def _dataset_card(store: Store, config: Any) -> tuple[str | None, str, bool]:
    """(name, summary, deleted) of the run's dataset for the model card. A deleted dataset whose files
    were kept is named by its card (the frozen config holds only its id, which means nothing to a
    reader); one deleted with its files has no name left (None)."""
    try:
        dataset = datasets.get(store, config.dataset)
        name, folder, deleted = dataset.name, Path(dataset.path), False
    except BadInput:
        dataset_id = str(config.dataset)
        name, deleted = None, True
        folder = store.home.dataset_dir(int(dataset_id)) if dataset_id.isdigit() else None
    card_path = folder / "README.md" if folder is not None else None
    if card_path is None or not card_path.is_file():
        return name, "", deleted
    text = card_path.read_text(encoding="utf-8", errors="replace")
    return name or card.dataset_card_name(text), card.dataset_summary(text), deleted


