"""`evalkit sweep`: the options a sweep takes (from the shared vocabulary), flags -> a frozen SweepSpec -> the
streaming run, then the summary table; --dry-run prints the plan instead. `sweep_spec` also serves `evalkit.sweep()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.cli.app import console, out, parse_prompts, slug, split_list
from evalkit.cli.command import takes
from evalkit.cli.options import BENCHMARK, CONFIG_OPTS, ENGINE, OPTIONS, RUN_OPTS, SAMPLE
from evalkit.cli.output import (print_json, print_native_adherence, print_summary, stdout_to_stderr,
                                summary_records)
from evalkit.cli.sandbox import print_unsandboxed_note

if TYPE_CHECKING:
    from evalkit.config import EngineSpec, SweepSpec

# Every option of `evalkit sweep`, in --help order. offload-sim takes the same ENGINE and BENCHMARK groups.
SWEEP_OPTIONS = (
    "model", *BENCHMARK, "budgets", "solution_budget", "unconstrained", "strategy", "share_thinking", "close_text",
    "min_thinking", "prompt_cap", *SAMPLE, *ENGINE, *RUN_OPTS, "as_json", *CONFIG_OPTS, "dry_run", "profile",
)


@takes(*SWEEP_OPTIONS, help={"profile": "--dry-run: a cost profile (`evalkit calibrate` JSON or splitreason-a6000) "
                                        "for a time estimate."})
def sweep(**o: Any) -> None:
    """Run a model over benchmarks at several thinking budgets, grade, summarise and plot.

    Example: evalkit sweep --model smollm2-reasoner --benchmarks arith --budgets 8,16,32 --solution-budget 16

    Settings may come from --preset NAME (a published evaluation) and --config FILE.toml; flags override both.
    Each run writes its resolved settings to results/<name>/run.toml: `evalkit sweep --config` on it reruns it.
    """
    from evalkit.cli.settings import RUN_TOML, settings_toml

    spec = sweep_spec(**o)
    if o["dry_run"]:
        from evalkit.dryrun import plan_sweep, render

        print_settings(spec, o.get("preset"))
        out.print(render(plan_sweep(spec, o["profile"] or None), out.width))
        return
    from evalkit.sweep import run_sweep

    settings = settings_toml("sweep", o, SWEEP_OPTIONS)
    engine_log = None if o["verbose"] else (out,)
    kwargs = dict(allow_unsandboxed=o["allow_unsandboxed"], engine_log=engine_log, settings=(RUN_TOML, settings))
    if o["as_json"]:
        with stdout_to_stderr():  # engine logs (vLLM's, its worker processes') must not mix into the JSON
            result = run_sweep(spec, console, **kwargs)
        print_unsandboxed_note(result.run_dir, console)  # stdout carries the JSON alone
        print_json({"run_dir": str(result.run_dir), "generated": result.generated, "graded": result.graded,
                    "wall_seconds": round(result.wall_seconds, 3), "generated_tokens": result.generated_tokens,
                    "summary": summary_records(result.run_dir)})
        return
    result = run_sweep(spec, console, **kwargs)
    print_summary(result.run_dir)
    print_native_adherence(result.run_dir)
    print_unsandboxed_note(result.run_dir, out)
    out.print(
        f"[green]done[/]: {result.generated} new generations, {result.graded} graded, "
        f"{result.wall_seconds:.1f}s -> {result.run_dir}/ (summary.csv, plots/)"
    )


def print_settings(spec: "SweepSpec", preset: str | None) -> None:
    """--dry-run's head: what the run would do, in the user's terms (the table below says how much)."""
    from rich.table import Table

    from evalkit.benchmarks import get_benchmark
    from evalkit.config import budget_label

    t = Table.grid(padding=(0, 2))
    t.add_column(style="cyan", no_wrap=True)
    t.add_column(overflow="fold")
    budgets = ", ".join(budget_label(b) for b in spec.budgets) + (" + unconstrained" if spec.unconstrained else "")
    limit = f", context limit {spec.engine.max_model_len}" if spec.engine.max_model_len else ""
    t.add_row("model", f"{spec.engine.model} ({spec.engine.kind} engine{limit})")
    t.add_row("budgets", f"{', '.join(spec.strategy)}: thinking t = {budgets}; solution s = "
                         f"{budget_label(spec.solution_budget)}")
    t.add_row("sampling", f"{spec.samples} per problem, temperature {spec.sampling.temperature:g}, top-p "
                          f"{spec.sampling.top_p:g}, seed {spec.seed}")
    for name in spec.benchmarks:
        template = spec.prompts.get(name, spec.prompts.get("*", get_benchmark(name).default_prompt))
        t.add_row(f"prompt {name}", template.replace("{{", "{").replace("}}", "}"))
    out.print(f"[bold]plan of evalkit sweep[/]{f' (preset {preset})' if preset else ''}")
    out.print(t)


def sweep_spec(**o: Any) -> "SweepSpec":
    """The SweepSpec of `evalkit sweep`'s options (text as typed on the command line); `evalkit.sweep()` too.
    Options not given take their vocabulary default."""
    from evalkit.config import SweepSpec, parse_budget, parse_budget_list
    from evalkit.types import Sampling

    o = {n: o.get(n, OPTIONS[n].default) for n in SWEEP_OPTIONS}
    bench_names = split_list(o["benchmarks"])
    cards = register_cards(o["benchmark_card"])
    return SweepSpec(
        name=o["name"] or f"{slug(o['model'])}_{'-'.join(bench_names) or 'none'}",
        engine=engine_spec(o["model"], **o),
        benchmarks=bench_names,
        budgets=parse_budget_list(o["budgets"]) if o["budgets"].strip() else (),
        solution_budget=parse_budget(o["solution_budget"]),
        unconstrained=o["unconstrained"],
        strategy=o["strategy"],
        min_thinking=0 if o["min_thinking"].strip() == "0" else parse_budget(o["min_thinking"]),
        prompt_cap=o["prompt_cap"],
        close_text=o["close_text"],
        samples=o["samples"],
        sampling=Sampling(temperature=o["temperature"], top_p=o["top_p"]),
        seed=o["seed"],
        limit=o["limit"],
        share_thinking=o["share_thinking"],
        prompts=parse_prompts(o["prompt"]),
        data_dir=o["data_dir"],
        benchmark_options=benchmark_options(**o),
        max_inflight=o["max_inflight"],
        grade_timeout=o["grade_timeout"],
        grade_workers=o["grade_workers"],
        out_root=o["out_root"],
        benchmark_cards=cards,
    )


def engine_spec(for_model: str, /, **o: Any) -> "EngineSpec":
    """The ENGINE option group (shared by sweep and offload-sim) for one model."""
    from evalkit.config import EngineSpec

    return EngineSpec(
        kind=o["engine"], model=for_model, max_model_len=o["max_model_len"],
        gpu_memory_utilization=o["gpu_memory_utilization"], tensor_parallel_size=o["tensor_parallel_size"],
        pipeline_parallel_size=o["pipeline_parallel_size"], data_parallel_size=o["data_parallel_size"],
        endpoints=split_list(o["endpoint"]), tokenizer=o["tokenizer"], concurrency=o["concurrency"],
        retries=o["retries"], request_timeout=o["request_timeout"], device=o["device"],
        reasoning_parser=o["reasoning_parser"],
    )


def benchmark_options(**o: Any) -> dict[str, Any]:
    """What the BENCHMARK option group hands the benchmark loaders (arith generator, LiveCodeBench window, ...)."""
    return {
        "difficulty": o["arith_difficulty"], "count": o["arith_count"], "seed": o["arith_seed"],
        **{k: v for k, v in (("since", o["since"]), ("until", o["until"]), ("lcb_version", o["lcb_version"]),
                             ("cf_file", o["codeforces_file"]), ("cf_ids", o["codeforces_ids"])) if v},
    }


def register_cards(paths: list[str] | tuple) -> tuple[str, ...]:
    """--benchmark-card FILE...: make the cards' benchmarks known; the run remembers their absolute paths."""
    from evalkit.benchmarks import register_cards as register

    cards = tuple(str(Path(p).expanduser().resolve()) for p in paths)
    register(cards)
    return cards
