"""`evalkit offload-sim`: run two models with offload policies, or re-simulate a run's latency from its files.
Takes every engine and benchmark option `evalkit sweep` takes, from the same vocabulary (cli/options.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from evalkit.cli.app import console, out
from evalkit.cli.command import takes
from evalkit.cli.options import BENCHMARK, CONFIG_OPTS, ENGINE, RUN_OPTS, SAMPLE
from evalkit.cli.sandbox import print_unsandboxed_note
from evalkit.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.offload_run import OffloadSpec


# Every option of `evalkit offload-sim`: the ENGINE and BENCHMARK groups are `evalkit sweep`'s (a test compares).
OFFLOAD_OPTIONS = (
    "small", "big", "from_run", "profile", "small_cost", "big_cost", *BENCHMARK, "policies", "ratios", "exact_ratio",
    "small_params", "big_params", "span", "span_cap", "open_tag", "close_tag", "thinking_budget", "solution_budget",
    *SAMPLE, *ENGINE, "big_endpoint", *RUN_OPTS, *CONFIG_OPTS, "dry_run",
)


@takes(*OFFLOAD_OPTIONS, defaults={"solution_budget": "256", "out_root": None},
       help={"out_root": "Root folder for run directories (default results); with --from-run, a folder for the "
                         "re-simulated summary and plots (default: the run).",
             "name": "Run name; default offload_<small>_<big>_<benchmarks>. Same name = resume.",
             "endpoint": "openai engine: small model's server URL(s), comma-separated."})
def offload_sim(**o: Any) -> None:
    """Offload (SplitReason): small model reasons, big model takes spans; accuracy vs offload and latency.

    Example: evalkit offload-sim --small smollm2-demo --big smollm2-demo --benchmarks arith --limit 20
    --policies none,random,big --ratios 0.25,0.5 --thinking-budget 64 --solution-budget 32 --temperature 0

    Re-simulate: evalkit offload-sim --from-run results/NAME --profile my-profile.json
    """
    if o["from_run"] is not None:
        _resimulate(o["from_run"], o["profile"], o["small_cost"], o["big_cost"],
                    Path(o["out_root"]) if o["out_root"] else None, o["small_params"], o["big_params"])
        return
    from evalkit.cli.settings import RUN_TOML, settings_toml

    spec = offload_spec(**o)
    if o["dry_run"]:
        from evalkit.dryrun import plan_offload, render

        out.print(f"[bold]plan of evalkit offload-sim[/]: {spec.engine.model} + {spec.big.model}, policies "
                  f"{', '.join(spec.policies)}, thinking {spec.thinking_budget} + solution {spec.solution_budget} "
                  f"tokens, {spec.samples} samples at temperature {spec.sampling.temperature:g}")
        out.print(render(plan_offload(spec, list(o["profile"]) or None), out.width))
        return
    from evalkit.offload_run import run_offload_sweep

    result = run_offload_sweep(spec, console, allow_unsandboxed=o["allow_unsandboxed"],
                               engine_log=None if o["verbose"] else (out,),
                               settings=(RUN_TOML, settings_toml("offload-sim", o, OFFLOAD_OPTIONS)))
    print_offload_summary(result.run_dir / "offload_summary.csv", result.run_dir.name)
    print_unsandboxed_note(result.run_dir, out)
    out.print(
        f"[green]done[/]: {result.generated} new generations, {result.graded} graded, {result.engine_calls} engine "
        f"calls, {result.wall_seconds:.1f}s -> {result.run_dir}/ (offload_summary.csv, summary.csv, plots/)"
    )


def offload_spec(**o: Any) -> "OffloadSpec":
    """The OffloadSpec of `evalkit offload-sim`'s options (text as typed on the command line)."""
    from evalkit.cli.app import parse_prompts, slug, split_list
    from evalkit.cli.sweep import benchmark_options, engine_spec, register_cards
    from evalkit.config import parse_budget
    from evalkit.offload_run import OffloadSpec
    from evalkit.reasoning.offload import parse_policies
    from evalkit.sim.params import parse_params
    from evalkit.types import Sampling

    bench_names = split_list(o["benchmarks"])
    cards = register_cards(o["benchmark_card"])
    small, big = o["small"], o["big"]
    return OffloadSpec(
        name=o["name"] or f"offload_{slug(small)}_{slug(big)}_{'-'.join(bench_names) or 'none'}",
        engine=engine_spec(small, **o), big=engine_spec(big, **{**o, "endpoint": o["big_endpoint"] or o["endpoint"]}),
        benchmarks=bench_names,
        policies=tuple(p.label for p in parse_policies(o["policies"], o["ratios"], o["exact_ratio"])),
        thinking_budget=parse_budget(o["thinking_budget"]), solution_budget=parse_budget(o["solution_budget"]),
        span=o["span"], span_cap=o["span_cap"], open_tag=o["open_tag"], close_tag=o["close_tag"], samples=o["samples"],
        sampling=Sampling(temperature=o["temperature"], top_p=o["top_p"]), seed=o["seed"], limit=o["limit"],
        prompts=parse_prompts(o["prompt"]), data_dir=o["data_dir"], benchmark_options=benchmark_options(**o),
        max_inflight=o["max_inflight"], grade_timeout=o["grade_timeout"], grade_workers=o["grade_workers"],
        out_root=o["out_root"] or "results", profiles=tuple(o["profile"]) or ("splitreason-a6000",),
        small_cost=o["small_cost"], big_cost=o["big_cost"],
        small_params=parse_params(o["small_params"], "--small-params") if o["small_params"] else None,
        big_params=parse_params(o["big_params"], "--big-params") if o["big_params"] else None,
        benchmark_cards=cards,
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
