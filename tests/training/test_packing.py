"""Packing keeps examples apart: a packed row's loss equals the per-example losses computed alone."""

from __future__ import annotations

import random

import pytest

from spark_trainer.training.packing import IGNORE, Example, collate, pack, row_tokens
from spark_trainer.training.steps import DataOrder


def _examples(lengths: list[int], vocab: int = 500, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    return [Example([1] + [rng.randrange(3, vocab) for _ in range(n - 1)], [True] * n) for n in lengths]


def _sdpa_model(tiny_model):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa").eval()


def test_packed_loss_equals_per_example_losses(tiny_model):
    import torch

    from spark_trainer.recipes.causal_lm_model import packed_loss

    model = _sdpa_model(tiny_model)
    examples = _examples([17, 40, 9, 25])
    rows = pack(examples, 128)
    assert len(rows) == 1 and row_tokens(rows[0]) == 91
    with torch.no_grad():
        packed_sum, packed_count = packed_loss(model, collate(rows, 0, pad_to=128), "sdpa")
        alone = [packed_loss(model, collate([[ex]], 0), "sdpa") for ex in examples]
        # The same examples with a plain causal mask over the row: they see each other, loss changes.
        plain = collate(rows, 0, pad_to=128)
        logits = model(input_ids=plain["input_ids"]).logits
        leaky = torch.nn.functional.cross_entropy(logits.flatten(0, 1), plain["targets"].flatten(),
                                                  ignore_index=IGNORE, reduction="sum")
    per_example_mean = sum(float(s) for s, _ in alone) / sum(int(c) for _, c in alone)
    assert int(packed_count) == sum(int(c) for _, c in alone) == 91 - 4
    assert float(packed_sum) / int(packed_count) == pytest.approx(per_example_mean, rel=1e-5, abs=1e-6)
    assert abs(float(leaky) / int(packed_count) - per_example_mean) > 1e-3


def test_targets_never_cross_example_boundaries_and_respect_train_mask():
    a = Example([1, 5, 6, 7], [False, False, True, True])  # a prompt (1, 5) and a completion (6, 7)
    b = Example([1, 8, 9], [True, True, True])
    batch = collate([[a, b]], pad_id=0, pad_to=10)
    assert batch["targets"][0].tolist() == [IGNORE, 6, 7, IGNORE, 8, 9, IGNORE, IGNORE, IGNORE, IGNORE]
    assert batch["position_ids"][0].tolist()[:7] == [0, 1, 2, 3, 0, 1, 2]
    assert batch["segment_ids"][0].tolist() == [0, 0, 0, 0, 1, 1, 1, -1, -1, -1]


def test_pack_places_every_example_once_within_the_row_limit():
    examples = _examples([random.Random(i).randint(2, 60) for i in range(300)])
    rows = pack(examples, 64)
    placed = [id(e) for row in rows for e in row]
    assert sorted(placed) == sorted(id(e) for e in examples)
    assert all(row_tokens(r) <= 64 for r in rows)
    assert sum(row_tokens(r) for r in rows) / (64 * len(rows)) > 0.9  # best fit leaves little padding


def test_data_order_is_a_function_of_the_position_and_covers_each_epoch():
    order = DataOrder(n_rows=10, batch_size=3, world=1, rank=0, seed=7)
    first_epoch = [i for k in range(order.per_epoch) for i in order.indices(k)]
    assert set(first_epoch) == set(range(10))
    again = DataOrder(n_rows=10, batch_size=3, world=1, rank=0, seed=7)
    assert [again.indices(k) for k in (5, 0, 3)] == [order.indices(k) for k in (5, 0, 3)]
    ranks = [DataOrder(10, 2, 2, r, 7).indices(1) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])


@pytest.mark.slow  # compiling flex attention for the CPU takes about half a minute on 2 cores
def test_flex_block_mask_matches_the_sdpa_mask(tiny_model):
    import torch

    from spark_trainer.recipes.causal_lm_model import packed_loss
    from spark_trainer.training.packing import block_causal_mask

    rows = pack(_examples([30, 20, 50], seed=3), 128)
    batch = collate(rows, 0, pad_to=128)
    mask = block_causal_mask(batch["segment_ids"])[0, 0]
    assert mask[55, 51] and not mask[55, 49] and not mask[51, 55]  # rows hold 50, then 30, then 20
    sdpa = _sdpa_model(tiny_model)
    from transformers import AutoModelForCausalLM

    flex = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="flex_attention").eval()
    with torch.no_grad():
        expected, _ = packed_loss(sdpa, batch, "sdpa")
        try:
            got, _ = packed_loss(flex, batch, "flex_attention")
        except (NotImplementedError, RuntimeError) as exc:  # flex needs a compiler toolchain on the CPU
            pytest.skip(f"flex attention unavailable here: {exc}")
    assert float(got) == pytest.approx(float(expected), rel=1e-4)


def _first_fit(examples: list[Example], seq_len: int) -> list[list[Example]]:
    """The packer many scripts use: examples in arrival order, each into the first row with room."""
    rows: list[list[Example]] = []
    for ex in examples:
        for row in rows:
            if row_tokens(row) + len(ex.input_ids) <= seq_len:
                row.append(ex)
                break
        else:
            rows.append([ex])
    return rows


def test_best_fit_never_splits_or_merges_an_example_and_beats_first_fit_on_a_long_tail():
    from spark_trainer.bench.workload import length_mix
    from spark_trainer.training.packing import efficiency

    seq_len = 512
    examples = _examples(length_mix(2000, median=90, max_len=seq_len, seed=3), vocab=30000, seed=3)
    rows = pack(examples, seq_len)
    placed = [e for row in rows for e in row]
    # Every example sits in exactly one row, whole and unchanged (the very same object).
    assert len(placed) == len(examples) and {id(e) for e in placed} == {id(e) for e in examples}
    assert all(row_tokens(r) <= seq_len for r in rows)
    # In the collated tensors each example is one contiguous segment holding exactly its tokens.
    batch = collate(rows[:8], 0, pad_to=seq_len)
    for b, row in enumerate(rows[:8]):
        for s, ex in enumerate(row):
            where = (batch["segment_ids"][b] == s).nonzero().flatten().tolist()
            assert where == list(range(where[0], where[0] + len(ex.input_ids)))
            assert batch["input_ids"][b, where].tolist() == ex.input_ids
    ours, first = efficiency(rows, seq_len), efficiency(_first_fit(examples, seq_len), seq_len)
    assert ours > first and ours > 0.97, (ours, first)
    assert len(rows) < len(_first_fit(examples, seq_len))


def test_efficiency_is_real_tokens_over_row_capacity():
    from spark_trainer.training.packing import efficiency

    rows = pack(_examples([300, 200, 100]), 400)
    assert efficiency(rows, 400) == pytest.approx(600 / 800)
    assert efficiency([], 400) == 0.0


@pytest.mark.slow  # dynamo traces the model: about a minute on 2 shared cores
def test_a_new_flex_block_mask_per_batch_does_not_recompile_the_compiled_model(tiny_model):
    """Each packed batch brings its own BlockMask (a new mask function over new segment ids): the
    compiled model must take it as an input, not recompile per batch (past dynamo's recompile limit it
    would silently run eagerly). Forward only: flex attention's backward does not run on the CPU; the
    training-mode check is the GPU test `test_default_run_compiles_once_on_cuda`."""
    import torch
    import torch._dynamo.utils
    from transformers import AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm_model import forward

    torch._dynamo.reset()
    flex = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="flex_attention").eval()
    compiled = torch.compile(flex, backend="eager")  # dynamo's guards are the question, not the kernels
    graphs = []
    for seed, lengths in enumerate([[30, 20, 50], [100, 28], [12] * 10, [64, 64]]):
        batch = collate(pack(_examples(lengths, seed=seed), 128), 0, pad_to=128)
        with torch.no_grad():
            try:
                forward(compiled, batch, "flex_attention")
            except (NotImplementedError, RuntimeError) as exc:  # flex needs a compiler toolchain on the CPU
                pytest.skip(f"flex attention unavailable here: {exc}")
        graphs.append(int(torch._dynamo.utils.counters["stats"]["unique_graphs"]))
    assert graphs[0] > 0 and graphs[-1] == graphs[0], graphs
