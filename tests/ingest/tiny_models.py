"""Tiny local models with random weights, built from configs (nothing is downloaded): a Whisper for
transcription and a BLIP for captioning; a BERT (a text model) and a wav2vec2 (speech, but not
Whisper) for the folders the model steps must refuse. They exercise the real transformers pipelines end to end;
their output is noise, so tests check plumbing and alignment, not wording."""

from __future__ import annotations

import json
from pathlib import Path


def make_tiny_whisper(out: Path) -> Path:
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    out.mkdir(parents=True, exist_ok=True)
    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    for word in ("he", "ll", "hell", "hello"):
        vocab[word] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\nh e\nl l\nhe ll\nhell o\n")
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    tokenizer = WhisperTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), unk_token="<|endoftext|>",
                                 bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    end, start = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(vocab_size=len(tokenizer), num_mel_bins=80, encoder_layers=1, decoder_layers=1,
                           d_model=16, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                           decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=64,
                           decoder_start_token_id=start, eos_token_id=end, pad_token_id=end, bos_token_id=end,
                           begin_suppress_tokens=None, suppress_tokens=None)
    torch.manual_seed(0)  # random weights, but the same ones every run
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start, eos_token_id=end, pad_token_id=end,
        no_timestamps_token_id=ids["<|notimestamps|>"], is_multilingual=False, max_length=20,
        max_initial_timestamp_index=50)
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(out)
    return out


def make_tiny_blip(out: Path) -> Path:
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    out.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "red", "frame", "of", "video", "cat", "dog"]
    (out / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(out / "vocab.txt"), bos_token="[DEC]")
    text = BlipTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                          pad_token_id=tokenizer.pad_token_id, sep_token_id=tokenizer.sep_token_id,
                          eos_token_id=tokenizer.sep_token_id)
    vision = BlipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                                                    projection_dim=16))
    model.generation_config.max_new_tokens = 8
    model.save_pretrained(out)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=tokenizer).save_pretrained(out)
    return out


def make_tiny_bert(out: Path) -> Path:
    """A text model with its tokenizer, as save_pretrained writes it: no image processor, no audio."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat"]) + "\n")
    BertTokenizer(str(out / "vocab.txt")).save_pretrained(out)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=7, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(out)
    return out


def make_tiny_wav2vec2(out: Path) -> Path:
    """A CTC speech model: it loads as speech recognition, but gives no timestamps the way Whisper does."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({"<pad>": 0, "<unk>": 1, "|": 2, "a": 3, "b": 4}))
    torch.manual_seed(0)
    Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3),
                                  num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)).save_pretrained(out)
    Wav2Vec2Processor(feature_extractor=Wav2Vec2FeatureExtractor(),
                      tokenizer=Wav2Vec2CTCTokenizer(str(out / "vocab.json"))).save_pretrained(out)
    return out
