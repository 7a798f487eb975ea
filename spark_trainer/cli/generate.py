"""`generate RUN --prompt TEXT`: try a run's model from the command line (and the hidden
`playground-serve` role, the GUI's model-serving worker)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from spark_trainer.cli.context import Context, Result, write_stdout
from spark_trainer.cli.format import cells_wide, pad
from spark_trainer.errors import BadInput


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    gen = sub.add_parser("generate", help="try a run's model: text for a prompt (causal-lm), the labels of a text "
                         "or image (classification), an image (diffusion-lora)",
                         parents=[common])
    gen.add_argument("run", help="run id")
    gen.add_argument("--prompt", help="the prompt (with --chat: the user's message), or the text to classify")
    gen.add_argument("--image", metavar="FILE", help="image classification runs: the image to classify")
    gen.add_argument("--checkpoint", metavar="last|final|best|STEP",
                     help="which weights: last (final model, else newest checkpoint), final, best, or a step")
    gen.add_argument("--base", action="store_true", help="answer with the base model instead (for comparison)")
    gen.add_argument("--compare", action="store_true", help="answer with the run's model, then the base model with "
                     "the same settings and seed (the Playground's 'Compare with the base model')")
    # Each kind's options default to None (their values are in DEFAULTS): given to another kind of run they
    # are refused, not ignored.
    gen.add_argument("--max-new-tokens", type=int, metavar="N", help="causal-lm runs: the answer's length (default 64; capped, with a note, to what "
                     "the model's context leaves after the prompt)")
    gen.add_argument("--temperature", type=float, metavar="T", help="0 = greedy (default 0.7)")
    gen.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling (default 0.95)")
    gen.add_argument("--top-k", type=int, metavar="K", help="0 = off (default 50)")
    gen.add_argument("--repetition-penalty", type=float, metavar="R", help="default 1.0: none")
    gen.add_argument("--stop", action="append", default=[], metavar="TEXT", help="stop at this text (repeatable)")
    gen.add_argument("--chat", action="store_true", help="wrap the prompt in the tokenizer's chat template")
    gen.add_argument("--no-template", action="store_true", help="runs trained on instruction rows (Alpaca...): "
                     "give the prompt as it is, not as the instruction in the run's prompt template")
    gen.add_argument("--seed", type=int, metavar="S", help="sampling seed (same seed, same text)")
    gen.add_argument("--out", metavar="FILE.png", help="diffusion runs: a new file to write the image to "
                     "(default: the data home's playground/images/)")
    gen.add_argument("--steps", type=int, metavar="N", help="diffusion runs: denoising steps (default 20)")
    gen.add_argument("--guidance", type=float, metavar="G", help="diffusion runs: guidance scale (default 7.5)")
    gen.add_argument("--negative", default="", metavar="TEXT", help="diffusion runs: what the image should not show "
                     "(the Playground's negative prompt)")
    gen.add_argument("--device", default="auto", metavar="auto|cpu|GPU",
                     help="auto (GPU 0 when there is one), cpu, or a GPU id")
    gen.add_argument("--save", action="store_true", help="save the prompt and answer to the run as a sample")
    gen.set_defaults(handler=cmd_generate)

    serve = sub.add_parser("playground-serve", help=argparse.SUPPRESS, parents=[common])
    serve.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    serve.add_argument("--idle-timeout", type=float, default=600.0, metavar="S")
    serve.set_defaults(handler=cmd_serve)


def resolve_device(text: str) -> str:
    """auto | cpu | a GPU id, as a torch device string. Raises BadInput for a GPU that is not there."""
    raw = text.strip().lower()
    if raw == "cpu":
        return "cpu"
    import torch

    if raw == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if raw.isdigit():
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(raw) >= count:
            raise BadInput(f"--device {text}: this machine has {count} usable GPU{'s' if count != 1 else ''}")
        return f"cuda:{int(raw)}"
    raise BadInput(f"--device {text!r} is not valid; use auto, cpu or a GPU id")


def cmd_generate(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.playground.generators import generator_spec

    if args.base and args.checkpoint is not None:
        raise BadInput("--checkpoint names the run's weights to try; --base answers with the base model instead: "
                       "give one of them")
    source = _source(ctx.store, args)
    spec = generator_spec(source.recipe)
    check_options(spec.kind, source.recipe, args)
    if spec.kind == "classification":
        return _classify(ctx, args, source, spec)
    if not (args.prompt or "").strip():
        raise BadInput("--prompt is required and must not be empty")
    if args.compare and args.base:
        raise BadInput("--compare answers with the base model too; leave out --base")
    settings = _settings(spec.kind, args)
    if settings.get("out"):
        _check_new_files(Path(settings["out"]), args.compare)
    device = resolve_device(args.device)
    generator = spec.create()
    facts = generator.load(source, device) or {}
    streaming = spec.kind == "text-generation" and not ctx.json and sys.stdout.isatty() and not args.compare

    def emit(text: str) -> None:
        if streaming:
            write_stdout(text)

    output = _answer(ctx, source, generator, {"prompt": args.prompt}, settings, base=args.base, emit=emit)
    base_output = None
    if args.compare:  # the same settings and the seed the first answer used, as the Playground compares
        again = {**settings, "seed": output["settings"]["seed"]}
        if settings.get("out"):
            again["out"] = str(_base_image(Path(settings["out"])))
        base_output = _answer(ctx, source, generator, {"prompt": args.prompt}, again, base=True,
                              emit=lambda _t: None)
    generator.close()
    if streaming:
        write_stdout("\n")
    variant = "base" if args.base else "tuned"
    data: dict[str, Any] = {"run": source.run_id, "source": source.to_dict(), "variant": variant,
                            "device": device, "prompt": args.prompt, **output}
    if "format" in facts:  # causal-LM: the rows' format it trained on (an instruction format wraps the prompt)
        data["format"] = facts["format"]
    if base_output is not None:
        data["base"] = base_output
    if args.save:
        data["saved"] = _save(ctx, source, args, variant, output, base_output)
    who = "base model" if args.base else source.label
    seed = output["settings"]["seed"]
    if spec.kind == "image-generation":
        note = f"({output['seconds']:.2f} s, {who}, seed {seed})"
        shown = output.get("image", "")
        if base_output is not None:
            shown += f"\n{base_output.get('image', '')}  (base model)"
    else:
        note = (f"({output['tokens']} tokens in {output['seconds']:.2f} s, {who}, seed {seed}, "
                f"ended by {output['finish_reason']})")
        shown = "" if streaming else output["text"]
        if base_output is not None:
            shown += f"\n\n--- base model ---\n{base_output['text']}"

    def text() -> str:
        for said in (output, base_output or {}):
            if said.get("note"):  # the answer capped to fit the model's context, say
                ctx.info(f"note: {said['note']}")
        ctx.info(note)
        if args.save:
            ctx.info(f"saved to run {source.run_id}'s samples: {data['saved']}")
        return shown

    return Result(data, text)


def _answer(ctx: Context, source: Any, generator: Any, inputs: dict[str, Any], settings: dict[str, Any], *,
            base: bool, emit: Any) -> dict[str, Any]:
    """generator.generate, with a failure inside the model (an error of torch or transformers) said in one
    line naming the run, as the Playground's banner says it; --debug keeps the traceback."""
    from spark_trainer.errors import OperationFailed, SparkError, describe

    try:
        return generator.generate(inputs, settings, base=base, emit=emit, should_stop=lambda: False)
    except (SparkError, KeyboardInterrupt, OSError):
        raise
    except Exception as exc:
        if ctx.debug:
            raise
        who = f"run {source.run_id}'s base model" if base else f"run {source.run_id}'s model"
        raise OperationFailed(f"{who} failed while generating: {describe(exc)} (--debug shows where)") from exc


def _source(store: Any, args: argparse.Namespace) -> Any:
    """The weights to load. `--base` on a run with none of its own (failed or cancelled before its first
    checkpoint) loads the base model alone, as `eval --base` does: the base model needs nothing of the run's."""
    from spark_trainer.playground.source import RunGone, base_source, resolve_source

    try:
        return resolve_source(store, args.run, args.checkpoint or "last")
    except RunGone:
        raise
    except BadInput:
        if not args.base:
            raise
        return base_source(store, args.run)


def _classify(ctx: Context, args: argparse.Namespace, source: Any, spec: Any) -> Result:
    """Labels with probabilities for `--prompt TEXT` (text runs) or `--image FILE` (image runs)."""
    from spark_trainer.playground.classification import check_image_file
    from spark_trainer.playground.samples import save_sample

    image_run = source.recipe == "image-classification"
    if image_run and not args.image:
        raise BadInput(f"run {source.run_id} classifies images: give --image FILE")
    if not image_run and not (args.prompt or "").strip():
        raise BadInput(f"run {source.run_id} classifies text: give --prompt TEXT")
    if args.base or args.compare:
        flag = "--base" if args.base else "--compare"
        raise BadInput(f"{flag}: a classification run's base model has no head for its labels; nothing to compare")
    inputs = {"image": str(Path(args.image).expanduser())} if image_run else {"text": args.prompt}
    if image_run:
        check_image_file(inputs["image"])  # before the model loads
    generator = spec.create()
    generator.load(source, resolve_device(args.device))
    output = generator.generate(inputs, {}, base=False, emit=lambda _t: None, should_stop=lambda: False)
    generator.close()
    data: dict[str, Any] = {"run": source.run_id, "source": source.to_dict(), **inputs, **output}
    if args.save:
        shown = ", ".join(f"{item['label']} {item['probability']:.2f}" for item in output["labels"][:5])
        data["saved"] = save_sample(ctx.store, source.run_id, {"prompt": inputs.get("text", inputs.get("image")),
                                                               "output": shown, "labels": output["labels"]},
                                    step=source.step, checkpoint=args.checkpoint or "last").path
    width = max(cells_wide(item["label"]) for item in output["labels"])
    lines = [f"{pad(item['label'], width)}  {item['probability']:.4f}" for item in output["labels"]]

    def text() -> str:
        if args.save:
            ctx.info(f"saved to run {source.run_id}'s samples: {data['saved']}")
        return "\n".join(lines)

    return Result(data, text)


def _settings(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The kind's settings from the options, validated (BadInput names the option)."""
    from spark_trainer.playground.settings import SettingError

    try:
        return _checked_settings(kind, args)
    except SettingError as exc:  # "--temperature must be ...": the option the user typed, not the field
        raise BadInput(f"--{exc.field.replace('_', '-')} {exc.rule}") from None


def _checked_settings(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    if kind == "image-generation":
        from spark_trainer.playground.diffusion import ImageSettings

        return {k: v for k, v in ImageSettings.from_dict({
            "seed": args.seed, "steps": _given(args, "steps"), "guidance": _given(args, "guidance"),
            "negative_prompt": args.negative, "out": args.out}).__dict__.items()}
    from spark_trainer.playground.settings import GenerationSettings

    return GenerationSettings.from_dict({
        "max_new_tokens": _given(args, "max_new_tokens"), "temperature": _given(args, "temperature"),
        "top_p": _given(args, "top_p"), "top_k": _given(args, "top_k"),
        "repetition_penalty": _given(args, "repetition_penalty"), "stop": args.stop,
        "chat_template": args.chat, "prompt_template": not args.no_template, "seed": args.seed}).to_dict()


DEFAULTS = {"max_new_tokens": 64, "temperature": 0.7, "top_p": 0.95, "top_k": 50, "repetition_penalty": 1.0,
            "steps": 20, "guidance": 7.5}

# Options that only one kind of run reads: (that kind, the recipes it is, {option: what it is}).
_ONLY_FOR = (
    ("text-generation", "causal-lm", {"max_new_tokens": "the answer's length", "temperature": "sampling",
                                      "top_p": "sampling", "top_k": "sampling", "repetition_penalty": "sampling",
                                      "stop": "where the answer stops", "chat": "the chat template",
                                      "no_template": "the run's prompt template"}),
    ("image-generation", "diffusion", {"steps": "denoising steps", "guidance": "the guidance scale",
                                       "negative": "a negative prompt for the image", "out": "it names the image file"}),
)


def check_options(kind: str, recipe: str, args: argparse.Namespace) -> None:
    """Refuse (BadInput) an option this kind of run would not read, naming what it is for."""
    for for_kind, runs_of, options in _ONLY_FOR:
        given = [name for name in options if getattr(args, name) not in (None, False, [], "")]
        if for_kind != kind and given:
            raise BadInput(f"--{given[0].replace('_', '-')} is for {runs_of} runs ({options[given[0]]}); run "
                           f"{args.run} is a {recipe} run")
    if args.image and recipe != "image-classification":
        raise BadInput(f"--image is for image-classification runs (the image to classify); run {args.run} is a "
                       f"{recipe} run: give --prompt TEXT")


def _base_image(out: Path) -> Path:
    """Where --compare writes the base model's image beside --out's."""
    return out.with_name(out.stem + "-base.png")


def _check_new_files(out: Path, compare: bool) -> None:
    """Refuse (BadInput) an --out that would write over a file, or whose folder cannot be written, before
    the model loads: a read-only folder was found only after the image had been generated."""
    for target in (out, _base_image(out)) if compare else (out,):
        if target.exists():
            raise BadInput(f"--out {out}: {target} already exists; choose a new file (an image is never "
                           "written over)")
    if out.parent.exists() and not out.parent.is_dir():
        raise BadInput(f"--out {out}: {out.parent} is a file, not a folder; choose another file")
    try:  # as the image is written: its folder made if missing, then a file of its own there
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / f".write-check-{os.getpid()}"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"--out {out}: its folder {out.parent} cannot be written to ({exc.strerror or exc}); "
                       "choose another file") from exc


def _given(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name)
    return DEFAULTS[name] if value is None else value


def _save(ctx: Context, source: Any, args: argparse.Namespace, variant: str, output: dict[str, Any],
          base_output: dict[str, Any] | None = None) -> str:
    from spark_trainer.playground.samples import save_sample

    item = {"prompt": args.prompt, "variant": variant, "settings": output["settings"]}
    if "image" in output:
        item.update(output=output["image"], image=output["image"])
        if base_output is not None:  # as the Playground saves a comparison
            item["base_image"] = base_output["image"]
    else:
        item["completion"] = output["text"]
        if base_output is not None:
            item["base_completion"] = base_output["text"]
    return save_sample(ctx.store, source.run_id, item, step=source.step, checkpoint=args.checkpoint or "last").path


def cmd_serve(ctx: Context, args: argparse.Namespace) -> NoReturn:
    from spark_trainer.playground.server import main as serve_main

    serve_main(Path(ctx.home.root), args.device, args.idle_timeout)  # exits the process when done
