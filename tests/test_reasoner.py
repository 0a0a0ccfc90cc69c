"""`smollm2-reasoner`: the shipped adapter merges into the demo model in seconds, and the result thinks in steps and
closes `</think>` by itself on the real vLLM engine."""

import os
import time

import numpy as np
import pytest

from evalkit.config import EngineSpec, SweepSpec
from evalkit.engines.models import ensure_demo_model
from evalkit.engines.reasoner import ADAPTER_PATH, REASONER_NAME, ensure_reasoner
from evalkit.store import RunStore
from evalkit.sweep import run_sweep
from evalkit.types import Sampling


def test_adapter_is_small_package_data():
    assert ADAPTER_PATH.exists() and ADAPTER_PATH.stat().st_size < 8_000_000


def test_merge_adds_the_low_rank_update_and_nothing_else(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    base = ensure_demo_model()
    start = time.monotonic()
    target = ensure_reasoner(base, tmp_path / REASONER_NAME, log=lambda m: None)
    assert time.monotonic() - start < 120, "merging must stay a matter of seconds, not a training run"
    before, after = load_file(str(base / "model.safetensors")), load_file(str(target / "model.safetensors"))
    with safe_open(str(ADAPTER_PATH), framework="numpy") as f:
        meta = f.metadata()
        names = {k.rsplit(".lora_", 1)[0] + ".weight" for k in f.keys()}
        key = sorted(names)[0][: -len(".weight")]
        a, b = f.get_tensor(key + ".lora_A").astype(np.float32), f.get_tensor(key + ".lora_B").astype(np.float32)
    scale = float(meta["alpha"]) / float(meta["rank"])
    np.testing.assert_allclose(after[key + ".weight"], before[key + ".weight"] + scale * (b @ a), atol=1e-6)
    assert not np.array_equal(after[key + ".weight"], before[key + ".weight"])
    untouched = [n for n in before if n not in names]
    assert untouched and all(np.array_equal(before[n], after[n]) for n in untouched)
    from transformers import AutoTokenizer

    from evalkit.engines.base import ChatTokenizer

    # The prompt a sweep sends is the one the adapter was trained on: no default system prompt, thinking opened.
    text = ChatTokenizer(AutoTokenizer.from_pretrained(target)).chat_text("What is 2 + 3?")
    assert text == "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    # Built once: a second call returns at once.
    start = time.monotonic()
    ensure_reasoner(base, target, log=lambda m: None)
    assert time.monotonic() - start < 5


@pytest.mark.engine
def test_reasoner_closes_thinking_by_itself_and_budgets_force_it(tmp_path):
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from evalkit.engines.vllm import VLLMEngine

    engine = VLLMEngine(EngineSpec(kind="vllm", model=REASONER_NAME, max_model_len=1024))
    try:
        spec = SweepSpec(
            name="reasoner", engine=EngineSpec(model=REASONER_NAME), benchmarks=("arith",), budgets=(4, 96),
            solution_budget=16, sampling=Sampling(temperature=0.0, top_p=1.0), limit=6, out_root=str(tmp_path),
            benchmark_options={"difficulty": 3, "count": 6, "seed": 0},
        )
        run_sweep(spec, engine=engine)
    finally:
        engine.close()
    rows = RunStore(tmp_path / "reasoner").generations()
    small = [g for g in rows if g.thinking_budget == 4]
    large = [g for g in rows if g.thinking_budget == 96]
    assert len(small) == len(large) == 6
    assert all(g.forced for g in small), "four tokens cannot hold any of these problems' work"
    own = [g for g in large if not g.forced and g.thinking_finish == "stop"]
    assert len(own) >= 3, [g.thinking_text for g in large]
    assert all("=" in g.thinking_text for g in own), "the thinking is worked steps"
    assert sum("\\boxed{" in g.solution_text for g in large) >= 5, [g.solution_text for g in large]
