"""CLI commands `evalkit offload-sim` (run two models with offload policies, or re-simulate a run's latency from
its files) and `evalkit calibrate` (measure a cost profile on your own engine). Registered by cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from evalkit.errors import EvalkitError
from evalkit.sandbox_cli import allow_unsandboxed_option, print_unsandboxed_note

console = Console(stderr=True)
out = Console()


def offload_sim(
    small: str = typer.Option("smollm2-demo", "--small", help="Small model: hub id, local path or smollm2-demo."),
    big: str = typer.Option("smollm2-demo", "--big", help="Big model (same tokenizer as --small)."),
    from_run: Optional[Path] = typer.Option(None, "--from-run", help="Re-simulate latency of an offload run from its files (no model)."),
    profile: List[str] = typer.Option([], "--profile", help="Cost profile: splitreason-a6000 or a JSON file from `evalkit calibrate`; repeat to merge."),
    small_cost: Optional[str] = typer.Option(None, "--small-cost", help="Profile entry for the small model (splitreason-a6000: 1.5B)."),
    big_cost: Optional[str] = typer.Option(None, "--big-cost", help="Profile entry for the big model (splitreason-a6000: 32B)."),
    benchmarks: str = typer.Option("arith", "--benchmarks", "-b", help="Comma-separated benchmark names."),
    policies: str = typer.Option("none,learned,random,big", "--policies", help="Offload policies: none, learned, random, "
                                 "step (whole reasoning steps, split at blank lines), big."),
    ratios: str = typer.Option("0.1,0.25,0.5", "--ratios", help="random and step policies: shares of big-model tokens asked for."),
    exact_ratio: bool = typer.Option(False, "--exact-ratio", help="random and step: lay spans out by a running deficit so the "
                                     "measured big-model share matches each ratio (labels random-exact-R, step-exact-R)."),
    small_params: Optional[str] = typer.Option(None, "--small-params", help="Small model's parameters for the cost column "
                                               "(e.g. 1.5B; default: counted from its safetensors)."),
    big_params: Optional[str] = typer.Option(None, "--big-params", help="Big model's parameters for the cost column (e.g. 32B)."),
    span: int = typer.Option(32, "--span", help="Random policy: tokens per span drawn for the big model."),
    span_cap: int = typer.Option(512, "--span-cap", help="Learned policy: most tokens the big model writes per span."),
    open_tag: str = typer.Option("<bigmodel>", "--open-tag", help="Learned policy: the small model hands over after this."),
    close_tag: str = typer.Option("</bigmodel>", "--close-tag", help="Learned policy: the big model hands back after this."),
    thinking_budget: str = typer.Option("1k", "--thinking-budget", help="Thinking tokens before </think> is forced."),
    solution_budget: str = typer.Option("256", "--solution-budget", help="Solution tokens after </think>."),
    samples: int = typer.Option(1, "--samples", "-n", help="Samples per problem."),
    temperature: float = typer.Option(0.6, help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass."),
    seed: int = typer.Option(0, help="Base seed; every sample, policy and span derives its own."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N problems of each benchmark."),
    prompt: List[str] = typer.Option([], "--prompt", help="Prompt template with {problem}; 'bench=TEMPLATE' for one benchmark."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EVALKIT_DATA_DIR", help="Folder with local benchmark files."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name; default offload_<small>_<big>_<benchmarks>. Same name = resume."),
    out_root: Optional[str] = typer.Option(None, "--out", help="Root folder for run directories (default results); with --from-run, a folder for the re-simulated summary and plots (default: the run)."),
    engine: str = typer.Option("vllm", "--engine", help="Engine: vllm (in-process), openai (servers), hf (transformers)."),
    endpoint: str = typer.Option("", "--endpoint", help="openai engine: small model's server URL(s), comma-separated."),
    big_endpoint: str = typer.Option("", "--big-endpoint", help="openai engine: big model's server URL(s) (default: --endpoint)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="Context limit for both models."),
    gpu_memory_utilization: Optional[float] = typer.Option(None, "--gpu-memory-utilization", help="vLLM memory share per model (two models: 0.45 each)."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", "--tp", help="vLLM tensor parallel size."),
    max_inflight: Optional[int] = typer.Option(None, "--max-inflight", help="Requests in flight at most, both models together (default: what the engines can schedule)."),
    grade_workers: Optional[int] = typer.Option(None, "--grade-workers", help="Grading processes beside generation (default: the CPUs the engines leave free)."),
    grade_timeout: float = typer.Option(10.0, "--grade-timeout", help="Seconds per math answer before it counts as timeout."),
    arith_difficulty: int = typer.Option(1, "--arith-difficulty", min=1, max=5, help="Built-in arith benchmark: 1 (easy) to 5."),
    arith_count: int = typer.Option(50, "--arith-count", min=1, help="Built-in arith benchmark: number of problems."),
    arith_seed: int = typer.Option(0, "--arith-seed", help="Built-in arith benchmark: generator seed."),
    allow_unsandboxed: bool = allow_unsandboxed_option(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Stream the engines' own log here instead of <run>/engine.log."),
) -> None:
    """Offload (SplitReason): small model reasons, big model takes spans; accuracy vs offload and latency.

    Example: evalkit offload-sim --small smollm2-demo --big smollm2-demo --benchmarks arith --limit 20
    --policies none,random,big --ratios 0.25,0.5 --thinking-budget 64 --solution-budget 32 --temperature 0

    Re-simulate: evalkit offload-sim --from-run results/NAME --profile my-profile.json
    """
    if from_run is not None:
        _resimulate(from_run, profile, small_cost, big_cost, Path(out_root) if out_root else None, small_params, big_params)
        return
    from evalkit.cli_app import parse_prompts, slug, split_list
    from evalkit.config import EngineSpec, parse_budget
    from evalkit.offload_run import OffloadSpec, run_offload_sweep
    from evalkit.reasoning.offload import parse_policies
    from evalkit.sim.params import parse_params
    from evalkit.types import Sampling

    bench_names = split_list(benchmarks)

    def engine_spec(model: str, endpoints: str) -> EngineSpec:
        return EngineSpec(kind=engine, model=model, max_model_len=max_model_len,
                          gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size,
                          endpoints=split_list(endpoints))

    spec = OffloadSpec(
        name=name or f"offload_{slug(small)}_{slug(big)}_{'-'.join(bench_names) or 'none'}",
        engine=engine_spec(small, endpoint), big=engine_spec(big, big_endpoint or endpoint), benchmarks=bench_names,
        policies=tuple(p.label for p in parse_policies(policies, ratios, exact_ratio)),
        thinking_budget=parse_budget(thinking_budget), solution_budget=parse_budget(solution_budget),
        span=span, span_cap=span_cap, open_tag=open_tag, close_tag=close_tag, samples=samples,
        sampling=Sampling(temperature=temperature, top_p=top_p), seed=seed, limit=limit, prompts=parse_prompts(prompt),
        data_dir=data_dir, benchmark_options={"difficulty": arith_difficulty, "count": arith_count, "seed": arith_seed},
        max_inflight=max_inflight, grade_timeout=grade_timeout, grade_workers=grade_workers, out_root=out_root or "results",
        profiles=tuple(profile) or ("splitreason-a6000",), small_cost=small_cost, big_cost=big_cost,
        small_params=parse_params(small_params, "--small-params") if small_params else None,
        big_params=parse_params(big_params, "--big-params") if big_params else None,
    )
    result = run_offload_sweep(spec, console, allow_unsandboxed=allow_unsandboxed,
                               engine_log=None if verbose else (out,))
    print_offload_summary(result.run_dir / "offload_summary.csv", result.run_dir.name)
    print_unsandboxed_note(result.run_dir, out)
    out.print(
        f"[green]done[/]: {result.generated} new generations, {result.graded} graded, {result.engine_calls} engine "
        f"calls, {result.wall_seconds:.1f}s -> {result.run_dir}/ (offload_summary.csv, summary.csv, plots/)"
    )


def _resimulate(run: Path, profiles: list[str], small_cost: str | None, big_cost: str | None, target: Path | None,
                small_params: str | None = None, big_params: str | None = None) -> None:
    from evalkit.offload_run import OffloadSpec
    from evalkit.offload_summary import OFFLOAD_SUMMARY, write_offload_outputs
    from evalkit.sim.profile import merge_profiles, pick_costs
    from evalkit.sim.params import parse_params
    from evalkit.sim.profiles import load_profile
    from evalkit.store import RunStore

    store = RunStore(run)
    spec = OffloadSpec.from_json(store.read_run()["spec"])
    refs = list(profiles) or list(spec.profiles)
    costs = pick_costs(merge_profiles([load_profile(p) for p in refs]), small_cost or (None if profiles else spec.small_cost),
                       big_cost or (None if profiles else spec.big_cost), spec.engine.model, spec.big.model)
    params = (parse_params(small_params, "--small-params") if small_params else spec.small_params,
              parse_params(big_params, "--big-params") if big_params else spec.big_params)
    rows, plots = write_offload_outputs(store, costs, target, params)
    if not rows:
        raise EvalkitError(f"{run} has no graded offload generations yet: run `evalkit grade {run}` or resume the run first")
    where = target or run
    print_offload_summary(where / OFFLOAD_SUMMARY, run.name)
    for p in plots:
        out.print(str(p))


def print_offload_summary(path: Path, title: str) -> None:
    from evalkit.offload_summary import read_offload_summary

    if not path.exists():
        return
    rows = read_offload_summary(path)
    if not rows:
        return
    r0 = rows[0]
    benches = sorted({r["benchmark"] for r in rows})
    t = Table(title=f"{title} ({', '.join(benches)}, {r0['samples']} samples per policy): 95 % CI; latency simulated with "
                    f"{r0['profile']}, {r0['small_cost']} small / {r0['big_cost']} big; pipelined speedup vs big only, slowdown vs small only",
              box=box.SIMPLE_HEAD)
    # Under 120 columns the table keeps what fits 80; wider terminals add hand-offs per sample and the average
    # parameters per generated token (R2R's cost). Everything is in offload_summary.csv.
    wide = out.width >= 120
    cols = ("policy", "pass@1 [CI]", "big%", *(("hand-offs", "B/tok") if wide else ()), "tok", "seq s", "pipe s",
            "vs big", "/small")
    for col in cols:
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    for r in rows:
        accounting = (f"{float(r.get('mean_handoffs') or 'nan'):.2f}", f"{float(r.get('avg_params_b') or 'nan'):.3g}")
        t.add_row(
            (f"{r['benchmark']}/" if len(benches) > 1 else "") + r["policy"],
            f"{100 * float(r['pass1']):.1f} [{100 * float(r['pass1_low']):.0f},{100 * float(r['pass1_high']):.0f}]",
            f"{100 * float(r['offload_ratio']):.1f}", *(accounting if wide else ()), f"{float(r['mean_total_tokens']):.0f}",
            f"{float(r['latency_seq_s']):.3g}", f"{float(r['latency_pipe_s']):.3g}",
            f"{float(r['speedup_vs_big_pipe']):.2f}x", f"{float(r['slowdown_vs_small_pipe']):.2f}x",
        )
    out.print(t)


def calibrate_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Hub id, local path or smollm2-demo."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Profile JSON to write (default results/profiles/<model>.json)."),
    prompt_tokens: int = typer.Option(1024, "--prompt-tokens", help="Prompt length for the prefill measurement."),
    decode_tokens: int = typer.Option(128, "--decode-tokens", help="Tokens generated per decode measurement."),
    context_tokens: int = typer.Option(4096, "--context-tokens", help="Context for the decode-slowdown measurement."),
    repeats: int = typer.Option(3, "--repeats", help="Measurements per figure (the median is kept)."),
    engine: str = typer.Option("vllm", "--engine", help="Engine: vllm (in-process)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="Context limit (default: the model's)."),
    gpu_memory_utilization: Optional[float] = typer.Option(None, "--gpu-memory-utilization", help="vLLM memory share."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", "--tp", help="vLLM tensor parallel size."),
) -> None:
    """Measure a model's prefill and decode speed here and write a cost profile (JSON) for offload-sim.

    Example: evalkit calibrate --model smollm2-demo --prompt-tokens 512 --context-tokens 1024 --out demo.json
    """
    from evalkit.cli_app import slug
    from evalkit.config import EngineSpec
    from evalkit.engines.factory import build_engine
    from evalkit.sim.calibrate import CalibrationPlan, calibrate, profile_for

    plan = CalibrationPlan(prompt_tokens, decode_tokens, context_tokens, repeats)
    target = out_file or Path("results") / "profiles" / f"{slug(model)}.json"
    eng = build_engine(EngineSpec(kind=engine, model=model, max_model_len=max_model_len,
                                  gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size))
    try:
        cost, measurements = calibrate(eng, plan, log=lambda m: console.print(f"[cyan]{m}[/]"))
        prof = profile_for(model, cost, measurements, eng.identity())
    finally:
        eng.close()
    prof.save(target)
    out.print(
        f"[green]{model}[/]: prefill {cost.prefill_tps:,.0f} tok/s, decode {cost.decode_tps:,.1f} tok/s, "
        f"decode slowdown {cost.decode_slowdown_per_1k:.3f} per 1k context, {1000 * cost.request_overhead_s:.0f} ms "
        f"per request -> {target}"
    )


def register(app: typer.Typer) -> None:
    app.command("offload-sim")(offload_sim)
    app.command("calibrate")(calibrate_cmd)
