"""Peak GPU memory estimate for image classifiers without patches (ResNet, ConvNeXt, ...).

The token formula of `spark_trainer.estimate` fits transformer layers; a convolutional network's
activations depend on its stages' resolutions and widths instead. For transformers' ResNet and ConvNeXt
they are worked out from config.json (`estimate_convnets`, no torch: the CLI's estimate and the GUI's
memory panel read a config and nothing more). Any other is counted rather than modelled: the
classifier is built from its config on the meta device (no weights loaded, no memory, no arithmetic)
and run forward once, in training mode, at the run's batch size and the image size of its processor,
while `torch.autograd.graph.saved_tensors_hooks` adds up the bytes autograd keeps for the backward
pass; tests/test_estimate_convnets.py checks the two ways give the same figures. The formula (bytes):

    weights      = P * w           w = 2 (bf16/fp16), 4 (fp32); 0 for full fine-tuning (its fp32
                                   master copy is in trainable)
    trainable    = T * 16          fp32 weight 4 + gradient 4 + AdamW moments 8; T = P for full
                                   fine-tuning, else the LoRA weights of the adapted layers (as the
                                   recipe adapts them) plus the new head, trained in full
    activations  = S * s           S = saved bytes counted in fp32; s = 1/2 in 16-bit precision
    overhead     = 0.5 GiB

It is a planning estimate, like the others; `estimate_measured.compare_measured` shows it beside the peaks
runs really reached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spark_trainer import estimate_convnets
from spark_trainer.errors import BadInput, describe
from spark_trainer.estimate import OVERHEAD_BYTES, MemoryEstimate
from spark_trainer.estimate_convnets import Layer, Network
from spark_trainer.recipes.classification import in_head


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


def estimate_image_classifier(folder: str | Path, *, method: str = "lora", batch_size: int = 8,
                              precision: str = "bf16", lora_r: int = 16,
                              target_modules: str | list[str] = "all-linear") -> MemoryEstimate:
    """The estimate for an image classifier folder (config.json + image processor) of any architecture:
    from config.json alone for those `estimate_convnets` describes (no torch), else counted on the meta
    device."""
    size = estimate_convnets.image_size(folder)
    net = estimate_convnets.network(folder, batch_size, *size) if size is not None else None
    if net is None:
        net = _counted(Path(folder), batch_size)
    wide = precision == "fp32"
    if method == "full":
        trainable, weights = net.params, 0
    else:
        body = [layer for layer in net.layers if not in_head(layer.name, [net.head])]
        if isinstance(target_modules, str) and target_modules != "all-linear":
            target_modules = [t.strip() for t in target_modules.split(",") if t.strip()]
        if isinstance(target_modules, list):
            adapted = [layer for layer in body
                       if any(layer.name == t or layer.name.endswith("." + t) for t in target_modules)]
        else:  # all-linear: the body's linear layers, or its convolutions when it has none (as the recipe does)
            adapted = ([layer for layer in body if layer.kind == "Linear"]
                       or [layer for layer in body if layer.kind == "Conv2d"])
        # LoRA A and B of each: r * (in + out) for a Linear, r * (in/groups * kh * kw + out) for a Conv2d
        trainable = sum(lora_r * (layer.fan_in + layer.out) for layer in adapted) + net.head_params
        weights = net.params * (4 if wide else 2)
    parts = {"weights": weights, "trainable+optimizer": trainable * 16,
             "activations": net.saved if wide else net.saved // 2, "overhead": OVERHEAD_BYTES}
    return MemoryEstimate(sum(parts.values()), parts, trainable)


def _counted(folder: Path, batch_size: int) -> Network:
    """The classifier built from its config on the meta device (no weights, no memory, no arithmetic),
    its activations counted in one training-mode forward pass."""
    import torch
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    from spark_trainer.recipes.image_classification_impl import preprocess_of

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        pre = preprocess_of(AutoImageProcessor.from_pretrained(folder, local_files_only=True))
        with torch.device("meta"):
            model = AutoModelForImageClassification.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"{folder}: cannot read the image classifier to estimate its memory: "
                       f"{describe(exc).splitlines()[0]}") from None
    head = _head_name(model)
    net = Network(params=sum(p.numel() for p in model.parameters()), head=head,
                  head_params=sum(p.numel() for p in model.get_submodule(head).parameters()))
    for name, module in model.named_modules():
        if type(module).__name__ == "Conv2d":
            kh, kw = module.kernel_size
            net.layers.append(Layer(name, "Conv2d", module.in_channels // module.groups * kh * kw,
                                    module.out_channels))
        elif type(module).__name__ == "Linear":
            net.layers.append(Layer(name, "Linear", module.in_features, module.out_features))
    try:
        net.saved = saved_activation_bytes(model, batch_size, pre.height, pre.width)
    except Exception as exc:  # noqa: BLE001 - an architecture whose forward the meta device cannot run
        raise BadInput(f"{folder}: cannot count its activations without running it "
                       f"({describe(exc).splitlines()[0]})") from None
    return net


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
