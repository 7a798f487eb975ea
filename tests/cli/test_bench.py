"""`bench lora|diffusion`: options read as they say (the benchmarks themselves: tests/bench)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("kind", "module", "function"), [("lora", "lora", "bench_lora"),
                                                          ("diffusion", "diffusion", "bench_diffusion")])
def test_a_home_given_to_a_bench_is_said_to_be_unused(cli, home, monkeypatch, kind, module, function) -> None:
    """`bench lora --home H` ignored --home without a word: the benchmark's run lives in a temporary folder."""
    import importlib

    bench = importlib.import_module(f"spark_trainer.bench.{module}")
    monkeypatch.setattr(bench, function, lambda *_a, **_k: {"figures": "stub"})
    monkeypatch.setattr(bench, "format_report", lambda report: "stub report")
    given = cli("bench", kind, "--preset", "tiny")
    assert given.code == 0 and given.out == "stub report\n", given.err
    assert f"bench {kind} works in a temporary folder of its own: --home {home} is not read or written" in given.err
    assert "--home" not in cli("bench", kind, "--preset", "tiny", use_home=False).err
