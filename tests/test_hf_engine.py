"""The transformers engine's stop rules and sampling filters, on a char-level tokenizer and hand-made logits.

Its generation on the real demo model is covered by the shared engine contract suite (test_engine_contract.py).
"""

from __future__ import annotations

import pytest
import torch

from evalkit.engines.base import ChatTokenizer
from evalkit.engines.hf import HFEngine
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, Sampling
from fakes import EOS, CharTokenizer


@pytest.fixture
def eng() -> HFEngine:
    e = object.__new__(HFEngine)  # the decode rules need no model
    e.tokenizer = ChatTokenizer(CharTokenizer())
    e.max_model_len = 50
    e.batch = e.capacity = 4
    e._init_stream()
    return e


def feed(eng: HFEngine, req: GenRequest, text: str):
    out: list[int] = []
    for ch in text:
        f = eng._after(req, out, ord(ch) if ch != "\0" else EOS)
        if f:
            return f, eng.tokenizer.decode(out)
    return None, eng.tokenizer.decode(out)


def test_stop_rules_in_vllm_order(eng):
    g = Sampling(0.0)
    assert feed(eng, GenRequest((65,), 10, g, 0), "ab\0cd") == ("eos", "ab")
    assert feed(eng, GenRequest((65,), 10, g, 0, stop_ids=(ord("c"),)), "abcd") == ("stop", "abc")
    assert feed(eng, GenRequest((65,), 20, g, 0, stop_strings=("</think>",)), "hmm</think>ok") == ("stop", "hmm</think>")
    assert feed(eng, GenRequest((65,), 11, g, 0, stop_strings=("</think>",)), "hmm</think>ok") == ("stop", "hmm</think>")
    assert feed(eng, GenRequest((65,), 10, g, 0, stop_strings=("</think>",)), "hmm</think>ok") == ("length", "hmm</think")
    assert feed(eng, GenRequest((65,), 3, g, 0, stop_strings=("zz",)), "abcdef") == ("length", "abc")
    # EOS and a stop id on the last allowed token still count as eos / stop, not length.
    assert feed(eng, GenRequest((65,), 3, g, 0), "ab\0") == ("eos", "ab")
    assert feed(eng, GenRequest((65,), 3, g, 0, stop_ids=(ord("c"),)), "abc") == ("stop", "abc")


def test_sampling_filters(eng):
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0, 1.0]])
    gens = [torch.Generator().manual_seed(s) for s in range(200)]
    reqs = lambda s: [GenRequest((1,), 5, s, 0)]
    assert eng._choose(logits, reqs(Sampling(0.0)), gens[:1]) == [1]
    # top-k 1 and a tiny top-p both leave only the best token, whatever the seed and temperature.
    assert {eng._choose(logits, reqs(Sampling(5.0, 1.0, 1)), [g])[0] for g in gens} == {1}
    assert {eng._choose(logits, reqs(Sampling(5.0, 0.01)), [g])[0] for g in gens} == {1}
    # top-k 2 keeps the two best; a hot temperature without filters reaches the others.
    assert {eng._choose(logits, reqs(Sampling(5.0, 1.0, 2)), [g])[0] for g in gens} == {1, 2}
    assert {eng._choose(logits, reqs(Sampling(50.0, 1.0)), [g])[0] for g in gens} == {0, 1, 2, 3, 4}
    # The same seed gives the same draw.
    draw = lambda seed: eng._choose(logits, reqs(Sampling(1.0, 0.95)), [torch.Generator().manual_seed(seed)])
    assert all(draw(s) == draw(s) for s in range(20))


def test_request_past_the_context_is_a_clear_error(eng):
    with pytest.raises(EvalkitError, match="exceeds the context limit 50"):
        eng.generate([GenRequest(tuple(range(45)), 10, Sampling(0.0), 0)])
