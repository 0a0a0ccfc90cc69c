"""Throughput of evalkit's streaming sweep against the Elastic Reasoning procedure and against the limit.

    python bench/throughput.py [--model smollm2-demo] [--count 256] [--budgets 32,64,128] [--solution-budget 32]

One process, one vLLM engine, the same problems (`arith`, --count of them), sampled (T=0.6, top-p 0.95):

  (a) evalkit   `run_sweep`: shared thinking, streaming runner, grading in the background, rows on disk.
  (b) ER        the Elastic Reasoning procedure in bare vLLM: every budget from scratch, all prompts of a budget in
                one `LLM.generate` per phase (phase 1 stops at `</think>`, which is appended if the budget ran out;
                phase 2 gets s tokens). No grading, nothing written.
  (c) limit     bare vLLM given exactly the requests evalkit sent in (a), all at once: every thinking request in
                one `LLM.generate`, then every solution request in one. No grading, nothing written.

The prefix cache is reset before each. Prints wall time and generated tokens of each, then the goals of the
runner: (a) <= 1.05 x (c) in wall time, and (a)/(b) in wall time no more than 0.02 above (a)/(b) in tokens (the
runner costs nothing beyond the tokens sharing saves).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-demo")
    ap.add_argument("--count", type=int, default=256, help="arith problems (problem x sample groups)")
    ap.add_argument("--difficulty", type=int, default=3)
    ap.add_argument("--budgets", default="32,64,128")
    ap.add_argument("--solution-budget", default="32")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--max-model-len", type=int, default=2048)
    args = ap.parse_args()

    from rich.console import Console
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from evalkit.benchmarks import get_benchmark, load_problems
    from evalkit.config import EngineSpec, SweepSpec, budget_label, parse_budget, parse_budget_list
    from evalkit.engines.vllm import VLLMEngine
    from evalkit.reasoning.jobs import derive_seed
    from evalkit.sweep import run_sweep
    from evalkit.types import Sampling

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    budgets = parse_budget_list(args.budgets)
    s = parse_budget(args.solution_budget)
    sampling = Sampling(temperature=args.temperature)
    options = {"difficulty": args.difficulty, "count": args.count, "seed": 0}
    engine_spec = EngineSpec(model=args.model, max_model_len=args.max_model_len)
    engine = VLLMEngine(engine_spec)
    llm, tok = engine.llm, engine.tokenizer

    # (a) evalkit, recording every request it sends.
    sent = []
    submit = engine.submit

    def recording_submit(req):
        sent.append(req)
        return submit(req)

    engine.submit = recording_submit  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        spec = SweepSpec(name="a", engine=engine_spec, benchmarks=("arith",), budgets=budgets, solution_budget=s,
                         sampling=sampling, benchmark_options=options, out_root=tmp)
        llm.reset_prefix_cache()
        t0 = time.perf_counter()
        result = run_sweep(spec, console=Console(stderr=True, quiet=True), engine=engine)
        wall_a = time.perf_counter() - t0
    engine.submit = submit  # type: ignore[method-assign]
    tokens_a = result.generated_tokens
    timing = result.timing or {}

    def params(max_tokens: int, seed: int, stop_ids=()) -> SamplingParams:
        return SamplingParams(max_tokens=max_tokens, temperature=sampling.temperature, top_p=sampling.top_p, seed=seed,
                              stop_token_ids=list(stop_ids) or None, include_stop_str_in_output=True,
                              skip_special_tokens=False)

    def run(prompts: list[tuple[int, ...]], ps: list[SamplingParams]) -> list[tuple[int, ...]]:
        outs = llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], ps, use_tqdm=False)
        return [tuple(o.outputs[0].token_ids) for o in outs]

    # (b) Elastic Reasoning: every budget from scratch, one call per phase with every prompt.
    problems, _ = load_problems("arith", None, None, None, options)
    system = get_benchmark("arith").system_prompt
    prompts = [tuple(tok.chat_prompt_ids(p.prompt, system)) for p in problems]
    close = tok.close_ids
    llm.reset_prefix_cache()
    t0 = time.perf_counter()
    tokens_b = 0
    for t in budgets:
        seeds = [derive_seed(0, p.benchmark, p.id, 0, "thinking") for p in problems]
        thinking = run(prompts, [params(t, sd, close) for sd in seeds])
        tokens_b += sum(len(x) for x in thinking)
        ctx = [p + th + (() if th[-len(close):] == close else close) for p, th in zip(prompts, thinking)]
        answers = run(ctx, [params(s, derive_seed(0, p.benchmark, p.id, 0, budget_label(t), "solution")) for p in problems])
        tokens_b += sum(len(x) for x in answers)
    wall_b = time.perf_counter() - t0

    # (c) the limit: evalkit's own requests, every thinking request at once, then every solution request at once.
    think_reqs = [r for r in sent if r.stop_ids or r.stop_strings]
    sol_reqs = [r for r in sent if not (r.stop_ids or r.stop_strings)]
    llm.reset_prefix_cache()
    t0 = time.perf_counter()
    tokens_c = 0
    for group in (think_reqs, sol_reqs):
        outs = run([r.prompt_ids for r in group], [params(r.max_tokens, r.seed, r.stop_ids) for r in group])
        tokens_c += sum(len(o) for o in outs)
    wall_c = time.perf_counter() - t0
    engine.close()

    print(f"arith x {args.count} problems (difficulty {args.difficulty}), budgets {args.budgets}, solution {s}, "
          f"T={args.temperature}, model {args.model}")
    print(f"(a) evalkit sweep      : {wall_a:7.1f} s  {tokens_a:8d} tokens  ({result.generated} rows, graded)")
    print(f"(b) Elastic Reasoning  : {wall_b:7.1f} s  {tokens_b:8d} tokens  (bare vLLM, from scratch per budget)")
    print(f"(c) limit              : {wall_c:7.1f} s  {tokens_c:8d} tokens  (bare vLLM, evalkit's {len(sent)} requests)")
    if timing:
        print(f"    evalkit timing: generate {timing['generate_s']:.1f} s, engine busy {timing['engine_busy_s']:.1f} s, "
              f"idle {timing['engine_idle_s']:.1f} s, grading {timing['grading_s']:.1f} s, "
              f"grading tail {timing['grading_tail_s']:.1f} s")
    print(f"(a)/(c) wall time: {wall_a / wall_c:.3f}   (goal <= 1.05)")
    print(f"(a)/(b) wall time: {wall_a / wall_b:.3f}   (a)/(b) tokens: {tokens_a / tokens_b:.3f}   "
          f"difference {wall_a / wall_b - tokens_a / tokens_b:+.3f} (goal <= +0.02)")


if __name__ == "__main__":
    main()
