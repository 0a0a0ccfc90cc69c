"""Tokens/s of one sweep through each engine, side by side, and evalkit's overhead over bare `vllm.LLM.generate`.

    python bench/engines.py                       # demo model, 16 arith problems, budgets 32,64,128, solution 32
    python bench/engines.py --limit 32 --engines vllm,openai

The same greedy sweep (fresh run directory each time, prefix cache reset before each measured pass) runs through:
  vllm    in-process vLLM (evalkit's VLLMEngine)
  bare    the exact requests evalkit sent, replayed through the same `vllm.LLM.generate` (one call per phase)
  openai  a local `vllm.entrypoints.openai.api_server` on the same model, through evalkit's openai engine
  hf      transformers, evalkit's batched decode loop
and prints generated tokens/s for each, the overhead of evalkit's sweep over the bare replay (inside the engine
calls, and for the whole sweep including planning, grading and file writes), and how many generations agree
with the in-process engine token for token.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from evalkit.config import EngineSpec, SweepSpec, parse_budget_list
from evalkit.store import RunStore
from evalkit.sweep import run_sweep
from evalkit.types import GenRequest, GenResult, Sampling

console = Console(stderr=True)


class Timed:
    """Wraps an engine: records every batch of requests and the seconds spent inside `generate`."""

    def __init__(self, engine) -> None:
        self.engine, self.calls, self.seconds = engine, [], 0.0
        self.tokenizer, self.max_model_len, self.name = engine.tokenizer, engine.max_model_len, engine.name

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        t0 = time.perf_counter()
        out = self.engine.generate(requests)
        self.seconds += time.perf_counter() - t0
        self.calls.append(list(requests))
        return out

    def identity(self):
        return self.engine.identity()

    def close(self) -> None:
        pass


def sweep_once(spec: SweepSpec, engine, tag: str) -> dict:
    timed = Timed(engine)
    run = replace(spec, name=f"{spec.name}-{tag}")
    shutil.rmtree(run.run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    res = run_sweep(run, Console(stderr=True, quiet=True), engine=timed)
    wall = time.perf_counter() - t0
    gens = {g.key: (g.thinking_text, g.solution_text) for g in RunStore(run.run_dir).generations()}
    return {"tokens": res.generated_tokens, "engine_s": timed.seconds, "wall_s": wall, "calls": timed.calls, "gens": gens}


def bare_replay(llm, calls: list[list[GenRequest]], eos_ids: frozenset[int]) -> dict:
    """The same requests, phase by phase, straight into vllm.LLM.generate. Tokens are counted as evalkit counts
    them: a final EOS is not a generated token."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    tokens, seconds = 0, 0.0
    for reqs in calls:
        prompts = [TokensPrompt(prompt_token_ids=list(r.prompt_ids)) for r in reqs]
        params = [SamplingParams(max_tokens=max(1, r.max_tokens), temperature=0.0, seed=r.seed,
                                 stop=list(r.stop_strings) or None, stop_token_ids=list(r.stop_ids) or None,
                                 include_stop_str_in_output=True, skip_special_tokens=False) for r in reqs]
        t0 = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        seconds += time.perf_counter() - t0
        for o in outs:
            ids = o.outputs[0].token_ids
            tokens += len(ids) - (1 if ids and o.outputs[0].stop_reason is None and ids[-1] in eos_ids else 0)
    return {"tokens": tokens, "engine_s": seconds}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: str, max_model_len: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # Dev mode exposes POST /reset_prefix_cache, so the measured pass starts as cold as the in-process one.
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), VLLM_SERVER_DEV_MODE="1")
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--host", "127.0.0.1",
           "--port", str(port), "--max-model-len", str(max_model_len), "--seed", "0"]
    if not _cuda():
        cmd += ["--enforce-eager", "--no-enable-chunked-prefill"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except Exception:
            time.sleep(1)
    raise SystemExit(f"server not healthy after 600 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-demo")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--budgets", default="32,64,128")
    ap.add_argument("--solution-budget", type=int, default=32)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--engines", default="vllm,openai,hf")
    ap.add_argument("--hf-batch", type=int, default=16)
    ap.add_argument("--hf-threads", type=int, default=None, help="torch threads for hf (default: torch's choice)")
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    root = Path(tempfile.mkdtemp(prefix="evalkit-bench-engines-"))
    base = SweepSpec(
        name="bench", engine=EngineSpec(kind="vllm", model=args.model, max_model_len=args.max_model_len),
        benchmarks=("arith",), budgets=parse_budget_list(args.budgets), solution_budget=args.solution_budget,
        sampling=Sampling(temperature=0.0, top_p=1.0), limit=args.limit,
        benchmark_options={"difficulty": 1, "count": max(50, args.limit), "seed": 0}, out_root=str(root), grade_workers=1,
    )
    rows: list[tuple[str, dict]] = []
    ref_gens = None
    from evalkit.engines.models import resolve_model

    model_dir = resolve_model(args.model)
    if "vllm" in engines:
        from evalkit.engines.vllm import VLLMEngine

        eng = VLLMEngine(base.engine)
        try:
            sweep_once(base, eng, "warmup")  # compile/warm paths; not measured
            eng.llm.reset_prefix_cache()
            r = sweep_once(base, eng, "vllm")
            ref_gens = r["gens"]
            eng.llm.reset_prefix_cache()
            bare = bare_replay(eng.llm, r["calls"], eng.tokenizer.eos_ids)
            rows += [("vllm in-process (evalkit)", r), ("bare vllm.LLM.generate", bare)]
        finally:
            eng.close()
    if "openai" in engines:
        from evalkit.engines.openai import OpenAIEngine

        proc, url = start_server(model_dir, args.max_model_len, root / "server.log")
        try:
            spec = replace(base, engine=EngineSpec(kind="openai", model=args.model, endpoints=(url,)))
            eng = OpenAIEngine(spec.engine, log=lambda m: console.print(m))
            sweep_once(spec, eng, "warmup-srv")
            urllib.request.urlopen(urllib.request.Request(url + "/reset_prefix_cache", method="POST"), timeout=30).read()
            r = sweep_once(spec, eng, "openai")
            rows.append(("vllm server (evalkit openai)", r))
        finally:
            stop_server(proc)
    if "hf" in engines:
        import torch

        from evalkit.engines.hf import HFEngine

        if args.hf_threads:
            torch.set_num_threads(args.hf_threads)

        spec = replace(base, engine=EngineSpec(kind="hf", model=args.model, max_model_len=args.max_model_len,
                                               concurrency=args.hf_batch))
        eng = HFEngine(spec.engine)
        try:
            r = sweep_once(spec, eng, "hf")
            rows.append(("transformers (evalkit hf)", r))
        finally:
            eng.close()

    print(f"workload: arith x {args.limit} problems, budgets {args.budgets}, solution {args.solution_budget}, greedy, "
          f"model {args.model}; tokens/s = generated tokens / seconds inside engine calls")
    print(f"{'engine':32} {'tokens':>7} {'engine s':>9} {'tok/s':>8} {'sweep s':>8} {'same as vllm':>13}")
    for label, r in rows:
        same = ""
        if ref_gens is not None and "gens" in r:
            agree = sum(r["gens"].get(k) == v for k, v in ref_gens.items())
            same = f"{agree}/{len(ref_gens)}"
        sweep_s = f"{r['wall_s']:.2f}" if "wall_s" in r else "-"
        print(f"{label:32} {r['tokens']:7d} {r['engine_s']:9.2f} {r['tokens'] / max(r['engine_s'], 1e-9):8.1f} {sweep_s:>8} {same:>13}")
    by = dict(rows)
    if "bare vllm.LLM.generate" in by:
        ev, bare = by["vllm in-process (evalkit)"], by["bare vllm.LLM.generate"]
        print(f"evalkit overhead over bare LLM.generate: engine calls {ev['engine_s'] / bare['engine_s']:.3f}x, "
              f"whole sweep incl. planning/grading/files {ev['wall_s'] / bare['engine_s']:.3f}x "
              f"(same tokens: {ev['tokens'] == bare['tokens']})")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
