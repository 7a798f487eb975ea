"""A tiny Stable-Diffusion-style pipeline (UNet, VAE, CLIP text encoder) with random weights.

Everything is built from configs; the CLIP tokenizer's vocab and merges are generated here from a
small word list, so the demo and the tests never download anything. The folder loads offline with
`StableDiffusionPipeline.from_pretrained(dest)` (diffusers layout, `model_index.json` at the top).
"""

from __future__ import annotations

from pathlib import Path

# Words of the demo captions and sample prompts; anything else still tokenizes (letter by letter).
WORDS = ("a an the of on in with and photo picture painting drawing style sks red green blue yellow "
         "purple orange white black grey circle square triangle stripe stripes dot dots shape shapes "
         "background small large big bright dark simple flat pattern sky sea grass sunset night day").split()
SPECIALS = ("<|startoftext|>", "<|endoftext|>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def clip_vocab_and_merges(words: tuple[str, ...] | list[str] = WORDS) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A CLIP BPE vocabulary: every byte (alone and word-final), merges learned on `words` by the
    `tokenizers` BPE trainer (so they apply consistently: each known word ends as one token), and
    the two special tokens."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=100_000, min_frequency=1, end_of_word_suffix="</w>",
                                  show_progress=False, special_tokens=[])
    bpe.train_from_iterator([" ".join(w.lower() for w in words)] * 4, trainer=trainer)
    learned = json.loads(bpe.to_str())["model"]
    chars = list(_bytes_to_unicode().values())
    vocab_list = list(dict.fromkeys([*chars, *(c + "</w>" for c in chars), *learned["vocab"]]))
    vocab_list += list(SPECIALS)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    return {tok: i for i, tok in enumerate(vocab_list)}, merges  # type: ignore[return-value]


def create_tiny_sd_pipeline(dest: Path, *, sample_size: int = 32, seed: int = 0, cross_attention_dim: int = 32,
                            max_length: int = 32) -> Path:
    """Save a random-weight Stable-Diffusion-style pipeline into `dest` (diffusers folder layout).

    `sample_size` is the image side in pixels the pipeline generates by default; the VAE halves it.
    """
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    dest = Path(dest)
    vocab, merges = clip_vocab_and_merges()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=cross_attention_dim, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=max_length, bos_token_id=vocab[SPECIALS[0]],
        eos_token_id=vocab[SPECIALS[1]], pad_token_id=vocab[SPECIALS[1]], projection_dim=cross_attention_dim))
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3, norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, sample_size=sample_size)
    unet = UNet2DConditionModel(
        sample_size=sample_size // 2, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=8, attention_head_dim=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=cross_attention_dim)
    scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, clip_sample=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipeline.save_pretrained(dest)
    return dest


COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220), "yellow": (235, 210, 40),
           "purple": (140, 60, 180), "orange": (240, 140, 30), "white": (245, 245, 245), "black": (15, 15, 15)}
SHAPES = ("circle", "square", "triangle")


def write_captioned_images(folder: Path, n: int = 24, *, size: int = 32, seed: int = 0) -> Path:
    """`n` PNG images of a coloured shape on a coloured background, each with a `.txt` caption
    ("a red circle on a blue background") beside it: what drag-and-drop of a captioned folder gives."""
    import random

    from PIL import Image, ImageDraw

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = list(COLOURS)
    for i in range(n):
        shape, fg = rng.choice(SHAPES), rng.choice(names)
        bg = rng.choice([c for c in names if c != fg])
        image = Image.new("RGB", (size, size), COLOURS[bg])
        draw = ImageDraw.Draw(image)
        r = rng.randint(size // 5, size // 3)
        cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
        if shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[fg])
        elif shape == "square":
            draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[fg])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[fg])
        image.save(folder / f"shape-{i:03d}.png")
        (folder / f"shape-{i:03d}.txt").write_text(f"a {fg} {shape} on a {bg} background\n", encoding="utf-8")
    return folder
