from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.playground import protocol
from spark_trainer.playground.causal_lm import _first_stop, _safe_length
from spark_trainer.playground.settings import GenerationSettings


def test_settings_round_trip_and_defaults() -> None:
    s = GenerationSettings.from_dict({"max_new_tokens": "12", "temperature": 0, "stop": ["\n\n", ""], "seed": 5})
    assert (s.max_new_tokens, s.temperature, s.stop, s.seed) == (12, 0.0, ("\n\n",), 5)
    assert GenerationSettings.from_dict(s.to_dict()) == s
    assert GenerationSettings.from_dict(None) == GenerationSettings()


@pytest.mark.parametrize(("data", "named"), [
    ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"top_k": -2}, "top_k"),
    ({"max_new_tokens": 0}, "max_new_tokens"), ({"max_new_tokens": 2.5}, "max_new_tokens"),
    ({"repetition_penalty": 0}, "repetition_penalty"), ({"seed": -1}, "seed"), ({"stop": "x"}, "stop"),
    ({"temprature": 1}, "temprature"), ({"top_k": "many"}, "top_k"),
])
def test_bad_settings_name_their_field(data: dict, named: str) -> None:
    with pytest.raises(BadInput, match=named):
        GenerationSettings.from_dict(data)


def test_stop_strings_are_cut_and_their_starts_held_back() -> None:
    assert _first_stop("one two\nthree", ("\n", "two")) == 4
    assert _first_stop("abc", ("x",)) is None
    # "Answer: 4 ##" might be the start of the stop string "###": the "##" waits.
    assert _safe_length("Answer: 4 ##", ("###",)) == len("Answer: 4 ")
    assert _safe_length("half \ufffd", ()) == len("half ")


def test_protocol_rejects_what_is_not_a_request() -> None:
    assert protocol.decode(protocol.encode({"op": "load", "id": 1, "run": 2})) == {"op": "load", "id": 1, "run": 2}
    for line in (b"not json", b"[1, 2]", b'{"id": 1}', b'{"op": "explode"}'):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(line)
