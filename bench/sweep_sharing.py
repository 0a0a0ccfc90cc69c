"""Shared thinking vs from-scratch budgets: the same sweep both ways, on one real engine, in one process.

    python bench/sweep_sharing.py [--benchmark aime24 --data-dir ../shared/data] [--budgets 64,128,256] [--limit 16]

Prints wall time and generated tokens of each mode and the ratios (from scratch / shared). The engine's prefix
cache is reset before each mode so neither inherits the other's cache. The default model is the demo model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-demo")
    ap.add_argument("--benchmark", default="aime24")
    ap.add_argument("--data-dir", default=os.environ.get("EVALKIT_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")))
    ap.add_argument("--budgets", default="64,128,256")
    ap.add_argument("--solution-budget", default="32")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--max-model-len", type=int, default=2048)
    args = ap.parse_args()

    from rich.console import Console

    from evalkit.config import EngineSpec, SweepSpec, parse_budget, parse_budget_list
    from evalkit.engines.vllm import VLLMEngine
    from evalkit.sweep import run_sweep
    from evalkit.types import Sampling

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    engine_spec = EngineSpec(model=args.model, max_model_len=args.max_model_len)
    engine = VLLMEngine(engine_spec)
    quiet = Console(stderr=True, quiet=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for share in (False, True):
            spec = SweepSpec(
                name=f"share-{share}", engine=engine_spec, benchmarks=(args.benchmark,),
                budgets=parse_budget_list(args.budgets), solution_budget=parse_budget(args.solution_budget),
                samples=args.samples, sampling=Sampling(temperature=args.temperature), limit=args.limit,
                share_thinking=share, data_dir=args.data_dir, out_root=tmp,
            )
            engine.llm.reset_prefix_cache()
            t0 = time.perf_counter()
            r = run_sweep(spec, console=quiet, engine=engine)
            results[share] = (time.perf_counter() - t0, r.generated_tokens, r.generated)
    engine.close()
    (ws, ts, ns), (wu, tu, nu) = results[True], results[False]
    print(f"sweep: {args.benchmark} x {args.limit} problems x {args.samples} samples, budgets {args.budgets}, "
          f"solution {args.solution_budget}, model {args.model}")
    print(f"from scratch : {wu:8.1f} s  {tu:9d} generated tokens  ({nu} budget points)")
    print(f"shared       : {ws:8.1f} s  {ts:9d} generated tokens  ({ns} budget points)")
    print(f"ratio (from scratch / shared): wall time {wu / ws:.2f}x, generated tokens {tu / ts:.2f}x")


if __name__ == "__main__":
    main()
