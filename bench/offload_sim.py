"""Time the latency simulator on 100,000 recorded offload samples (generations.jsonl rows with segments).

Prints samples/s for: reading the rows from disk (as parsed JSON, the path `offload-sim --from-run` takes, and as
Generation objects for comparison), building the segment table, the vectorised simulation (both deployments),
and the plain per-sample reference loop on the same samples, with the vectorised/plain ratio measured side by
side in this run. No model, no GPU.

    python bench/offload_sim.py [--samples 100000] [--loop-samples 20000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit.sim.latency import SegmentTable, simulate, simulate_sample
from evalkit.sim.profile import pick_costs
from evalkit.sim.profiles import SPLITREASON_A6000
from evalkit.offload_summary import read_generation_rows
from evalkit.store import RunStore
from evalkit.types import Generation, Segment


def synthetic(n: int, seed: int = 0) -> list[Generation]:
    """Random-policy-like samples: ~1,000 thinking tokens in 32-token spans, 25 % to the big model, a solution."""
    rng = random.Random(seed)
    gens = []
    for i in range(n):
        prompt = rng.randint(60, 400)
        thinking = rng.randint(200, 2000)
        solution = rng.randint(20, 200)
        segs: list[Segment] = []
        for phase_start, length, ctx0 in ((0, thinking, prompt), (thinking, solution, prompt + thinking + 3)):
            pos = 0
            while pos < length:
                n_tok = min(32, length - pos)
                role = "big" if rng.random() < 0.25 else "small"
                last = segs[-1] if segs else None
                if last and last.model == role and last.start + last.length == phase_start + pos and last.context + last.length == ctx0 + pos:
                    segs[-1] = Segment(role, last.start, last.length + n_tok, last.context)
                else:
                    segs.append(Segment(role, phase_start + pos, n_tok, ctx0 + pos))
                pos += n_tok
        gens.append(Generation(
            benchmark="arith", problem_id=f"p{i}", sample=0, strategy="offload", budget="random-0.25",
            thinking_budget=2048, solution_budget=256, thinking_tokens=thinking, solution_tokens=solution, forced=False,
            thinking_finish="stop", solution_finish="eos", thinking_text="", solution_text="", seed=i,
            segments=tuple(segs), extra={"prompt_tokens": prompt, "appended_tokens": 3},
        ))
    return gens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--loop-samples", type=int, default=20_000, help="samples for the plain reference loop")
    args = ap.parse_args()
    costs = pick_costs(SPLITREASON_A6000, None, None)
    gens = synthetic(args.samples)
    n_segments = sum(len(g.segments) for g in gens)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp))
        store.open_for_append()
        store.append_generations(gens)
        del gens
        t0 = time.perf_counter()
        rows = read_generation_rows(store)
        t_rows = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = SegmentTable.from_rows(rows)
        t_table = time.perf_counter() - t0
        del rows
        t0 = time.perf_counter()
        loaded = store.generations()
        t_load = time.perf_counter() - t0
    assert len(loaded) == args.samples == table.samples
    t0 = time.perf_counter()
    seq, pipe = simulate(table, costs)
    t_vec = time.perf_counter() - t0

    m = min(args.loop_samples, args.samples)
    t0 = time.perf_counter()
    plain = [simulate_sample(g.extra["prompt_tokens"], g.segments, costs) for g in loaded[:m]]
    t_loop = time.perf_counter() - t0
    np.testing.assert_allclose(seq[:m], [p.sequential for p in plain], rtol=1e-9)
    np.testing.assert_allclose(pipe[:m], [p.pipelined for p in plain], rtol=1e-9)

    n = args.samples
    print(f"{n:,} samples, {n_segments:,} segments ({n_segments / n:.1f} per sample), profile {costs.profile} "
          f"({costs.small_key} small, {costs.big_key} big)")
    print(f"read rows (parsed JSON)     {n / t_rows:12,.0f} samples/s  ({t_rows:.2f} s)")
    print(f"build segment table         {n / t_table:12,.0f} samples/s  ({t_table:.2f} s)")
    print(f"read as Generation objects  {n / t_load:12,.0f} samples/s  ({t_load:.2f} s, not needed to simulate)")
    print(f"simulate, vectorised        {n / t_vec:12,.0f} samples/s  ({t_vec:.3f} s, sequential + pipelined)")
    print(f"simulate, plain loop        {m / t_loop:12,.0f} samples/s  ({t_loop:.2f} s for {m:,} samples)")
    print(f"vectorised / plain          {(n / t_vec) / (m / t_loop):12.1f}x")
    print(f"from file to latencies      {n / (t_rows + t_table + t_vec):12,.0f} samples/s (rows + table + simulate)")
    print(f"mean simulated latency: sequential {seq.mean():.1f} s, pipelined {pipe.mean():.1f} s per sample")


if __name__ == "__main__":
    main()
