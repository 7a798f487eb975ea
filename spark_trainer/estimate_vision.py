"""Peak GPU memory estimate for image classifiers without patches (ResNet, ConvNeXt, ...).

The token formula of `spark_trainer.estimate` fits transformer layers; a convolutional network's
activations depend on its stages' resolutions and widths instead. Here they are counted rather than
modelled: the classifier is built from its config on the meta device (no weights loaded, no memory,
no arithmetic) and run forward once, in training mode, at the run's batch size and the image size of
its processor, while `torch.autograd.graph.saved_tensors_hooks` adds up the bytes autograd keeps for
the backward pass. The formula (bytes):

    weights      = P * w           w = 2 (bf16/fp16), 4 (fp32); 0 for full fine-tuning (its fp32
                                   master copy is in trainable)
    trainable    = T * 16          fp32 weight 4 + gradient 4 + AdamW moments 8; T = P for full
                                   fine-tuning, else the LoRA weights of the adapted layers (as the
                                   recipe adapts them) plus the new head, trained in full
    activations  = S * s           S = saved bytes counted in fp32; s = 1/2 in 16-bit precision
    overhead     = 0.5 GiB

It is a planning estimate, like the others; `estimate.compare_measured` shows it beside the peaks
runs really reached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, describe
from spark_trainer.estimate import OVERHEAD_BYTES, MemoryEstimate


def saved_activation_bytes(model: Any, batch_size: int, height: int, width: int) -> int:
    """Bytes autograd saves for backward in one training-mode forward pass of `model` (on any device,
    the meta device included) over a batch of `batch_size` RGB images."""
    import torch

    saved: dict[int, int] = {}
    weights = {id(p) for p in model.parameters()}

    def pack(tensor: Any) -> Any:
        base = tensor if tensor._base is None else tensor._base
        if id(base) not in weights:  # weights saved for backward are counted as weights already
            saved[id(tensor)] = tensor.numel() * tensor.element_size()  # saved twice, counted once
        return tensor

    device = next(model.parameters()).device
    pixels = torch.zeros(batch_size, 3, height, width, device=device)
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(pixel_values=pixels)
    return sum(saved.values())


def _lora_weights(module: Any, rank: int) -> int:
    """LoRA A and B of one Linear (r * (in + out)) or Conv2d (r * (in/groups * kh * kw + out))."""
    if type(module).__name__ == "Conv2d":
        kh, kw = module.kernel_size
        return rank * (module.in_channels // module.groups * kh * kw + module.out_channels)
    return rank * (module.in_features + module.out_features)


def estimate_image_classifier(folder: str | Path, *, method: str = "lora", batch_size: int = 8,
                              precision: str = "bf16", lora_r: int = 16,
                              target_modules: str | list[str] = "all-linear") -> MemoryEstimate:
    """The estimate for an image classifier folder (config.json + image processor) of any architecture."""
    import torch
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    from spark_trainer.recipes.classification import body_layers, in_head
    from spark_trainer.recipes.image_classification_impl import preprocess_of

    folder = Path(folder)
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        pre = preprocess_of(AutoImageProcessor.from_pretrained(folder, local_files_only=True))
        with torch.device("meta"):
            model = AutoModelForImageClassification.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"{folder}: cannot read the image classifier to estimate its memory: "
                       f"{describe(exc).splitlines()[0]}") from None
    params = sum(p.numel() for p in model.parameters())
    try:
        activations = saved_activation_bytes(model, batch_size, pre.height, pre.width)
    except Exception as exc:  # noqa: BLE001 - an architecture whose forward the meta device cannot run
        raise BadInput(f"{folder}: cannot count its activations without running it "
                       f"({describe(exc).splitlines()[0]})") from None
    wide = precision == "fp32"
    if method == "full":
        trainable, weights = params, 0
    else:
        head = [_head_name(model)]
        if isinstance(target_modules, str) and target_modules != "all-linear":
            target_modules = [t.strip() for t in target_modules.split(",") if t.strip()]
        if isinstance(target_modules, list):
            names = [n for n, m in model.named_modules()
                     if any(n == t or n.endswith("." + t) for t in target_modules) and not in_head(n, head)]
        else:  # all-linear: the body's linear layers, or its convolutions when it has none (as the recipe does)
            names = body_layers(model, head, "Linear") or body_layers(model, head, "Conv2d")
        modules = dict(model.named_modules())
        trainable = sum(_lora_weights(modules[n], lora_r) for n in names)
        trainable += sum(p.numel() for n in head for p in modules[n].parameters())
        weights = params * (4 if wide else 2)
    parts = {"weights": weights, "trainable+optimizer": trainable * 16,
             "activations": activations if wide else activations // 2, "overhead": OVERHEAD_BYTES}
    return MemoryEstimate(sum(parts.values()), parts, trainable)


def _head_name(model: Any) -> str:
    """The classification head's module name (`classifier` in transformers' image classifiers)."""
    names = dict(model.named_children())
    for candidate in ("classifier", "head", "fc"):
        if candidate in names:
            return candidate
    return list(names)[-1]


def has_patches(folder: str | Path) -> bool:
    """Whether the model folder is a ViT-style transformer (patches of an image as tokens), which the
    token formula estimates; a ConvNeXt also has a patch_size (its stem's stride) but no such layers."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    keys = ("patch_size", "image_size", "hidden_size", "num_hidden_layers")
    return isinstance(config, dict) and all(key in config for key in keys)
