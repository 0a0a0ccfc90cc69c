"""`evalkit calibrate`: measure a cost profile (prefill and decode tokens/s, decode slowdown with context) on the
user's own engine, one sequence at a time, as the latency simulator assumes.

Prompts are random token ids, fresh for every timed call, so prefix caching cannot hide a prefill:
- prefill: time(P-token prompt, 1 new token) - time(short prompt, 1 new token), over P - short tokens;
- decode: time(short prompt, D tokens) - time(short prompt, 1 token), over the tokens beyond the first;
- slowdown: the same decode measurement after a C-token prompt that was prefilled (and cached) just before;
- prefix cache block: read from the engine (vLLM's KV block size), not timed;
- request overhead: what the short 1-token request costs beyond its prefill and one decode step, i.e. the fixed
  cost the three differences above cancel, which every real request pays once (the simulator charges it per
  segment; with short spans on a CPU it is a large share).
Each figure is the median of `repeats` measurements.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable

from evalkit.engines.base import Engine
from evalkit.errors import EvalkitError
from evalkit.sim.profile import CostProfile, ModelCost
from evalkit.types import GenRequest, Sampling

SHORT = 16
_clock = time.perf_counter  # a module attribute so unit tests can drive calibration with a simulated engine's clock


@dataclass(frozen=True)
class CalibrationPlan:
    prompt_tokens: int = 1024
    decode_tokens: int = 128
    context_tokens: int = 4096
    repeats: int = 3

    def __post_init__(self) -> None:
        if self.prompt_tokens <= SHORT * 2:
            raise EvalkitError(f"--prompt-tokens must be > {SHORT * 2} (got {self.prompt_tokens})")
        if self.decode_tokens < 4:
            raise EvalkitError(f"--decode-tokens must be >= 4 (got {self.decode_tokens})")
        if self.context_tokens <= SHORT * 2:
            raise EvalkitError(f"--context-tokens must be > {SHORT * 2} (got {self.context_tokens})")
        if self.repeats < 1:
            raise EvalkitError(f"--repeats must be >= 1 (got {self.repeats})")


class _Timer:
    def __init__(self, engine: Engine, seed: int) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        tok = engine.tokenizer
        vocab = len(tok.hf)
        special = set(getattr(tok.hf, "all_special_ids", []) or []) | set(tok.eos_ids) | set(tok.close_ids)
        self.pool = [i for i in range(min(vocab, 50_000)) if i not in special][100:]
        if len(self.pool) < 100:
            raise EvalkitError("the tokenizer has too few ordinary tokens to build calibration prompts")
        self.sampling = Sampling(temperature=1.0, top_p=1.0)

    def prompt(self, n: int) -> tuple[int, ...]:
        return tuple(self.rng.choice(self.pool) for _ in range(n))

    def run(self, prompt: tuple[int, ...], max_tokens: int) -> tuple[float, int]:
        req = GenRequest(prompt_ids=prompt, max_tokens=max_tokens, sampling=self.sampling, seed=self.rng.randrange(1 << 30))
        t0 = _clock()
        res = self.engine.generate([req])[0]
        return _clock() - t0, len(res.token_ids)


def _per_token_decode(timer: _Timer, prompt: tuple[int, ...], decode: int, attempts: int = 4) -> float:
    """Seconds per generated token after `prompt` (already cached), from D tokens minus 1 token."""
    for _ in range(attempts):
        t1, _ = timer.run(prompt, 1)
        td, n = timer.run(prompt, decode)
        if n >= max(2, decode // 4) and td > t1:
            return (td - t1) / (n - 1)
        prompt = prompt[:-1] + timer.prompt(1)  # ended early on EOS: another sample
    raise EvalkitError("calibration could not time decoding (the model kept stopping at once): raise --decode-tokens")


def calibrate(engine: Engine, plan: CalibrationPlan = CalibrationPlan(), seed: int = 0,
              log: Callable[[str], None] = lambda m: None) -> tuple[ModelCost, dict]:
    need = plan.context_tokens + plan.decode_tokens + 8
    if need > engine.max_model_len or plan.prompt_tokens + 8 > engine.max_model_len:
        raise EvalkitError(
            f"calibration needs {max(need, plan.prompt_tokens + 8)} tokens of context but the engine allows "
            f"{engine.max_model_len}: lower --context-tokens / --prompt-tokens or raise --max-model-len"
        )
    timer = _Timer(engine, seed)
    prefill, decode0, decodec, overhead = [], [], [], []
    # Round 0 is a warm-up and is discarded: first calls at each shape pay one-off allocation and compilation,
    # and on a CPU the first decodes run measurably slower than later ones (a short warm-up left the decode
    # speed 5-10 % low against real runs).
    for r in range(plan.repeats + 1):
        log(f"calibration round {r}/{plan.repeats}" if r else "calibration warm-up round")
        t_short, _ = timer.run(timer.prompt(SHORT), 1)
        t_long, _ = timer.run(timer.prompt(plan.prompt_tokens), 1)
        prefill.append((plan.prompt_tokens - SHORT) / max(t_long - t_short, 1e-9))
        short = timer.prompt(SHORT)
        timer.run(short, 1)
        decode0.append(_per_token_decode(timer, short, plan.decode_tokens))
        overhead.append(max(0.0, t_short - SHORT / prefill[-1] - decode0[-1]))
        long = timer.prompt(plan.context_tokens)
        timer.run(long, 1)  # prefill once; the decode timings below then hit the prefix cache
        decodec.append(_per_token_decode(timer, long, plan.decode_tokens))
    prefill, decode0, decodec, overhead = prefill[1:], decode0[1:], decodec[1:], overhead[1:]
    p, d0, dc = statistics.median(prefill), statistics.median(decode0), statistics.median(decodec)
    slowdown = max(0.0, (dc / d0 - 1) / ((plan.context_tokens - SHORT) / 1000))
    cost = ModelCost(prefill_tps=p, decode_tps=1 / d0, decode_slowdown_per_1k=slowdown,
                     request_overhead_s=statistics.median(overhead),
                     prefix_block_tokens=int(getattr(engine, "prefix_block_tokens", 1) or 1))
    measurements = {
        "plan": plan.__dict__, "prefill_tps": prefill, "decode_seconds_per_token_short": decode0,
        "decode_seconds_per_token_at_context": decodec, "request_overhead_s": overhead,
    }
    return cost, measurements


def hardware() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except Exception:
        pass
    import os

    return f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def profile_for(model: str, cost: ModelCost, measurements: dict, identity: dict) -> CostProfile:
    return CostProfile(
        name=f"calibrated-{model.rstrip('/').split('/')[-1]}", models={model: cost}, hardware=hardware(),
        source="evalkit calibrate", extra={"measurements": measurements, "engine": identity,
                                           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    )
