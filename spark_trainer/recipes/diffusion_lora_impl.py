"""The diffusion-LoRA recipe's implementation (imports torch and diffusers; loaded only to train).

Items are captioned images. With `cache_latents` (the default) every image is encoded by the VAE
once in `build_model` and a training item is then only a lookup (in process); otherwise images are
decoded and cropped in DataLoader worker processes. One loss unit is one image.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.recipes import diffusion_data as data
from spark_trainer.recipes import lora_targets
from spark_trainer.recipes.base import EvalResult, Sample
from spark_trainer.recipes.diffusion_lora import PIPELINE_MULTIPLE, DiffusionLoRAConfig, pixel_multiple
from spark_trainer.recipes.diffusion_model import (
    TEXT_ENCODER_TARGETS,
    Parts,
    add_lora,
    check_pipeline_folder,
    encode_prompts,
    generate_images,
    latent_params,
    load_parts,
    make_train_module,
    save_lora,
    tokenize,
    torch_dtype,
)
from spark_trainer.training.data import evaluated_rows
from spark_trainer.training.reporting import start_up_progress

MAX_LISTED = 20  # skipped images named in the log (all of them go into the evaluation report)


def _stable_seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


class DiffusionLoRARecipe:
    """LoRA on a Stable-Diffusion-style UNet (and optionally its text encoder), noise-prediction loss."""

    unit = "images"

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.rc = DiffusionLoRAConfig.model_validate(config.recipe_config)
        self.model_dir: Path | None = None
        self.train_data: list[data.CaptionedImage] = []
        self.val_data: list[data.CaptionedImage] = []
        self.skipped: list[dict[str, str]] = []
        self.data_notes: list[str] = []  # lines for the run's log from preparing the data
        self.unconditioned = 0  # images trained with an empty caption (missing_captions: empty)
        self.parts: Parts | None = None
        self.vae_scale = 8
        self.train_timesteps = 1000
        self.tokenizer: Any = None
        self.latents: dict[tuple[str, bool], Any] = {}  # (path, flipped) -> VAE posterior parameters
        self.embeds: dict[str, Any] = {}  # caption -> text encoder hidden states
        self.cache_text = self.rc.cache_text_embeddings and not self.rc.train_text_encoder
        self.loader_workers = 0 if self.rc.cache_latents else min(4, max(1, (os.cpu_count() or 2) - 1))

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers started with "spawn" pickle the recipe: they need the data settings
        # and the tokenizer, never the models or the caches.
        state = dict(self.__dict__)
        state.update(parts=None, latents={}, embeds={})
        return state

    # ---- data ---------------------------------------------------------------------------------
    def check_data(self, data_path: Path) -> None:
        """Submit's check, before any image is decoded: image rows with captions (as
        `missing_captions` asks), then a Stable-Diffusion-style pipeline folder."""
        from spark_trainer.models.loading import resolve_for_run

        self._read_pairs(data_path)
        self._check_model(resolve_for_run(self.config.base_model), at_submit=True)

    def prepare(self, data_path: Path) -> None:
        from transformers import AutoTokenizer

        from spark_trainer.models.loading import resolve_for_run

        self.model_dir = resolve_for_run(self.config.base_model)
        multiple = self._check_model(self.model_dir)
        self.vae_scale = self._vae_scale()
        scheduler_file = self.model_dir / "scheduler" / "scheduler_config.json"
        if not scheduler_file.is_file():
            raise BadInput(f"base model {self.model_dir} has no scheduler/scheduler_config.json")
        self.train_timesteps = int(json.loads(scheduler_file.read_text()).get("num_train_timesteps", 1000))
        check = data.check_decodes(self._read_pairs(data_path))
        self.skipped = check.skipped
        if not check.items:
            first = check.skipped[0] if check.skipped else {"source": "-", "reason": "-"}
            raise BadInput(f"dataset {data_path}: no image left to train on ({len(check.skipped)} skipped; first: "
                           f"{first['source']}: {first['reason']})")
        self.unconditioned = sum(1 for i in check.items if not i.caption)
        items = data.assign_buckets(check.items, self.rc.resolution, multiple, self.rc.crop)
        self.train_data = [i for i in items if i.split == "train"]
        picked, note = evaluated_rows([i for i in items if i.split == "val"], self.rc.eval_max_rows)
        self.val_data, self.data_notes = list(picked), [note] if note else []
        if not self.train_data:
            raise BadInput(f"dataset {data_path}: no training images (all {len(items)} are validation)")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir / "tokenizer", local_files_only=True)

    def _read_pairs(self, data_path: Path) -> data.DataCheck:
        return data.read_pairs(data_path, self.rc.missing_captions, image_column=self.rc.image_column,
                               caption_column=self.rc.caption_column, val_fraction=self.config.eval.val_fraction)

    def _check_model(self, model_dir: Path, *, at_submit: bool = False) -> int:
        """The pipeline folder, the LoRA targets and the resolution for it (at submit and in the
        worker); returns what image sides must be a multiple of. At submit, a pipeline whose VAE
        and UNet configs cannot be read is left to the worker, whose loading names what is wrong."""
        check_pipeline_folder(model_dir)
        self.targets()  # refuses all-linear
        try:
            multiple = pixel_multiple(model_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if at_submit:
                return PIPELINE_MULTIPLE
            raise BadInput(f"base model {model_dir}: its vae/config.json and unet/config.json must be a diffusers "
                           f"VAE's and UNet's (with block_out_channels): {exc}") from None
        if self.rc.resolution % multiple:
            raise ConfigError(f"recipe_config.resolution {self.rc.resolution} must be a multiple of {multiple} for "
                              f"this model (its VAE and UNet downsampling, and 8 for its pipeline); try "
                              f"{self.rc.resolution // multiple * multiple or multiple}")
        return multiple

    def targets(self) -> list[str]:
        targets = lora_targets.parse(self.rc.target_modules)
        if targets == lora_targets.ALL_LINEAR:  # peft takes it for transformers models only, not a UNet
            raise ConfigError(f"{lora_targets.FIELD}: all-linear is for language and classification models; "
                              "name the UNet modules to adapt (e.g. to_q,to_k,to_v,to_out.0)")
        return list(targets)

    def log_notes(self) -> list[str]:
        notes = list(self.data_notes)
        if self.skipped:
            listed = "; ".join(f"{s['source']} ({s['reason']})" for s in self.skipped[:MAX_LISTED])
            more = f" and {len(self.skipped) - MAX_LISTED} more" if len(self.skipped) > MAX_LISTED else ""
            notes.append(f"{len(self.skipped)} images skipped (listed in every evaluation report): {listed}{more}")
        small = data.upscaled(self.train_data + self.val_data)
        if small:
            first = small[0]
            notes.append(f"{len(small)} images are at most half the training size and are enlarged to it, which "
                         f"blurs them (first: {first.source}, {first.size[0]}x{first.size[1]} trained at "
                         f"{first.bucket[0]}x{first.bucket[1]}); lower recipe_config.resolution or use larger images")
        if self.unconditioned:
            notes.append(f"{self.unconditioned} images have no caption and train unconditioned "
                         "(recipe_config.missing_captions: empty)")
        if self.rc.cache_latents:
            both = " (and mirrored, for random_flip)" if self.rc.random_flip else ""
            notes.append(f"VAE latents of {len(self.train_data) + len(self.val_data)} images{both} cached before training")
        return notes

    def load(self, item: data.CaptionedImage, seed: int | None) -> dict[str, Any]:
        """One image's training inputs; `seed` decides the flip and caption dropout (None: evaluation,
        which also fixes the noise and timestep per image so the validation loss is comparable)."""
        rng = random.Random(seed) if seed is not None else None
        flip = bool(rng and self.rc.random_flip and rng.random() < 0.5)
        caption = item.caption
        if rng and self.rc.caption_dropout and rng.random() < self.rc.caption_dropout:
            caption = ""
        example: dict[str, Any] = {}
        if self.rc.cache_latents:
            example["latent_params"] = self.latents[(str(item.path), flip)]
        else:
            example["pixels"] = data.load_pixels(item, flip)
        if self.cache_text:
            example["text_embeds"] = self.embeds[caption]
        else:
            example["input_ids"] = tokenize(self.tokenizer, [caption])[0]
        if seed is None:
            example.update(self._fixed_noise(item))
        return example

    def _fixed_noise(self, item: data.CaptionedImage) -> dict[str, Any]:
        import torch

        shape = (4, item.bucket[1] // self.vae_scale, item.bucket[0] // self.vae_scale)
        gen = torch.Generator().manual_seed(_stable_seed(item.source))
        return {"noise": torch.randn(shape, generator=gen), "posterior_noise": torch.randn(shape, generator=gen),
                "timesteps": torch.randint(0, self.train_timesteps, (), generator=gen)}

    def _vae_scale(self) -> int:
        assert self.model_dir is not None
        return 2 ** (len(json.loads((self.model_dir / "vae" / "config.json").read_text())["block_out_channels"]) - 1)

    def collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """Stacked tensors; images of different buckets go into separate groups (`name@g`), one UNet
        pass each, because a batch of one tensor needs one size."""
        import torch

        spatial = "latent_params" if "latent_params" in examples[0] else "pixels"
        groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
        for ex in examples:
            groups.setdefault(tuple(ex[spatial].shape), []).append(ex)
        batch: dict[str, Any] = {}
        for g, members in enumerate(groups.values()):
            for key in members[0]:
                batch[f"{key}@{g}"] = torch.stack([torch.as_tensor(m[key]) for m in members])
        return batch

    def loss_count(self, batch: dict[str, Any]) -> int:
        return sum(int(v.shape[0]) for k, v in batch.items() if k.startswith(("latent_params@", "pixels@")))

    def work_in(self, batch: dict[str, Any]) -> int:
        return self.loss_count(batch)

    # ---- model --------------------------------------------------------------------------------
    def build_model(self, device: Any, precision: str) -> Any:
        import torch

        assert self.model_dir is not None
        parts = load_parts(self.model_dir, device, torch_dtype(precision))
        targets = self.targets()
        lora_targets.check(parts.unet, targets)
        add_lora(parts.unet, self.rc.lora_r, self.rc.lora_alpha, self.rc.lora_dropout, targets)
        if self.rc.train_text_encoder:
            add_lora(parts.text_encoder, self.rc.lora_r, self.rc.lora_alpha, self.rc.lora_dropout, TEXT_ENCODER_TARGETS)
        if self.config.train.gradient_checkpointing:
            parts.unet.enable_gradient_checkpointing()
        self.parts = parts
        self._fill_caches(parts)
        if device.type == "cuda":  # convolutions run faster channels-last in bf16/fp16
            parts.unet.to(memory_format=torch.channels_last)
        return make_train_module(parts.unet, parts.noise_scheduler, scaling_factor=parts.vae.config.scaling_factor,
                                 vae=parts.vae, text_encoder=parts.text_encoder,
                                 train_text_encoder=self.rc.train_text_encoder, noise_offset=self.rc.noise_offset,
                                 snr_gamma=self.rc.snr_gamma)

    def _fill_caches(self, parts: Parts) -> None:
        """VAE posteriors of every image (both orientations with random_flip) and text states of every
        caption, computed once on the training device and kept on the CPU."""
        import torch
        from tqdm.auto import tqdm

        # Before the first step, and minutes long for many large images on a CPU: a progress bar in the
        # run's log, and the run's status (the run otherwise sits at step 0 with nothing new in its log).
        @contextmanager
        def progress(total: int, what: str, unit: str) -> Iterator[Callable[[int], None]]:
            with tqdm(total=total, desc=what, unit=unit, mininterval=5.0, file=sys.stderr) as bar:
                done = 0
                start_up_progress(f"{what} 0/{total:,} {unit}s")

                def advance(n: int) -> None:
                    nonlocal done
                    done += n
                    bar.update(n)
                    start_up_progress(f"{what} {done:,}/{total:,} {unit}s")

                yield advance

        items = self.train_data + self.val_data
        with torch.no_grad():
            if self.rc.cache_latents:
                flips = (False, True) if self.rc.random_flip else (False,)
                with progress(len(items) * len(flips), "caching VAE latents", "image") as advance:
                    for item in items:  # one at a time: buckets may differ in size
                        for flip in flips:
                            pixels = data.load_pixels(item, flip).unsqueeze(0)
                            self.latents[(str(item.path), flip)] = latent_params(parts.vae, pixels)[0].cpu()
                            advance(1)
            if self.cache_text:
                captions = sorted({i.caption for i in items} | {""})
                with progress(len(captions), "caching caption embeddings", "caption") as advance:
                    for chunk in range(0, len(captions), 32):
                        texts = captions[chunk:chunk + 32]
                        states = encode_prompts(parts.tokenizer, parts.text_encoder, texts).cpu()
                        self.embeds.update(zip(texts, states, strict=True))
                        advance(len(texts))

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        per_image = model(batch)
        return per_image.sum(), per_image.shape[0]

    def eval_step(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        per_image = model(batch)
        return {"loss_sum": per_image.sum().double(), "count": torch.tensor(float(per_image.shape[0]))}

    def eval_metrics(self, totals: dict[str, Any]) -> EvalResult:
        loss = float(totals["loss_sum"]) / max(float(totals["count"]), 1.0)
        report = {"eval_loss": loss, "images": int(float(totals["count"])), "skipped_images": self.skipped}
        return EvalResult({"eval_loss": loss}, report=report)

    def sample_prompts(self) -> list[str]:
        prompts = list(self.rc.sample_prompts)
        if prompts:
            return prompts
        captions = [i.caption for i in self.val_data + self.train_data if i.caption]
        return list(dict.fromkeys(captions))[:4] or [""]

    def generate_samples(self, model: Any) -> list[Sample]:
        assert self.parts is not None and self.model_dir is not None
        prompts = self.sample_prompts()
        size = (self.rc.resolution, self.rc.resolution)
        images = generate_images(self.parts, self.model_dir, prompts, seed=self.rc.sample_seed,
                                 steps=self.rc.sample_steps, guidance=self.rc.guidance_scale, size=size)
        return [Sample(prompt=p, image=img, caption=f"seed {self.rc.sample_seed + i}")
                for i, (p, img) in enumerate(zip(prompts, images, strict=True))]

    def save_final(self, model: Any, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        save_lora(model.unet, model.text_encoder if self.rc.train_text_encoder else None, dest)
        (dest / "README.md").write_text(
            f"# LoRA for {self.config.base_model}\n\nTrained by SparkTrainer (diffusion-lora, rank {self.rc.lora_r}, "
            f"{self.rc.resolution}px, {len(self.train_data)} images).\n\n```python\n"
            "from diffusers import StableDiffusionPipeline\n\n"
            f"pipe = StableDiffusionPipeline.from_pretrained({str(self.model_dir)!r})\n"
            f"pipe.load_lora_weights({str(dest.parent / 'final')!r})\n```\n", encoding="utf-8")


if TYPE_CHECKING:  # the type checker (tests/training/test_typecheck.py) holds the class to the protocol
    from spark_trainer.recipes.base import Recipe

    _conforms: type[Recipe] = DiffusionLoRARecipe
