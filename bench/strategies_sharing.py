"""Generation shared across budget strategies vs every strategy x budget from scratch, side by side in one run.

Runs elastic, truncate and s1 over the same arith problems and budgets twice on one engine: with sharing (one
thinking pass per problem serves all three strategies and every budget) and without (`--no-share-thinking`:
every strategy x budget from scratch). Prints generated tokens, engine calls and wall time for both, their
ratios, and whether the rows agree (greedy decoding, so they should).

    python bench/strategies_sharing.py [--problems 16] [--budgets 32,64,128] [--solution 32] [--min-thinking 48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from evalkit.benchmarks import load_problems
from evalkit.config import EngineSpec, parse_budget_list
from evalkit.reasoning.budget import BudgetContext
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.strategies import StrategyOptions, run_strategies
from evalkit.types import GenRequest, Sampling

STRATEGIES = ("elastic", "truncate", "s1")


class Counting:
    def __init__(self, engine):
        self.engine, self.calls = engine, 0
        self.tokenizer, self.max_model_len, self.name = engine.tokenizer, engine.max_model_len, engine.name

    async def agenerate(self, requests):
        self.calls += 1
        return await self.engine.agenerate(requests)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-demo")
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--budgets", default="32,64,128")
    ap.add_argument("--solution", type=int, default=32)
    ap.add_argument("--min-thinking", type=int, default=48)
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from evalkit.engines.vllm import VLLMEngine

    engine = VLLMEngine(EngineSpec(model=args.model, max_model_len=2048))
    try:
        budgets = parse_budget_list(args.budgets)
        problems, _ = load_problems("arith", None, limit=args.problems,
                                    options={"difficulty": 3, "count": args.problems, "seed": 0})
        jobs = [Job(p, tuple(engine.tokenizer.chat_prompt_ids(p.prompt)), 0, budgets) for p in problems]
        options = StrategyOptions(min_thinking=args.min_thinking)
        engine.generate([GenRequest(jobs[0].prompt_ids, 8, Sampling(temperature=0.0), 0)])  # warm-up, untimed
        results = {}
        for share in (True, False):
            eng = Counting(engine)
            ctx = BudgetContext(solution_budget=args.solution, sampling=Sampling(temperature=0.0), seed=0, share_thinking=share)
            t0 = time.perf_counter()
            out = asyncio.run(run_strategies(eng, {s: jobs for s in STRATEGIES}, ctx, options))
            results[share] = (out, eng.calls, time.perf_counter() - t0)
        (sh, sh_calls, sh_t), (sc, sc_calls, sc_t) = results[True], results[False]
        view = lambda o: {g.key: (g.thinking_text, g.solution_text, g.forced) for g in o.generations}
        a, b = view(sh), view(sc)
        same = sum(a[k] == b[k] for k in a)
        print(f"{len(jobs)} problems x {len(budgets)} budgets x {len(STRATEGIES)} strategies = {len(a)} rows, "
              f"{args.model}, solution {args.solution}, min-thinking {args.min_thinking}")
        print(f"{'':12}{'tokens':>10}{'calls':>8}{'seconds':>10}")
        print(f"{'shared':12}{sh.generated_tokens:>10}{sh_calls:>8}{sh_t:>10.1f}")
        print(f"{'scratch':12}{sc.generated_tokens:>10}{sc_calls:>8}{sc_t:>10.1f}")
        print(f"scratch/shared: tokens {sc.generated_tokens / sh.generated_tokens:.2f}x, wall {sc_t / sh_t:.2f}x; "
              f"rows identical: {same}/{len(a)}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
