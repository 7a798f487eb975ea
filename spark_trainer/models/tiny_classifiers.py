"""Tiny classifiers with random weights for the demos and tests: a BERT text classifier with a
locally trained WordPiece tokenizer, and a ViT image classifier with its image processor.

Nothing is downloaded. Both are saved with a head of `num_labels` classes, which the recipes
replace by a head for the dataset's own classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def create_tiny_text_classifier(dest: Path, *, corpus: Iterable[str] = (), num_labels: int = 2,
                                hidden_size: int = 64, num_layers: int = 2, seed: int = 0) -> Path:
    """A random-weight BERT sequence classifier and an uncased WordPiece tokenizer in `dest`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    from spark_trainer.models.tiny import generated_corpus

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    alphabet = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;()")
    trainer = trainers.WordPieceTrainer(vocab_size=1000, special_tokens=special, show_progress=False,
                                        initial_alphabet=alphabet)
    tok.train_from_iterator([*generated_corpus(seed), *corpus], trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                        model_max_length=512)
    tokenizer.save_pretrained(dest)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
                        num_attention_heads=4, intermediate_size=hidden_size * 2, max_position_embeddings=512,
                        pad_token_id=tokenizer.pad_token_id, num_labels=num_labels)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(dest)
    return dest


def create_tiny_image_classifier(dest: Path, *, num_labels: int = 2, image_size: int = 32, hidden_size: int = 64,
                                 num_layers: int = 2, seed: int = 0) -> Path:
    """A random-weight ViT image classifier and its image processor in `dest`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    config = ViTConfig(image_size=image_size, patch_size=8, hidden_size=hidden_size, num_hidden_layers=num_layers,
                       num_attention_heads=4, intermediate_size=hidden_size * 2, num_labels=num_labels)
    torch.manual_seed(seed)
    ViTForImageClassification(config).save_pretrained(dest)
    _vit_image_processor()(size={"height": image_size, "width": image_size}, image_mean=[0.5, 0.5, 0.5],
                      image_std=[0.5, 0.5, 0.5]).save_pretrained(dest)
    return dest


def _vit_image_processor() -> type:
    """ViT's image processor class. Without torchvision, transformers 5 falls back from
    `ViTImageProcessor` to its PIL twin with a warning a user cannot act on; both save the same
    preprocessor_config.json, so name the PIL one where it exists (older transformers lack it)."""
    import transformers

    try:
        import torchvision  # noqa: F401
    except ImportError:
        pil = getattr(transformers, "ViTImageProcessorPil", None)
        if pil is not None:
            return pil
    return transformers.ViTImageProcessor
