"""The layers and training activations of the convolutional image classifiers most used (transformers'
ResNet and ConvNeXt), worked out from config.json alone, without torch: `spark-trainer estimate` and
the setup form's memory panel read a config and nothing more.

`activation_bytes` is what `estimate_vision.saved_activation_bytes` counts for these models (the
bytes autograd keeps for backward in one training-mode forward pass, in fp32, weights excepted),
tensor by tensor, as transformers 5 builds them; tests/test_estimate_convnets.py checks the two
agree. A model it does not describe (another architecture, an activation other than the default,
stochastic depth) is counted as before, on the meta device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

F32 = 4  # bytes of a float32; a float saved in fp32 is counted 4 here, as the meta count sees it
RESNET = {"num_channels": 3, "embedding_size": 64, "hidden_sizes": [256, 512, 1024, 2048], "depths": [3, 4, 6, 3],
          "layer_type": "bottleneck", "hidden_act": "relu", "downsample_in_first_stage": False}
CONVNEXT = {"num_channels": 3, "patch_size": 4, "num_stages": 4, "hidden_sizes": [96, 192, 384, 768],
            "depths": [3, 3, 9, 3], "hidden_act": "gelu", "layer_scale_init_value": 1e-6, "drop_path_rate": 0.0}


@dataclass(frozen=True)
class Layer:
    """A Conv2d or Linear module, as LoRA adapts it: its full name and shape."""

    name: str
    kind: str  # "Conv2d" or "Linear"
    fan_in: int  # in_channels // groups * kh * kw (Conv2d), in_features (Linear)
    out: int


@dataclass
class Network:
    """What the memory estimate needs of a classifier: its parameter count, its Conv2d/Linear layers,
    its head's name and parameters, and the activations of a training forward pass (per `activations`)."""

    params: int = 0
    layers: list[Layer] = field(default_factory=list)
    head: str = "classifier"
    head_params: int = 0
    saved: int = 0  # fp32 bytes, filled by `activations`

    def conv(self, name: str, cin: int, cout: int, k: int, *, groups: int = 1, bias: bool = True) -> None:
        self.layers.append(Layer(name, "Conv2d", cin // groups * k * k, cout))
        self.params += cout * (cin // groups) * k * k + (cout if bias else 0)

    def linear(self, name: str, fin: int, fout: int) -> None:
        self.layers.append(Layer(name, "Linear", fin, fout))
        self.params += fin * fout + fout


def _config(folder: str | Path) -> dict[str, Any] | None:
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def _labels(config: dict[str, Any]) -> int:
    if isinstance(config.get("id2label"), dict):
        return len(config["id2label"])
    return int(config.get("num_labels", 2))


def _out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def network(folder: str | Path, batch: int, height: int, width: int) -> Network | None:
    """The classifier in `folder` at this batch and image size, or None when this module does not
    describe it (the caller counts it on the meta device instead)."""
    config = _config(folder)
    if config is None:
        return None
    kind = config.get("model_type")
    try:
        if kind == "resnet":
            merged = {**RESNET, **config}
            if merged["hidden_act"] == "relu" and merged["layer_type"] in ("basic", "bottleneck"):
                return _resnet(merged, _labels(config), batch, height, width)
        if kind == "convnext":
            merged = {**CONVNEXT, **config}
            if merged["hidden_act"] == "gelu" and not merged["drop_path_rate"]:
                return _convnext(merged, _labels(config), batch, height, width)
    except (KeyError, ValueError, TypeError, IndexError):  # a config transformers would refuse: it says why
        return None
    return None


def _resnet(c: dict[str, Any], labels: int, n: int, h: int, w: int) -> Network:
    """transformers' ResNetForImageClassification. Saved for backward: each convolution's input (a ReLU's
    output, kept once for both), each BatchNorm's input and four per-channel statistics, each ReLU's output,
    the max pool's int64 indices, and the head's input; the average pool keeps nothing."""
    net = Network()
    emb = int(c["embedding_size"])
    net.saved = n * int(c["num_channels"]) * h * w * F32  # the pixels, the stem's input
    h, w = _out(h, 7, 2, 3), _out(w, 7, 2, 3)
    net.conv("resnet.embedder.embedder.convolution", int(c["num_channels"]), emb, 7, bias=False)
    net.params += 2 * emb
    net.saved += 2 * n * emb * h * w * F32 + 4 * emb * F32  # BatchNorm's input, the ReLU's output
    h, w = _out(h, 3, 2, 1), _out(w, 3, 2, 1)
    net.saved += n * emb * h * w * (8 + F32)  # the max pool's indices; its output, the first block's input

    def conv_layer(name: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> None:
        nonlocal h, w
        net.conv(name + ".convolution", cin, cout, k, bias=False)
        net.params += 2 * cout
        h, w = _out(h, k, stride, k // 2), _out(w, k, stride, k // 2)
        net.saved += (2 if relu else 1) * n * cout * h * w * F32 + 4 * cout * F32

    cin = emb
    sizes, depths = [int(s) for s in c["hidden_sizes"]], [int(d) for d in c["depths"]]
    for i, (cout, depth) in enumerate(zip(sizes, depths, strict=False)):  # as transformers pairs them
        for j in range(depth):
            stride = (2 if (i > 0 or c["downsample_in_first_stage"]) else 1) if j == 0 else 1
            name = f"resnet.encoder.stages.{i}.layers.{j}"
            if c["layer_type"] == "bottleneck":
                mid, first = cout // 4, stride if c.get("downsample_in_bottleneck") else 1
                conv_layer(f"{name}.layer.0", cin, mid, 1, first, True)
                conv_layer(f"{name}.layer.1", mid, mid, 3, stride // first, True)
                conv_layer(f"{name}.layer.2", mid, cout, 1, 1, False)
            else:
                conv_layer(f"{name}.layer.0", cin, cout, 3, stride, True)
                conv_layer(f"{name}.layer.1", cout, cout, 3, 1, False)
            if cin != cout or stride != 1:  # the shortcut: a strided 1x1 convolution and its BatchNorm
                net.conv(f"{name}.shortcut.convolution", cin, cout, 1, bias=False)
                net.params += 2 * cout
                net.saved += n * cout * h * w * F32 + 4 * cout * F32  # (a 1x1 of the same stride: same size)
            net.saved += n * cout * h * w * F32  # the block's ReLU output
            cin = cout
    if labels > 0:
        net.linear("classifier.1", cin, labels)
        net.head_params = cin * labels + labels
        net.saved += n * cin * F32
    return net


def _convnext(c: dict[str, Any], labels: int, n: int, h: int, w: int) -> Network:
    """transformers' ConvNextForImageClassification. Saved for backward: each convolution's and linear
    layer's input, each LayerNorm's input with its mean and 1/std per position, GELU's input, the layer
    scale's input (when there is one), and the head's input."""
    net = Network()
    patch, sizes = int(c["patch_size"]), [int(s) for s in c["hidden_sizes"]]
    depths, scale = [int(d) for d in c["depths"]], float(c["layer_scale_init_value"]) > 0
    net.saved = n * int(c["num_channels"]) * h * w * F32
    net.conv("convnext.embeddings.patch_embeddings", int(c["num_channels"]), sizes[0], patch)
    h, w = _out(h, patch, patch, 0), _out(w, patch, patch, 0)
    net.params += 2 * sizes[0]
    net.saved += (n * h * w * sizes[0] + 2 * n * h * w) * F32  # the LayerNorm's input and statistics
    cin = sizes[0]
    for i in range(int(c["num_stages"])):
        cout, stage = sizes[i], f"convnext.encoder.stages.{i}"
        if cin != cout or i > 0:  # a LayerNorm, then a 2x2 convolution of stride 2
            net.params += 2 * cin
            net.conv(f"{stage}.downsampling_layer.1", cin, cout, 2)
            net.saved += (2 * n * h * w * cin + 2 * n * h * w) * F32
            h, w = _out(h, 2, 2, 0), _out(w, 2, 2, 0)
        for j in range(depths[i]):
            name, m = f"{stage}.layers.{j}", n * h * w
            net.conv(f"{name}.dwconv", cout, cout, 7, groups=cout)
            net.params += 2 * cout + (cout if scale else 0)
            net.linear(f"{name}.pwconv1", cout, 4 * cout)
            net.linear(f"{name}.pwconv2", 4 * cout, cout)
            # dwconv, LayerNorm and pwconv1 inputs, the LayerNorm's statistics, GELU's and pwconv2's inputs
            net.saved += (3 * m * cout + 2 * m + 8 * m * cout + (m * cout if scale else 0)) * F32
        cin = cout
    net.params += 2 * cin  # the final LayerNorm, over the pooled features
    net.saved += (n * cin + 2 * n) * F32
    if labels > 0:
        net.linear("classifier", cin, labels)
        net.head_params = cin * labels + labels
        net.saved += n * cin * F32
    return net


def image_size(folder: str | Path) -> tuple[int, int] | None:
    """(height, width) the recipe trains at, from preprocessor_config.json as
    `image_classification_impl.preprocess_of` reads the loaded processor; None when the file gives its
    sizes in a form only the processor's class can interpret (a bare number)."""
    try:
        found = json.loads((Path(folder) / "preprocessor_config.json").read_text())
    except (OSError, ValueError):
        return None
    size, crop = found.get("size"), found.get("crop_size")
    if not isinstance(size, dict) or not isinstance(crop, (dict, type(None))):
        return None
    if "height" in size and "width" in size:
        return int(size["height"]), int(size["width"])
    if "shortest_edge" in size:
        if crop and "height" in crop and "width" in crop:
            return int(crop["height"]), int(crop["width"])
        return int(size["shortest_edge"]), int(size["shortest_edge"])
    return None
