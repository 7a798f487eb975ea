"""Peak GPU memory estimate for a diffusion-LoRA run on a Stable-Diffusion-style pipeline folder.

Parameter counts are exact: they are read from the safetensors headers of the unet, text_encoder
and vae folders (no weights are loaded, no torch). The formula (bytes):

    weights      = (P_unet + P_text) * w + P_vae * w_vae   w = 2 (bf16/fp16), 4 (fp32); the VAE
                                                           stays fp32 under fp16
    trainable    = T * 16          fp32 LoRA weight 4 + gradient 4 + AdamW moments 8, where T is
                                   r * (in + out) for every adapted Linear, r * (in*k*k + out)
                                   for an adapted conv
    activations  = b * A * a       A = sum over the UNet's resolution levels of
                                   (latent pixels at that level) * channels * (2 * layers + 1);
                                   a = 90 bytes per element in 16-bit (180 in fp32); with gradient
                                   checkpointing a = 12 (24): only block inputs are kept
    overhead     = 0.5 GiB

`a` is calibrated on one published figure: the diffusers LoRA loop on an SD1.5 UNet at 512 px,
batch 8, bf16 peaks at about 10.4 GiB (A = 11.9 M elements per image there). It is a planning
estimate; `estimate_measured.compare_measured` shows it next to what runs really used.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.estimate import OVERHEAD_BYTES, MemoryEstimate

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors")


def tensor_shapes(folder: Path) -> dict[str, list[int]]:
    """Name -> shape of every tensor in a model folder's safetensors file(s), from the headers only."""
    shapes: dict[str, list[int]] = {}
    files = [folder / n for n in WEIGHT_FILES if (folder / n).is_file()] or sorted(folder.glob("*.safetensors"))
    if not files:
        raise BadInput(f"{folder} has no .safetensors weights; cannot estimate memory")
    for path in files:
        try:
            with open(path, "rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(length))
        except (OSError, ValueError, struct.error) as exc:
            raise BadInput(f"{path} cannot be read as safetensors: {exc}") from None
        shapes.update({k: v["shape"] for k, v in header.items() if k != "__metadata__"})
    return shapes


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def lora_trainable(shapes: dict[str, list[int]], targets: list[str], rank: int) -> int:
    """Trainable LoRA parameters for the modules whose names end with one of `targets`."""
    total = 0
    for name, shape in shapes.items():
        if not name.endswith(".weight"):
            continue
        module = name[: -len(".weight")]
        if not any(module == t or module.endswith("." + t) for t in targets):
            continue
        if len(shape) == 2:
            total += rank * (shape[0] + shape[1])
        elif len(shape) == 4:
            total += rank * (shape[1] * shape[2] * shape[3] + shape[0])
    return total


def unet_activation_elements(unet_config: dict[str, Any], resolution: int, vae_scale: int) -> int:
    """A: latent pixels * channels * (2 * layers + 1), summed over the UNet's resolution levels."""
    side = resolution // vae_scale
    layers = int(unet_config.get("layers_per_block", 2))
    total = 0
    for level, channels in enumerate(unet_config["block_out_channels"]):
        h = max(1, side // 2**level)
        total += h * h * int(channels) * (2 * layers + 1)
    return total


def estimate_diffusion(folder: str | Path, *, batch_size: int = 8, resolution: int = 512, precision: str = "bf16",
                       lora_r: int = 16, targets: list[str] | None = None, train_text_encoder: bool = False,
                       gradient_checkpointing: bool = False) -> MemoryEstimate:
    folder = Path(folder)
    try:
        unet_config = json.loads((folder / "unet" / "config.json").read_text())
        vae_config = json.loads((folder / "vae" / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{folder} is not a readable diffusers pipeline folder: {exc}") from None
    unet, text, vae = (tensor_shapes(folder / part) for part in ("unet", "text_encoder", "vae"))
    wide = precision == "fp32"
    w = 4 if wide else 2
    w_vae = 4 if precision in ("fp32", "fp16") else 2
    params = {name: sum(_numel(s) for s in shapes.values()) for name, shapes in
              (("unet", unet), ("text", text), ("vae", vae))}
    trainable = lora_trainable(unet, targets or ["to_q", "to_k", "to_v", "to_out.0"], lora_r)
    if train_text_encoder:
        trainable += lora_trainable(text, ["q_proj", "k_proj", "v_proj", "out_proj"], lora_r)
    vae_scale = 2 ** (len(vae_config["block_out_channels"]) - 1)
    per_element = (24 if wide else 12) if gradient_checkpointing else (180 if wide else 90)
    activations = batch_size * unet_activation_elements(unet_config, resolution, vae_scale) * per_element
    parts = {"weights": (params["unet"] + params["text"]) * w + params["vae"] * w_vae,
             "trainable+optimizer": trainable * 16, "activations": activations, "overhead": OVERHEAD_BYTES}
    return MemoryEstimate(sum(parts.values()), parts, trainable)


def estimate_diffusion_config(config: dict[str, Any], folder: str | Path) -> MemoryEstimate:
    """The estimate for a run-file mapping whose recipe is diffusion-lora."""
    train = config.get("train") or {}
    rc = config.get("recipe_config") or {}
    precision = str(train.get("precision") or "auto")
    targets = rc.get("target_modules") or "to_q,to_k,to_v,to_out.0"
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return estimate_diffusion(
        folder, batch_size=int(train.get("batch_size") or 8), resolution=int(rc.get("resolution") or 512),
        precision="bf16" if precision == "auto" else precision, lora_r=int(rc.get("lora_r") or 16),
        targets=list(targets), train_text_encoder=bool(rc.get("train_text_encoder", False)),
        gradient_checkpointing=bool(train.get("gradient_checkpointing", False)))

