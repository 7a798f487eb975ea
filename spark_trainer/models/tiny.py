"""A tiny Llama-architecture causal LM with random weights and a locally trained tokenizer.

Nothing is downloaded: the tokenizer is a byte-level BPE trained with the `tokenizers` library on
generated text, so `spark-trainer demo` and the tests work offline.
"""

from __future__ import annotations

import random
from pathlib import Path

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "po", "an", "el", "is", "on", "ur"]


def generated_corpus(seed: int = 0, lines: int = 400) -> list[str]:
    """English-like lines (plus digits, punctuation and chat role markers) to train the tokenizer."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(300)]
    words += "the a of and to in is it you that he was for on are with as I his they be at one have this "\
             "from or had by word but what some we can out other were all there when up use your how said "\
             "question answer user assistant system hello world count number say repeat".split()
    corpus = []
    for _ in range(lines):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
        corpus.append(sentence.capitalize() + rng.choice([".", "?", "!", ","]) + f" {rng.randint(0, 999)}")
    corpus += ["<|user|>\n", "<|assistant|>\n", "<|system|>\n", "0123456789 +-*/=()[]{}:;'\"\n"]
    return corpus


def create_tiny_causal_lm(
    dest: Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Save a random-weight Llama model, its tokenizer and a chat template into `dest`.

    The result loads offline with `AutoModelForCausalLM.from_pretrained(dest)` and
    `AutoTokenizer.from_pretrained(dest)`.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(generated_corpus(seed), trainer=trainer)
    # As Llama's tokenizer does: `tokenizer(text)` starts with BOS, as every row the recipe trains on
    # does, so the exported model used the plain way sees what it was trained on.
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        model_max_length=max_position_embeddings,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(dest)

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=max_position_embeddings, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(dest)
    return dest
