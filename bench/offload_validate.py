"""Check the offload latency simulator against wall time on this machine, with a real same-tokenizer model pair.

Qwen2.5-Coder-0.5B-Instruct (small) and -1.5B-Instruct (big), fetched and converted once by bench_models.py
(bench-only, never a dependency). Both load into in-process vLLM; `evalkit calibrate`'s code measures each one's
cost profile; then `offload-sim`'s code runs the policies on a few real problems with one request in flight at a
time (the simulator's sequential deployment), timing every request. Each sample's measured wall time (first
request sent to last result back) is compared with the sequential latency the simulator predicts for the same
segments from the calibrated profiles.

    python bench/offload_validate.py [--problems 4] [--benchmark math500] [--data-dir ../shared/data]

Prints per sample: measured vs simulated seconds and the relative error, then the median absolute error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_models import model_pair  # noqa: E402

from evalkit.config import EngineSpec  # noqa: E402
from evalkit.engines.factory import build_engine  # noqa: E402
from evalkit.offload_run import OffloadSpec, run_offload_sweep  # noqa: E402
from evalkit.offload_summary import read_generation_rows  # noqa: E402
from evalkit.reasoning.offload import parse_policies  # noqa: E402
from evalkit.sim.calibrate import CalibrationPlan, calibrate, profile_for  # noqa: E402
from evalkit.sim.latency import SegmentTable, simulate  # noqa: E402
from evalkit.sim.profile import merge_profiles, pick_costs  # noqa: E402
from evalkit.sim.profiles import load_profile  # noqa: E402
from evalkit.store import RunStore  # noqa: E402
from evalkit.types import Sampling  # noqa: E402


class Timing:
    """Records every request's wall time on the engine objects themselves (the runner streams through them).

    Before the first request of each sample both prefix caches are emptied (untimed): the policies of one problem
    share its prompt, and the simulator prices each sample as if its prompt were new."""

    def __init__(self, engines: dict[str, Any]) -> None:
        self.engines = engines
        self.log: list[dict] = []
        self.last: tuple[int, ...] = ()
        for role, eng in engines.items():
            eng.agenerate = self._timed(role, eng.agenerate)

    def _timed(self, role: str, inner: Any) -> Any:
        async def agenerate(requests):
            (req,) = requests  # one request in flight: the runner sends them one by one
            prompt = tuple(req.prompt_ids)
            if prompt[: len(self.last)] != self.last:  # not a continuation: a new sample starts
                for eng in self.engines.values():
                    if not eng.llm.reset_prefix_cache():
                        raise SystemExit("vLLM refused to reset its prefix cache")
            t0 = time.perf_counter()
            out = await inner(requests)
            t1 = time.perf_counter()
            self.last = prompt
            self.log.append({"role": role, "t0": t0, "t1": t1, "prompt": len(prompt), "tokens": len(out[0].token_ids)})
            return out

        return agenerate


def per_sample(rows: list[dict], log: list[dict]) -> list[float]:
    """Wall seconds per generation row. With one request in flight the runner runs one controller at a time, so
    the request log splits into consecutive runs of each row's `engine_calls`, in the order rows were written."""
    walls, i = [], 0
    for r in rows:
        n = int(r["extra"]["engine_calls"])
        reqs = log[i : i + n]
        if len(reqs) != n or reqs[0]["prompt"] != r["extra"]["prompt_tokens"]:
            raise SystemExit("request log does not line up with generations.jsonl (was the run resumed?)")
        walls.append(reqs[-1]["t1"] - reqs[0]["t0"])
        i += n
    if i != len(log):
        raise SystemExit(f"{len(log) - i} requests were not attributed to a sample")
    return walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="math500")
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--policies", default="none,random,big")
    ap.add_argument("--ratios", default="0.25,0.5")
    ap.add_argument("--span", type=int, default=16)
    ap.add_argument("--thinking-budget", type=int, default=96)
    ap.add_argument("--solution-budget", type=int, default=32)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--out", default="results/offload-validate")
    ap.add_argument("--json", type=Path, help="also write the per-sample table here")
    args = ap.parse_args()

    small_path, big_path = model_pair()
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    plan = CalibrationPlan(prompt_tokens=512, decode_tokens=64, context_tokens=1024, repeats=3)
    engines, profiles = [], []
    try:
        for path in (small_path, big_path):
            t0 = time.perf_counter()
            eng = build_engine(EngineSpec(kind="vllm", model=str(path), max_model_len=args.max_model_len))
            engines.append(eng)
            print(f"loaded {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        # Calibrated with both engines loaded, as they are during the run.
        for eng, path in zip(engines, (small_path, big_path)):
            cost, meas = calibrate(eng, plan)
            prof = profile_for(str(path), cost, meas, eng.identity())
            target = out / "profiles" / f"{path.name}.json"
            prof.save(target)
            profiles.append(str(target))
            print(f"calibrated {path.name}: prefill {cost.prefill_tps:,.0f} tok/s, decode {cost.decode_tps:.1f} tok/s, "
                  f"slowdown {cost.decode_slowdown_per_1k:.3f}/1k, request overhead "
                  f"{1000 * cost.request_overhead_s:.0f} ms, prefix cache block {cost.prefix_block_tokens}", flush=True)
        timing = Timing({"small": engines[0], "big": engines[1]})
        log = timing.log
        spec = OffloadSpec(
            name="run", engine=EngineSpec(kind="vllm", model=str(small_path), max_model_len=args.max_model_len),
            big=EngineSpec(kind="vllm", model=str(big_path), max_model_len=args.max_model_len),
            benchmarks=(args.benchmark,), policies=tuple(p.label for p in parse_policies(args.policies, args.ratios)),
            thinking_budget=args.thinking_budget, solution_budget=args.solution_budget, span=args.span,
            sampling=Sampling(temperature=0.6, top_p=0.95), limit=args.problems, data_dir=args.data_dir,
            max_inflight=1, grade_workers=1, out_root=str(out), profiles=tuple(profiles),
        )
        t0 = time.perf_counter()
        run_offload_sweep(spec, engines=(engines[0], engines[1]))
        print(f"offload run: {time.perf_counter() - t0:.0f} s, {len(log)} requests", flush=True)
    finally:
        for eng in engines:
            eng.close()

    (out / "requests.json").write_text(json.dumps(log))  # for looking into the cost model offline
    rows = read_generation_rows(RunStore(spec.run_dir))
    measured = per_sample(rows, log)
    costs = pick_costs(merge_profiles([load_profile(p) for p in profiles]), None, None, spec.engine.model, spec.big.model)
    seg_table = SegmentTable.from_rows(rows)
    seq, _ = simulate(seg_table, costs)
    # The same profiles without request overhead and prefix cache blocks (empty requests still counted).
    plain = {"request_overhead_s": 0.0, "prefix_block_tokens": 1}
    seq0, _ = simulate(seg_table, replace(costs, small=replace(costs.small, **plain), big=replace(costs.big, **plain)))
    table = []
    print(f"\n{'problem':<24} {'policy':<12} {'small':>5} {'big':>4} {'segs':>4} {'meas s':>7} {'sim s':>7} {'err':>7}"
          f" {'old':>7}")
    for r, m, s, s0 in zip(rows, measured, seq, seq0):
        e = r["extra"]
        table.append({"problem": r["problem_id"], "policy": r["budget"], "small_tokens": e["small_tokens"],
                      "big_tokens": e["big_tokens"], "segments": len(r["segments"]), "calls": e["engine_calls"],
                      "measured_s": m, "simulated_s": float(s), "rel_error": (s - m) / m,
                      "rel_error_old_model": (s0 - m) / m})
        print(f"{r['problem_id'][:24]:<24} {r['budget']:<12} {e['small_tokens']:>5} {e['big_tokens']:>4} "
              f"{len(r['segments']):>4} {m:>7.2f} {s:>7.2f} {100 * (s - m) / m:>+6.1f}% {100 * (s0 - m) / m:>+6.1f}%")
    errs = [abs(t["rel_error"]) for t in table]
    errs0 = [abs(t["rel_error_old_model"]) for t in table]
    print(f"\n{len(table)} samples: median |error| {100 * statistics.median(errs):.1f} % (old cost model "
          f"{100 * statistics.median(errs0):.1f} %), mean signed error {100 * statistics.mean(t['rel_error'] for t in table):+.1f} %, "
          f"max |error| {100 * max(errs):.1f} % (run and profiles in {out})")
    if args.json:
        args.json.write_text(json.dumps({"samples": table, "median_abs_error": statistics.median(errs)}, indent=1))


if __name__ == "__main__":
    main()
