"""`spark-trainer bench diffusion`: our diffusion-LoRA recipe against a diffusers-example-style loop.

Both run in one process on the same random-initialised UNet (same seed), the same cached VAE
latents and text embeddings, LoRA of the same rank on to_q/to_k/to_v/to_out.0, the same batch
size and precision. Ours goes through the recipe's own data path (`load` + `collate`), its loss
module and the engine's `train_step` (fused AdamW, channels-last UNet, optionally torch.compile).
The baseline is the loop of diffusers' `train_text_to_image_lora.py`: a DataLoader over the cached
tensors, `noise_scheduler.add_noise`, `F.mse_loss`, `accelerator.backward`, AdamW. The figure that
counts is images per second.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace
from typing import Any

from spark_trainer.bench.rounds import median_figures, median_ratios, ratio_lines, rounds_note, take_turns
from spark_trainer.errors import BadInput

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
SCALING = 0.18215  # SD 1.x VAE latent scaling factor


@dataclass(frozen=True)
class Preset:
    name: str
    block_out_channels: tuple[int, ...]
    down_block_types: tuple[str, ...]
    up_block_types: tuple[str, ...]
    layers_per_block: int
    cross_attention_dim: int
    attention_head_dim: int
    norm_num_groups: int
    resolution: int  # pixels; latents are resolution / 8 (SD VAE) on a side
    text_len: int
    batch_size: int
    lora_r: int
    steps: int
    warmup_steps: int
    compile: bool

    @property
    def latent_side(self) -> int:
        return self.resolution // 8

    def unet_config(self) -> dict[str, Any]:
        return {"sample_size": self.latent_side, "in_channels": 4, "out_channels": 4,
                "block_out_channels": self.block_out_channels, "down_block_types": self.down_block_types,
                "up_block_types": self.up_block_types, "layers_per_block": self.layers_per_block,
                "cross_attention_dim": self.cross_attention_dim, "attention_head_dim": self.attention_head_dim,
                "norm_num_groups": self.norm_num_groups}


PRESETS = {
    # CPU-sized: the tiny UNet of the demo pipeline, 64 px images (8x8 latents), about a minute.
    "tiny": Preset("tiny", (32, 64), ("DownBlock2D", "CrossAttnDownBlock2D"), ("CrossAttnUpBlock2D", "UpBlock2D"),
                   1, 32, 8, 8, 64, 16, 4, 4, 6, 2, False),
    # The GPU job from the issue: an SD1.5-shaped UNet (860M parameters), 512 px, batch 8, LoRA r=16.
    "sd15": Preset("sd15", (320, 640, 1280, 1280),
                   ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                   ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                   2, 768, 8, 32, 512, 77, 8, 16, 20, 6, True),
}


def _unet(preset: Preset, device: Any, dtype: Any) -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    # Built on the device: initialising the sd15 UNet's 860M parameters on the CPU took tens of seconds
    # per engine, and the first lease's call ran out before the second engine had trained.
    with torch.device(device):
        unet = UNet2DConditionModel(**preset.unet_config())
    unet.requires_grad_(False)
    # Cast only when needed: diffusers warns about any dtype passed to `.to()`, even float32.
    return unet if dtype == torch.float32 else unet.to(dtype=dtype)


def _scheduler() -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


def cached_data(preset: Preset, n: int, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """`n` cached VAE posteriors (mean and log-variance, 8 channels) and text embeddings."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    side = preset.latent_side
    latents = [torch.cat([torch.randn(4, side, side, generator=gen), torch.full((4, side, side), -6.0)])
               for _ in range(n)]
    embeds = [torch.randn(preset.text_len, preset.cross_attention_dim, generator=gen) for _ in range(n)]
    return latents, embeds


def run_ours(preset: Preset, latents: list[Any], embeds: list[Any], *, device: Any, precision: str,
             steps: int, warmup: int) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.recipes.diffusion_data import CaptionedImage
    from spark_trainer.recipes.diffusion_lora_impl import DiffusionLoRARecipe
    from spark_trainer.recipes.diffusion_model import add_lora, make_train_module, torch_dtype
    from spark_trainer.training import batches
    from spark_trainer.training import steps as train_steps
    from spark_trainer.training.compiling import CompileState

    cuda = device.type == "cuda"
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if precision == "bf16" else "no")
    config = ExperimentConfig.model_validate({
        "name": "bench", "recipe": "diffusion-lora", "base_model": "bench", "dataset": "bench",
        "train": {"batch_size": preset.batch_size, "max_steps": warmup + steps},
        "recipe_config": {"resolution": preset.resolution, "lora_r": preset.lora_r, "lora_alpha": preset.lora_r}})
    # The recipe's data path over the same cached tensors the baseline gets (what build_model's
    # cache fill would have produced from images and captions).
    recipe = DiffusionLoRARecipe(config)
    recipe.train_data = [CaptionedImage(_fake_path(i), f"caption {i}", f"image {i}", "train",
                                        (preset.resolution,) * 2, (preset.resolution,) * 2)
                         for i in range(len(latents))]
    recipe.latents = {(str(item.path), False): lat for item, lat in zip(recipe.train_data, latents, strict=True)}
    recipe.embeds = {item.caption: emb for item, emb in zip(recipe.train_data, embeds, strict=True)}
    unet = _unet(preset, accelerator.device, torch_dtype(precision))
    add_lora(unet, preset.lora_r, preset.lora_r, 0.0, TARGETS)
    if cuda:
        unet.to(memory_format=torch.channels_last)
    module = make_train_module(unet, _scheduler(), scaling_factor=SCALING)
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = train_steps.make_optimizer(params, 1e-4, 0.0, accelerator.device.type)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    # As a run compiles it (training/compiling.py): the UNet whole, or its declared blocks with
    # SPARK_TRAINER_COMPILE_REGIONS=declared.
    compiling = CompileState(on_event=lambda message: None)
    model = compiling.compile(module, preset.compile, accelerator.device.type)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    train_steps.quiet_scheduler_order_warning()  # as the engine does for every run
    order = train_steps.DataOrder(len(recipe.train_data), preset.batch_size, 1, 0, 0)
    feed = batches.train_batches(recipe, order, 0, 0, warmup + steps, pin=cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    images, began, started = 0, 0.0, time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            if cuda:
                torch.cuda.synchronize()
            began = time.perf_counter()
        batch = next(feed)
        stats = train_steps.train_step(
            model=model, optimizer=optimizer, scheduler=scheduler, accelerator=accelerator, loss_fn=recipe.loss,
            loss_count=recipe.loss_count, micro_batches=[batch], work=recipe.work_in(batch), params=params,
            max_grad_norm=1.0)
        if step >= warmup:
            images += stats.work
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    peak = torch.cuda.max_memory_allocated() if cuda else None
    del model, optimizer, module, unet
    return {"images_per_s": images / seconds, "images": images, "seconds": seconds, "peak_bytes": peak,
            "compiled": compiling.active, "compiled_blocks": compiling.regions, "warmup_steps_s": began - started,
            "final_loss": stats.loss}


def _fake_path(i: int) -> Any:
    from pathlib import Path

    return Path(f"/bench/image-{i:05d}.png")


def run_example_loop(preset: Preset, latents: list[Any], embeds: list[Any], *, device: Any, precision: str,
                     steps: int, warmup: int) -> dict[str, Any]:
    """The training loop of diffusers' examples/text_to_image/train_text_to_image_lora.py, with the
    VAE latents and text embeddings cached."""
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig
    from torch.utils.data import DataLoader

    cuda = device.type == "cuda"
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if precision == "bf16" else "no")
    weight_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    unet = _unet(preset, accelerator.device, weight_dtype)
    unet.add_adapter(LoraConfig(r=preset.lora_r, lora_alpha=preset.lora_r, init_lora_weights="gaussian",
                                target_modules=list(TARGETS)))
    if precision == "bf16":
        cast_training_params(unet, dtype=torch.float32)
    lora_layers = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(lora_layers, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    noise_scheduler = _scheduler()
    dataset = [{"latent_dist": lat, "embeds": emb} for lat, emb in zip(latents, embeds, strict=True)]
    loader = DataLoader(dataset, batch_size=preset.batch_size, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(0))
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    unet, optimizer, loader, lr_scheduler = accelerator.prepare(unet, optimizer, loader, lr_scheduler)
    unet.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    images, began, done, train_loss = 0, 0.0, 0, 0.0
    while done < warmup + steps:
        for batch in loader:
            if done == warmup:
                if cuda:
                    torch.cuda.synchronize()
                began = time.perf_counter()
            with accelerator.accumulate(unet):
                mean, logvar = batch["latent_dist"].to(weight_dtype).chunk(2, dim=1)
                latents_ = (mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)) * SCALING
                noise = torch.randn_like(latents_)
                bsz = latents_.shape[0]
                timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (bsz,),
                                          device=latents_.device).long()
                noisy_latents = noise_scheduler.add_noise(latents_, noise, timesteps)
                encoder_hidden_states = batch["embeds"].to(weight_dtype)
                model_pred = unet(noisy_latents, timesteps, encoder_hidden_states, return_dict=False)[0]
                loss = F.mse_loss(model_pred.float(), noise.float(), reduction="mean")
                avg_loss = accelerator.gather(loss.repeat(bsz)).mean()
                train_loss = avg_loss.item()
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(lora_layers, 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            if done >= warmup:
                images += bsz
            done += 1
            if done == warmup + steps:
                break
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    peak = torch.cuda.max_memory_allocated() if cuda else None
    del unet, optimizer
    return {"images_per_s": images / seconds, "images": images, "seconds": seconds, "peak_bytes": peak,
            "compiled": False, "final_loss": train_loss}


def bench_diffusion(preset_name: str = "tiny", *, steps: int | None = None, compile: bool | None = None,
                    engines: tuple[str, ...] = ("ours", "example"), repeats: int = 1,
                    log: Any = None) -> dict[str, Any]:
    """Run the engines and return their figures and the ratio (see the module docstring); with `repeats`
    > 1 the engines take turns and the report quotes medians (spark_trainer/bench/rounds.py)."""
    if preset_name not in PRESETS:
        raise BadInput(f"unknown preset {preset_name!r}; presets are: {', '.join(PRESETS)}")
    for engine in engines:
        if engine not in ("ours", "example"):
            raise BadInput(f"unknown engine {engine!r}; engines are: ours, example")
    import torch

    from spark_trainer.recipes.diffusion_model import quiet_torchvision_notice

    quiet_torchvision_notice()

    preset = PRESETS[preset_name]
    if compile is not None:
        preset = replace(preset, compile=compile)
    steps = steps or preset.steps
    warmup = preset.warmup_steps
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    latents, embeds = cached_data(preset, (warmup + steps) * preset.batch_size)

    def run_one(engine: str) -> dict[str, Any]:
        run = run_ours if engine == "ours" else run_example_loop
        torch.manual_seed(0)
        found = run(preset, latents, embeds, device=device, precision=precision, steps=steps, warmup=warmup)
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        return found

    rounds = take_turns(engines, run_one, repeats, describe=f"{preset.name}, {steps} timed steps after {warmup} warm-up",
                        log=log)
    results = median_figures(rounds, "images_per_s")
    pairs = {"ours_vs_example": ("ours", "example", "images_per_s")}
    if cuda:
        pairs["memory_ours_vs_example"] = ("ours", "example", "peak_bytes")
    ratios, by_round = median_ratios(rounds, pairs)
    return {"preset": preset.name, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "precision": precision, "steps": steps, "warmup_steps": warmup, "resolution": preset.resolution,
            "batch_size": preset.batch_size, "lora_r": preset.lora_r, "compile": preset.compile,
            "torch": torch.__version__, "repeats": repeats, "engines": results, "ratios": ratios,
            **({"ratios_by_round": by_round} if repeats > 1 else {})}


def format_report(report: dict[str, Any]) -> str:
    names = {"ours": "spark-trainer diffusion-lora recipe", "example": "diffusers example LoRA loop"}
    lines = [f"bench diffusion --preset {report['preset']} on {report['device']} ({report['precision']}, "
             f"{report['resolution']} px, batch {report['batch_size']}, LoRA r={report['lora_r']}, cached latents "
             f"and text embeddings, {report['steps']} timed steps, compile {report['compile']}, torch {report['torch']}"
             f"{rounds_note(report)})"]
    for key, r in report["engines"].items():
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.1f} GiB"
        lines.append(f"  {names[key]:<38} {r['images_per_s']:>10.2f} images/s   peak {peak:>9}")
    ours = report["engines"].get("ours")
    if ours and ours.get("warmup_steps_s") is not None:
        scope = (f"{ours['compiled_blocks']} declared blocks" if ours.get("compiled_blocks") else "the whole UNet") \
            if ours["compiled"] else "nothing"
        lines.append(f"  ours: compiled {scope}; the {report['warmup_steps']} warm-up steps (compile included) "
                     f"took {ours['warmup_steps_s']:.1f} s")
    lines.extend(ratio_lines(report))
    return "\n".join(lines)
